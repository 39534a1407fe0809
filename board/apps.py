"""The board: hopla's web front end for people (SPEC §12)."""

from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Board"
