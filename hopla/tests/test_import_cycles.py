"""The imports between modules of one app, read from the source with `ast`: no cycle, and none to a later app.

A cycle works only as long as each module finds what it needs of the other while that one is still
half-imported; an import moved into a function to dodge one hides it. Both kinds count here.
"""

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "tickets", "realtime", "hopla", "webhooks", "notifications"]
# Apps that consume the event table: they read from it, and tickets must not know them (STYLE).
EVENT_CONSUMERS = ["webhooks", "notifications", "board"]


class _Module:
    def __init__(self, path: Path, root: Path) -> None:
        parts = path.relative_to(root).with_suffix("").parts
        self.is_package = parts[-1] == "__init__"
        self.name = ".".join(parts[:-1] if self.is_package else parts)
        self.tree = ast.parse(path.read_text(), filename=str(path))

    def imports(self) -> Iterator[tuple[str, str | None]]:
        """Each name imported, at module level or inside a function, as (dotted name, fallback): for
        `from x import y`, ("x.y", "x"), since y is either module x.y or a name defined in module x.
        Relative imports are resolved against the module's package."""
        package = self.name if self.is_package else self.name.rpartition(".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, None
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    yield f"{base}.{alias.name}", base


def _app_modules(root: Path, app: str) -> dict[str, _Module]:
    """Every module of the app by dotted name, but its migrations and tests."""
    modules = (
        _Module(path, root)
        for path in sorted((root / app).rglob("*.py"))
        if not {"migrations", "tests"} & set(path.relative_to(root).parts)
    )
    return {module.name: module for module in modules}


def _import_graph(root: Path, app: str) -> dict[str, set[str]]:
    """Module → the other modules of the same app it imports."""
    modules = _app_modules(root, app)
    graph: dict[str, set[str]] = {}
    for module in modules.values():
        imported = {name if name in modules else fallback for name, fallback in module.imports()}
        graph[module.name] = {name for name in imported if name in modules and name != module.name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (its first module repeated at its end), or [] when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(reversed(error.args[1]))  # graphlib lists it against the arrows
    return []


@pytest.mark.parametrize("app", APPS)
def test_no_import_cycle_between_the_modules_of_an_app(app: str) -> None:
    graph = _import_graph(ROOT, app)
    assert sum(len(imported) for imported in graph.values()) > 3  # the app's modules and imports were found
    cycle = _cycle(graph)
    assert not cycle, f"import cycle in {app}: {' -> '.join(cycle)}"


def test_an_import_inside_a_function_makes_a_cycle_too(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "services").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "services" / "__init__.py").write_text("")
    (app / "jobs.py").write_text("from app.services import images\n")
    (app / "services" / "images.py").write_text("from . import other\n\ndef run():\n    from ..jobs import work\n")
    (app / "services" / "other.py").write_text("")
    graph = _import_graph(tmp_path, "app")
    assert graph["app.services.images"] == {"app.jobs", "app.services.other"}
    assert _cycle(graph) in (
        ["app.jobs", "app.services.images", "app.jobs"],
        ["app.services.images", "app.jobs", "app.services.images"],
    )


def test_tickets_imports_none_of_the_event_consumers() -> None:
    imports = sorted(
        (module.name, name)
        for module in _app_modules(ROOT, "tickets").values()
        for name, _ in module.imports()
        if name.split(".")[0] in EVENT_CONSUMERS
    )
    assert not imports, f"tickets imports an app that reads its events: {imports}"
