"""docker-compose.yml runs what the Procfile names, on healthy PostgreSQL and Redis, configured from .env,
and serves as written: checked statically (no Docker engine here) and by running its commands' settings,
migration, web server and healthcheck on this machine's PostgreSQL and Redis."""

import contextlib
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from bench.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = "python manage.py migrate --noinput"


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
    by compose itself, `$${VAR}` by the container's shell; both mean the Procfile's `${VAR}`).
    """
    words = shlex.split(command) if isinstance(command, str) else list(command)
    return [word.replace("$$", "$") for word in words]


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """`${VAR:-default}` filled as compose (from the shell and .env) and a shell (honcho) both do."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: variables.get(match[1]) or match[2], value)


def env_file(path: Path) -> dict[str, str]:
    """The variables an env file sets (commented-out examples are not set)."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def test_the_five_services_exist(services):
    assert {"migrate", "web", "worker", "postgres", "redis"} <= set(services)


def test_procfile_names_web_and_worker(procfile):
    assert set(procfile) == {"web", "worker"}


@pytest.mark.parametrize("process", ["web", "worker"])
def test_web_and_worker_run_the_procfile_commands(services, procfile, process):
    # In a container the server must listen on every interface: compose fixes the Procfile's default.
    expected = procfile[process].replace("${BIND_HOST:-0.0.0.0}", "0.0.0.0")
    assert command_words(services[process]["command"]) == shlex.split(expected)


def test_a_one_shot_service_migrates_before_web_and_worker_start(services):
    """Else the worker's sweeps could query tables that do not exist yet."""
    assert command_words(services["migrate"]["command"]) == shlex.split(MIGRATE)
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart", "no") == "no"
    for process in ("web", "worker"):
        assert services[process]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate" not in str(services[process]["command"])


@pytest.mark.parametrize("process", ["web", "worker"])
def test_web_and_worker_are_started_again_when_they_exit(services, process):
    # The worker exits 0 when it recycles itself: a policy restarting only failures would leave it stopped.
    assert services[process]["restart"] == "unless-stopped"


def test_the_worker_recycles_itself_after_worker_max_jobs(services):
    words = command_words(interpolate(services["worker"]["command"], {}))
    assert words[words.index("--max-jobs") + 1] == "1000"
    words = command_words(interpolate(services["worker"]["command"], {"WORKER_MAX_JOBS": "50"}))
    assert words[words.index("--max-jobs") + 1] == "50"


@pytest.mark.parametrize(("variables", "port"), [({}, "8000"), ({"PORT": "9123"}, "9123")])
def test_the_published_port_the_server_and_its_healthcheck_follow_port(services, variables, port):
    web = services["web"]
    assert [interpolate(mapping, variables) for mapping in web["ports"]] == [f"{port}:{port}"]
    assert f"--bind 0.0.0.0:{port}" in interpolate(web["command"], variables)
    assert f"'http://127.0.0.1:{port}/healthz'" in interpolate(" ".join(web["healthcheck"]["test"]), variables)


def test_compose_serves_plain_http_without_redirecting_it_to_https(services):
    """.env.example keeps production's secure default (a redirect); compose, serving plain HTTP, turns it off."""
    assert env_file(ROOT / ".env.example")["SECURE_SSL_REDIRECT"] == "true"
    for process in ("migrate", "web", "worker"):
        assert services[process]["environment"]["SECURE_SSL_REDIRECT"] == "false"


def test_the_image_leaves_local_state_and_secrets_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    expected = {".env", ".venv", ".git", "db.sqlite3", "media", "staticfiles", "**/__pycache__", ".mypy_cache"}
    assert expected <= ignored
    assert "!.env.example" in ignored


def test_the_image_build_collects_static_files_with_production_settings(tmp_path):
    """The Dockerfile's collectstatic step, run as `docker build` would (its ENV, its RUN line in `sh`)."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", "")
    image_env = dict(re.findall(r"(\w+)=(\S+)", re.findall(r"^ENV (.*)$", dockerfile, re.MULTILINE)[0]))
    [step] = [
        line.removeprefix("RUN ") for line in dockerfile.splitlines() if "collectstatic" in line and "RUN" in line
    ]
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **image_env, "STATIC_ROOT": str(tmp_path)}
    build = subprocess.run(["sh", "-c", step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "staticfiles.json").is_file()


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


def compose_env(service: Mapping, **overrides: str) -> dict[str, str]:
    """What a compose container of `service` gets: the env file (.env.example with a real secret, as the
    README says) under the service's own `environment`, then `overrides` for this machine."""
    variables = {**env_file(ROOT / ".env.example"), "SECRET_KEY": secrets.token_urlsafe(50)}
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **variables,
        **service["environment"],
        **overrides,
    }


def run(words: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_compose_environment_passes_the_deployment_checklist_but_for_plain_http(services):
    result = run([sys.executable, "manage.py", "check", "--deploy"], compose_env(services["web"]))
    assert result.returncode == 0, result.stderr
    warnings = re.findall(r"\(security\.(\w+)\)", result.stderr + result.stdout)
    assert warnings == ["W008"]  # SECURE_SSL_REDIRECT off: TLS ends in front of compose, by design


@pytest.fixture
def on_this_machine(services, tmp_path) -> dict[str, str]:
    """The compose environment pointed at this test run's PostgreSQL database and Redis, on a free port."""
    database = connection.settings_dict
    return compose_env(
        services["web"],
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        MEDIA_ROOT=str(tmp_path),
        PORT=str(free_port()),
    )


@pytest.fixture
def compose_web(services, on_this_machine) -> Iterator[subprocess.Popen[bytes]]:
    """The web service's command, interpolated as compose would, serving on this machine."""
    words = command_words(interpolate(services["web"]["command"], on_this_machine))
    server = subprocess.Popen(words, cwd=ROOT, env=on_this_machine, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield server
    server.terminate()
    server.wait(timeout=30)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is answered as the error it is here


@pytest.mark.django_db(transaction=True)  # the test database, which the compose processes migrate and serve
def test_the_compose_services_migrate_then_serve_plain_http_and_pass_their_healthcheck(
    services, on_this_machine, compose_web
):
    migrate = run(command_words(services["migrate"]["command"]), on_this_machine)
    assert migrate.returncode == 0, migrate.stderr
    healthcheck = [interpolate(word, on_this_machine) for word in services["web"]["healthcheck"]["test"][1:]]
    deadline = time.monotonic() + 60
    while (result := run(healthcheck, on_this_machine)).returncode != 0:
        assert "Connection refused" in result.stderr, result.stderr  # not listening yet; anything else fails
        with contextlib.suppress(subprocess.TimeoutExpired):
            compose_web.wait(timeout=0.2)  # the pause between tries, which notices a server that died starting
        assert compose_web.returncode is None, compose_web.stderr.read().decode() if compose_web.stderr else ""
        assert time.monotonic() < deadline, "the web service did not start listening"
    opener = urllib.request.build_opener(NoRedirects, urllib.request.ProxyHandler({}))
    base_url = f"http://127.0.0.1:{on_this_machine['PORT']}"
    with opener.open(f"{base_url}/readyz", timeout=10) as ready:
        assert ready.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{base_url}/api/v1/auth/me/", timeout=10)
    assert refused.value.code == 401  # the API itself, over plain HTTP: no redirect to https
