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
call_command("migrate", verbosity=0)
from rest_framework.test import APIClient
from accounts.models import User
from tickets.models import Event, EventCounter

password = "a-long-enough-password-1"
for email in ("admin@x.io", "member@x.io", "outsider@x.io"):
    User.objects.create_user(email, password, full_name=email.split("@")[0])
client = APIClient()
login = client.post("/api/v1/auth/login/", {"email": "admin@x.io", "password": password}, format="json")
client.credentials(HTTP_AUTHORIZATION="Bearer " + login.json()["access"])
out = {"project": client.post("/api/v1/projects/", {"key": "OPS", "name": "Ops"}, format="json").status_code}
out["member"] = client.post("/api/v1/projects/OPS/members/", {"user": "member@x.io"}, format="json").status_code
member_id = str(User.objects.get(email="member@x.io").pk)
first = client.post("/api/v1/tickets/", {"project": "OPS", "title": " One "}, format="json")
outsider = client.post(
    "/api/v1/tickets/", {"project": "OPS", "title": "X", "assignee": str(User.objects.get(email="outsider@x.io").pk)},
    format="json",
)
second = client.post("/api/v1/tickets/", {"project": "OPS", "title": "Two", "assignee": member_id}, format="json")
out["created"] = [first.status_code, outsider.status_code, second.status_code]
out["outsider_code"] = outsider.json().get("errors", {}).get("assignee", [{}])[0].get("code")
out["keys"] = [first.json()["key"], second.json()["key"]]
out["title"] = first.json()["title"]
out["get_equals_post"] = client.get("/api/v1/tickets/OPS-2/").json() == second.json()
out["event_equals_post"] = Event.objects.get(ticket=second.json()["id"]).data == second.json()
out["patch"] = client.patch("/api/v1/tickets/OPS-1/", {"status": "in_progress"}, format="json").status_code
out["comment"] = client.post("/api/v1/tickets/OPS-1/comments/", {"body": "Hi"}, format="json").status_code
history = client.get("/api/v1/tickets/OPS-1/history/").json()["results"]
out["history"] = [event["type"] for event in history]
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
    assert out["project"] == 201
    assert out["member"] == 201
    assert out["created"] == [201, 400, 201]
    assert out["outsider_code"] == "not_a_member"
    assert out["keys"] == ["OPS-1", "OPS-2"]  # the refused creation took no number
    assert out["title"] == "One"
    assert out["get_equals_post"]
    assert out["event_equals_post"]
    assert out["patch"] == 200
    assert out["comment"] == 201
    assert out["history"] == ["ticket.created", "ticket.updated", "comment.created"]
    # every event so far (the project's and the new member's, two creations, the update, the comment): 1..6
    assert out["seqs"] == list(range(1, 7))
    assert out["counter"] == 6
