"""Board pages: thin views over the API's selectors (board.access turns their refusals into pages')."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from board.access import page_lookup
from tickets import selectors


def _user(request: HttpRequest) -> User:
    """The signed-in user; every page here is behind login_required."""
    assert isinstance(request.user, User)
    return request.user


@login_required
def project_list_page(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list(user=_user(request))
    return render(request, "board/projects.html", {"projects": projects})


@login_required
def board_page(request: HttpRequest, project_key: str) -> HttpResponse:
    project = page_lookup(selectors.project_get, user=_user(request), reference=project_key)
    return render(request, "board/board.html", {"project": project})
