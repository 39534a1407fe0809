"""docker-compose.yml runs what the Procfile names, on healthy PostgreSQL and Redis, configured from .env."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MIGRATE_FIRST = "python manage.py migrate --noinput"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.fixture(scope="module")
def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def command_words(command: str | list[str]) -> list[str]:
    """The words a compose `command` runs, normalised to compare with a Procfile line.

    Compose splits a string command like a shell would and escapes `$` as `$$` (a `${VAR}` is filled
    by compose itself, `$${VAR}` by the container's shell; both mean the Procfile's `${VAR}`). The web
    service may wrap its command in `sh -c "python manage.py migrate --noinput && <Procfile command>"`,
    so that the schema is up to date before the server starts: the migration is stripped here.
    """
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        script = words[2]
        if script.startswith(f"{MIGRATE_FIRST} && "):
            script = script.removeprefix(f"{MIGRATE_FIRST} && ")
        words = shlex.split(script)
    return [word.replace("$$", "$") for word in words]


def test_the_four_services_exist(services):
    assert {"web", "worker", "postgres", "redis"} <= set(services)


def test_procfile_names_web_and_worker(procfile):
    assert set(procfile) == {"web", "worker"}


@pytest.mark.parametrize("process", ["web", "worker"])
def test_web_and_worker_run_the_procfile_commands(services, procfile, process):
    assert command_words(services[process]["command"]) == shlex.split(procfile[process])


def test_only_web_may_migrate_first(services):
    assert MIGRATE_FIRST not in str(services["worker"]["command"])


@pytest.mark.parametrize("backing", ["postgres", "redis"])
def test_backing_services_have_healthchecks(services, backing):
    healthcheck = services[backing].get("healthcheck")
    assert healthcheck
    assert healthcheck.get("test")


@pytest.mark.parametrize("process", ["web", "worker"])
def test_web_and_worker_wait_for_healthy_backing_services(services, process):
    depends_on = services[process]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on must be the long form, with conditions"
    for backing in ("postgres", "redis"):
        assert depends_on[backing]["condition"] == "service_healthy"


def test_postgres_keeps_its_data_in_a_named_volume(services):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    named_volumes = set(compose.get("volumes") or {})
    mounts = services["postgres"].get("volumes", [])
    sources = {
        (mount["source"], mount["target"]) if isinstance(mount, dict) else tuple(mount.split(":")[:2])
        for mount in mounts
    }
    assert any(source in named_volumes and target == "/var/lib/postgresql/data" for source, target in sources)


@pytest.mark.parametrize("process", ["web", "worker"])
def test_web_and_worker_read_dot_env(services, process):
    env_file = services[process].get("env_file")
    env_files = [env_file] if isinstance(env_file, str | dict) else env_file or []
    paths = [entry["path"] if isinstance(entry, dict) else entry for entry in env_files]
    assert ".env" in paths or "./.env" in paths


def documented_variables() -> set[str]:
    """Names set or shown commented out (`# NAME=example`) in .env.example."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


@pytest.mark.parametrize("process", ["web", "worker"])
def test_every_app_variable_compose_sets_is_documented(services, process):
    # Only hopla's own processes: the postgres and redis images read their own variables
    # (POSTGRES_USER...), documented by those images, not by hopla's .env.example.
    environment = services[process].get("environment") or {}
    names = set(environment) if isinstance(environment, dict) else {entry.split("=", 1)[0] for entry in environment}
    assert names
    assert names - documented_variables() == set()
