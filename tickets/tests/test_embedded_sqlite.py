"""The embedded default (SQLite, `make run`) writes tickets and events by its own path (no data-modifying
WITH there): the same API, run in a process of its own on a fresh SQLite file."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from rest_framework.test import APIClient
from accounts.models import User
from tickets.models import Event, EventCounter

password = "a-long-enough-password-1"
clients = {}
for name in ("admin", "member", "viewer", "outsider"):
    User.objects.create_user(f"{name}@x.io", password, full_name=name)
    clients[name] = APIClient()
    login = clients[name].post("/api/v1/auth/login/", {"email": f"{name}@x.io", "password": password}, format="json")
    clients[name].credentials(HTTP_AUTHORIZATION="Bearer " + login.json()["access"])
admin = clients["admin"]
out = {"vendor": connection.vendor}
out["project"] = admin.post("/api/v1/projects/", {"key": "OPS", "name": "Ops"}, format="json").status_code
out["members"] = [
    admin.post("/api/v1/projects/OPS/members/", {"user": f"{name}@x.io", "role": name}, format="json").status_code
    for name in ("member", "viewer")
]


def create(name, **fields):
    response = clients[name].post("/api/v1/tickets/", {"project": "OPS", "title": "T", **fields}, format="json")
    body = response.json()
    return response.status_code, body.get("key") or [
        error["code"] for errors in body.get("errors", {}).values() for error in errors
    ] or body["code"]


out["refused"] = [
    create("viewer"),
    create("outsider"),
    create("member", assignee=str(User.objects.get(email="outsider@x.io").pk)),
    create("member", assignee="nobody@x.io"),
    create("member", status="in_progress"),
]
first = admin.post("/api/v1/tickets/", {"project": "OPS", "title": " One ", "assignee": "me"}, format="json")
second = clients["member"].post(
    "/api/v1/tickets/", {"project": "OPS", "title": "Two", "assignee": "Member@X.io"}, format="json"
)
out["created"] = [first.status_code, second.status_code]
out["keys"] = [first.json()["key"], second.json()["key"]]
out["title"] = first.json()["title"]
out["assignees"] = [first.json()["assignee"]["email"], second.json()["assignee"]["email"]]
# Read by whoever created it: `is_watching` is the reader's own.
out["get_equals_post"] = clients["member"].get("/api/v1/tickets/OPS-2/").json() == second.json()
# The event carries the ticket as everyone sees it: without the reader's watching fields.
reader_fields = {"is_watching", "watcher_count"}
out["event_equals_post"] = Event.objects.get(ticket=second.json()["id"]).data == {
    name: value for name, value in second.json().items() if name not in reader_fields
}


def move(status, **headers):
    return clients["member"].patch("/api/v1/tickets/OPS-1/", {"status": status}, format="json", **headers).status_code


out["moves"] = [
    move("in_progress"),
    move("closed"),
    move("resolved", HTTP_IF_MATCH='"1"'),
    move("resolved", HTTP_IF_MATCH='"2"'),
    move("closed", HTTP_IF_MATCH='"3"'),
]
closed = admin.get("/api/v1/tickets/OPS-1/").json()
out["closed"] = [closed["status"], closed["version"], closed["closed_at"] is not None]
out["comment"] = clients["member"].post("/api/v1/tickets/OPS-1/comments/", {"body": "Hi"}, format="json").status_code
history = admin.get("/api/v1/tickets/OPS-1/history/").json()["results"]
out["history"] = [event["type"] for event in history]
out["changes"] = history[1]["changes"]["status"]
out["deleted"] = [
    admin.delete("/api/v1/tickets/OPS-2/", HTTP_IF_MATCH='"9"').status_code,
    admin.delete("/api/v1/tickets/OPS-2/", HTTP_IF_MATCH='"1"').status_code,
]
out["third"] = create("member")
out["seqs"] = list(Event.objects.order_by("seq").values_list("seq", flat=True))
out["counter"] = EventCounter.objects.get().last
print(json.dumps(out))
"""


def test_tickets_comments_and_numbered_events_on_the_embedded_sqlite_default(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "hopla.settings.local",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["vendor"] == "sqlite"
    assert out["project"] == 201
    assert out["members"] == [201, 201]
    assert out["refused"] == [
        [403, "permission_denied"],
        [400, ["does_not_exist"]],  # a project the outsider cannot see, named in the body
        [400, ["not_a_member"]],
        [400, ["does_not_exist"]],
        [400, ["status_on_create"]],
    ]
    assert out["created"] == [201, 201]
    assert out["keys"] == ["OPS-1", "OPS-2"]  # the refused creations took no number
    assert out["title"] == "One"
    assert out["assignees"] == ["admin@x.io", "member@x.io"]  # "me", and an email in any case
    assert out["get_equals_post"]
    assert out["event_equals_post"]
    # in_progress; closed is no workflow move; a stale If-Match; then resolved and closed at the right versions
    assert out["moves"] == [200, 409, 412, 200, 200]
    assert out["closed"] == ["closed", 4, True]
    assert out["comment"] == 201
    assert out["history"] == ["ticket.created", "ticket.updated", "ticket.updated", "ticket.updated", "comment.created"]
    assert out["changes"] == ["open", "in_progress"]
    assert out["deleted"] == [412, 204]
    assert out["third"] == [201, "OPS-3"]  # numbers are never reused
    # every event (the project's, two members added, two creations, three updates, the comment, the
    # deletion, the third creation): numbered 1..11 with no gap, as on PostgreSQL
    assert out["seqs"] == list(range(1, 12))
    assert out["counter"] == 11
