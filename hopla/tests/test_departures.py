"""DEPARTURES.md stays true: the libraries installed are the versions its entries were checked against,
and every file and guard test it names exists."""

import ast
import functools
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPARTURES = ROOT / "DEPARTURES.md"

_PIN = re.compile(r"`([A-Za-z0-9][A-Za-z0-9._-]*)==([^`\s]+)`")
# A file of the repository, in backticks, optionally with the test it defines: `path/to/test_x.py::test_y`.
_FILE = re.compile(r"`([\w./-]+\.(?:py|md|txt|yml|toml))(?:::(\w+))?`")


def _distribution(name: str) -> str:
    """A distribution name as package indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, pinned, pinned_version = requirement.partition("==")
            assert pinned, f"requirements.txt pins every runtime dependency with ==, not {line!r}"
            pins[_distribution(name.split("[", 1)[0])] = pinned_version.strip()
    return pins


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _entries() -> dict[str, str]:
    """Each entry of DEPARTURES.md (a `###` section) by its heading."""
    sections = re.split(r"^### ", DEPARTURES.read_text(), flags=re.MULTILINE)[1:]
    return {section.splitlines()[0]: section for section in sections}


def _row(entry: str, name: str) -> str:
    rows = [line for line in entry.splitlines() if line.startswith(f"| {name} |")]
    assert len(rows) == 1, f"DEPARTURES.md: an entry has {len(rows)} '{name}' rows:\n{entry[:200]}"
    return rows[0]


@functools.cache
def _defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, definitions)}


def test_the_installed_libraries_are_the_versions_the_departures_were_checked_against() -> None:
    pins = _requirements_pins()
    to_check: dict[str, list[str]] = {}
    for heading, entry in _entries().items():
        for name, checked in _PIN.findall(_row(entry, "Checked against")):
            distribution = _distribution(name)
            pinned, installed = pins.get(distribution), _installed(distribution)
            if not checked == pinned == installed:
                change = f"{name}: checked against {checked}, pinned {pinned}, installed {installed}"
                to_check.setdefault(change, []).append(heading)
    assert not to_check, (
        "A library that hopla departs from is not the version DEPARTURES.md was checked against. Re-check "
        "these entries of DEPARTURES.md (the private names they list, their guard tests, the library's "
        "changelog), then pin the version in requirements.txt and write it in their 'Checked against' row:\n"
        + "\n".join(f"- {change}\n  " + "\n  ".join(headings) for change, headings in to_check.items())
    )


def test_every_entry_is_complete() -> None:
    entries = _entries()
    assert len(entries) >= 12
    for heading, entry in entries.items():
        for name in ("Replaces", "Private names", "Checked against", "Guards", "Gain", "Remove"):
            assert _row(entry, name).removeprefix(f"| {name} |").strip(" |"), f"{heading}: empty '{name}'"
        guards = [test for path, test in _FILE.findall(_row(entry, "Guards")) if "/tests/" in path and test]
        assert guards, f"{heading}: no guard test named as `path/to/test_file.py::test_name`"


def test_every_file_and_guard_test_departures_names_exists() -> None:
    """Every name but the files of departures that were removed (their section tells where they went)."""
    current = DEPARTURES.read_text().split("\n## Removed", 1)[0]
    removed = DEPARTURES.read_text()[len(current) :]
    missing = []
    for path, name in _FILE.findall(current) + [found for found in _FILE.findall(removed) if found[1]]:
        file = ROOT / path
        if not file.is_file():
            missing.append(f"{path} (no such file)")
        elif name and name not in _defined_names(file):
            missing.append(f"{path}::{name} (not defined in that file)")
    assert not missing, "DEPARTURES.md names what is not there; update it:\n" + "\n".join(missing)
