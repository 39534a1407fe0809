"""Writes postman_collection.json: every hopla endpoint, in an order that runs green on a fresh server.

    .venv/bin/python scripts/build_postman_collection.py

Edit this file, not the JSON: the collection is generated so that requests stay uniform (auth, headers,
test scripts). `make test` runs the result with newman against a live server and worker
(scripts/run_postman.sh).
"""

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def url(path: str) -> dict[str, Any]:
    """Postman's URL object for `{{baseUrl}}<path>`, query string included."""
    route, _, query = path.partition("?")
    segments = route.strip("/").split("/")
    if route.endswith("/"):
        segments.append("")  # Postman writes a trailing slash as an empty last segment
    result: dict[str, Any] = {"raw": "{{baseUrl}}" + path, "host": ["{{baseUrl}}"], "path": segments}
    if query:
        result["query"] = [dict(zip(("key", "value"), item.split("=", 1), strict=True)) for item in query.split("&")]
    return result


def request(
    name: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    tests: list[str],
    pre: list[str] | None = None,
    anonymous: bool = False,
    headers: dict[str, str] | None = None,
    form: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "request": {
            "method": method,
            "header": [{"key": key, "value": value} for key, value in (headers or {}).items()],
            "url": url(path),
        },
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}],
    }
    if body is not None:
        item["request"]["header"].append({"key": "Content-Type", "value": "application/json"})
        item["request"]["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2)}
    if form is not None:
        item["request"]["body"] = {"mode": "formdata", "formdata": form}
    if anonymous:
        item["request"]["auth"] = {"type": "noauth"}
    if pre:
        item["event"].insert(0, {"listen": "prerequest", "script": {"type": "text/javascript", "exec": pre}})
    return item


def status(code: int) -> list[str]:
    return [f"pm.test('status {code}', () => pm.response.to.have.status({code}));"]


def error(code: int, error_code: str) -> list[str]:
    return [
        *status(code),
        "pm.test('contract error body', () => {",
        "  const body = pm.response.json();",
        "  pm.expect(body).to.have.property('detail');",
        f"  pm.expect(body.code).to.eql('{error_code}');",
        "});",
    ]


def keys(*names: str) -> list[str]:
    listed = ", ".join(f"'{name}'" for name in names)
    return [f"pm.test('shape', () => pm.expect(pm.response.json()).to.have.all.keys({listed}));"]


def save(variable: str, expression: str) -> list[str]:
    return [f"pm.collectionVariables.set('{variable}', {expression});"]


USER = ("id", "email", "full_name", "date_joined", "notification_email")
PROJECT = ("id", "key", "name", "description", "created_by", "created_at", "updated_at", "my_role")
MEMBER = ("user", "role", "joined_at")
INVITATION = ("id", "email", "role", "invited_by", "created_at", "expires_at")
TICKET = (
    "id", "key", "project", "title", "description", "status", "priority", "labels", "assignee", "reporter",
    "due_date", "version", "comment_count", "image_count", "created_at", "updated_at", "closed_at", "is_watching",
    "watcher_count",
)  # fmt: skip
COMMENT = ("id", "ticket", "author", "body", "created_at", "updated_at")
IMAGE = (
    "id", "ticket", "status", "original_filename", "content_type", "bytes", "width", "height", "format", "url",
    "thumbnail_url", "error", "uploaded_by", "created_at", "processed_at",
)  # fmt: skip
EVENT = ("id", "seq", "type", "project", "ticket", "actor", "at", "changes", "data")
WEBHOOK = (
    "id", "project", "url", "events", "description", "active", "created_by", "created_at", "updated_at",
    "disabled_reason", "last_success_at", "last_failure_at",
)  # fmt: skip
DELIVERY = (
    "id", "webhook", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_status_code",
    "last_duration_ms", "last_error", "created_at", "delivered_at",
)  # fmt: skip
DELIVERY_DETAIL = (*DELIVERY, "request_body", "response")
PAGE = ("count", "next", "previous", "results")
NOTIFICATION = ("id", "reason", "event", "ticket", "project", "read_at", "created_at")

JSON_BODY = "const body = pm.response.json();"

operations = [
    request("Liveness", "GET", "/healthz", anonymous=True, tests=[*status(200), *keys("status")]),
    request("Readiness", "GET", "/readyz", anonymous=True, tests=[*status(200), *keys("status", "checks")]),
    request("OpenAPI schema", "GET", "/api/schema/?format=json", anonymous=True, tests=status(200)),
    request(
        "Swagger UI",
        "GET",
        "/swagger/",
        anonymous=True,
        tests=[*status(200), "pm.test('no CDN', () => pm.expect(pm.response.text()).to.not.include('cdn.'));"],
    ),
    request("Redoc", "GET", "/redoc/", anonymous=True, tests=status(200)),
    request("Unknown API path is JSON 404", "GET", "/api/v1/nothing/", anonymous=True, tests=error(404, "not_found")),
]

auth = [
    request(
        "Register",
        "POST",
        "/api/v1/auth/register/",
        anonymous=True,
        pre=[
            "const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);",
            "pm.collectionVariables.set('run', run);",
            "pm.collectionVariables.set('email', `ann-${run}@example.com`);",
            "pm.collectionVariables.set('otherEmail', `bob-${run}@example.com`);",
            "pm.collectionVariables.set('password', 'Zq-' + Math.random().toString(36).slice(2) + '-river-lamp');",
            "const key = ('PM' + run.replace(/[^a-z0-9]/g, '')).toUpperCase().slice(0, 10);",
            "pm.collectionVariables.set('projectKey', key);",
        ],
        body={"email": "{{email}}", "password": "{{password}}", "full_name": "Ann Postman"},
        tests=[*status(201), *keys(*USER), JSON_BODY, *save("userId", "body.id")],
    ),
    request(
        "Register a second user",
        "POST",
        "/api/v1/auth/register/",
        anonymous=True,
        body={"email": "{{otherEmail}}", "password": "{{password}}", "full_name": "Bob Postman"},
        tests=[
            *status(201),
            JSON_BODY,
            *save("otherUserId", "body.id"),
            # Kept apart: `password` follows the first user's password change.
            *save("otherPassword", "pm.collectionVariables.get('password')"),
        ],
    ),
    request(
        "Register with a taken email",
        "POST",
        "/api/v1/auth/register/",
        anonymous=True,
        body={"email": "{{email}}", "password": "{{password}}", "full_name": "Again"},
        tests=[
            *error(400, "invalid"),
            "pm.test('names email', () => pm.expect(pm.response.json().errors).to.have.property('email'));",
        ],
    ),
    request(
        "Login",
        "POST",
        "/api/v1/auth/login/",
        anonymous=True,
        body={"email": "{{email}}", "password": "{{password}}"},
        tests=[
            *status(200),
            *keys("access", "refresh"),
            JSON_BODY,
            *save("accessToken", "body.access"),
            *save("refreshToken", "body.refresh"),
        ],
    ),
    request(
        "Login with a wrong password",
        "POST",
        "/api/v1/auth/login/",
        anonymous=True,
        body={"email": "{{email}}", "password": "wrong"},
        tests=error(401, "no_active_account"),
    ),
    request("Me", "GET", "/api/v1/auth/me/", tests=[*status(200), *keys(*USER)]),
    request(
        "Update my name",
        "PATCH",
        "/api/v1/auth/me/",
        body={"full_name": "Ann P. Postman"},
        tests=[
            *status(200),
            "pm.test('renamed', () => pm.expect(pm.response.json().full_name).to.eql('Ann P. Postman'));",
        ],
    ),
    request(
        "Refresh (rotates)",
        "POST",
        "/api/v1/auth/refresh/",
        anonymous=True,
        body={"refresh": "{{refreshToken}}"},
        tests=[
            *status(200),
            JSON_BODY,
            *save("oldRefreshToken", "pm.collectionVariables.get('refreshToken')"),
            *save("accessToken", "body.access"),
            *save("refreshToken", "body.refresh"),
        ],
    ),
    request(
        "Refresh with the rotated-out token",
        "POST",
        "/api/v1/auth/refresh/",
        anonymous=True,
        body={"refresh": "{{oldRefreshToken}}"},
        tests=error(401, "token_not_valid"),
    ),
    request(
        "Password reset request",
        "POST",
        "/api/v1/auth/password/reset/",
        anonymous=True,
        body={"email": "{{email}}"},
        tests=status(202),
    ),
    request(
        "Password reset confirm with a forged token",
        "POST",
        "/api/v1/auth/password/reset/confirm/",
        anonymous=True,
        body={"uid": "forged", "token": "forged", "new_password": "whatever-pass-123"},
        tests=error(400, "invalid"),
    ),
    request(
        "Password change",
        "POST",
        "/api/v1/auth/password/change/",
        body={"old_password": "{{password}}", "new_password": "{{password}}-new"},
        tests=[*status(204), *save("password", "pm.collectionVariables.get('password') + '-new'")],
    ),
    request(
        "Login with the new password",
        "POST",
        "/api/v1/auth/login/",
        anonymous=True,
        body={"email": "{{email}}", "password": "{{password}}"},
        tests=[*status(200), JSON_BODY, *save("accessToken", "body.access"), *save("refreshToken", "body.refresh")],
    ),
]

projects = [
    request(
        "Create a project",
        "POST",
        "/api/v1/projects/",
        body={"key": "{{projectKey}}", "name": "Postman project", "description": "Made by the collection"},
        tests=[
            *status(201),
            *keys(*PROJECT),
            JSON_BODY,
            "pm.test('admin', () => pm.expect(body.my_role).to.eql('admin'));",
            *save("projectId", "body.id"),
        ],
    ),
    request("List my projects", "GET", "/api/v1/projects/", tests=[*status(200), *keys(*PAGE)]),
    request("Get the project by id", "GET", "/api/v1/projects/{{projectId}}/", tests=[*status(200), *keys(*PROJECT)]),
    request("Get the project by key", "GET", "/api/v1/projects/{{projectKey}}/", tests=[*status(200), *keys(*PROJECT)]),
    request(
        "Edit the project",
        "PATCH",
        "/api/v1/projects/{{projectId}}/",
        body={"description": "Edited by the collection"},
        tests=[*status(200), *keys(*PROJECT)],
    ),
    request(
        "The key cannot change",
        "PATCH",
        "/api/v1/projects/{{projectId}}/",
        body={"key": "OTHER"},
        tests=error(400, "invalid"),
    ),
    request(
        "Add a member by email",
        "POST",
        "/api/v1/projects/{{projectId}}/members/",
        body={"user": "{{otherEmail}}", "role": "member"},
        tests=[*status(201), *keys(*MEMBER)],
    ),
    request(
        "Add someone who is neither a user nor an email",
        "POST",
        "/api/v1/projects/{{projectId}}/members/",
        body={"user": "nobody@"},
        tests=error(400, "invalid"),
    ),
    request(
        "Invite an email that has no account",
        "POST",
        "/api/v1/projects/{{projectId}}/members/",
        body={"user": "carol-{{run}}@example.com", "role": "viewer"},
        tests=[
            *status(201),
            *keys(*INVITATION),
            "const body = pm.response.json();",
            "pm.test('viewer', () => pm.expect(body.role).to.eql('viewer'));",
            *save("invitationId", "body.id"),
        ],
    ),
    request(
        "Invite it again: the open invitation is refreshed and sent again",
        "POST",
        "/api/v1/projects/{{projectId}}/members/",
        body={"user": "Carol-{{run}}@example.com", "role": "member"},
        tests=[
            *status(200),
            *keys(*INVITATION),
            "const body = pm.response.json();",
            "pm.test('same invitation', () => pm.expect(body.id).to.eql(pm.collectionVariables.get('invitationId')));",
            "pm.test('new role', () => pm.expect(body.role).to.eql('member'));",
        ],
    ),
    request(
        "List pending invitations",
        "GET",
        "/api/v1/projects/{{projectId}}/invitations/",
        tests=[
            *status(200),
            *keys(*PAGE),
            "pm.test('listed', () => pm.expect(pm.response.json().results.map((i) => i.id))"
            ".to.include(pm.collectionVariables.get('invitationId')));",
        ],
    ),
    request(
        "Register with a changed invitation link",
        "POST",
        "/api/v1/auth/register/",
        anonymous=True,
        body={
            "email": "carol-{{run}}@example.com",
            "password": "{{password}}",
            "full_name": "Carol Postman",
            "invitation": "{{invitationId}}:not-our-signature",
        },
        tests=error(400, "invitation_invalid"),
    ),
    request(
        "Revoke the invitation",
        "DELETE",
        "/api/v1/projects/{{projectId}}/invitations/{{invitationId}}/",
        tests=status(204),
    ),
    request(
        "A revoked invitation is no longer pending",
        "DELETE",
        "/api/v1/projects/{{projectId}}/invitations/{{invitationId}}/",
        tests=error(404, "not_found"),
    ),
    request("List members", "GET", "/api/v1/projects/{{projectId}}/members/", tests=[*status(200), *keys(*PAGE)]),
    request(
        "Get a member",
        "GET",
        "/api/v1/projects/{{projectId}}/members/{{otherUserId}}/",
        tests=[*status(200), *keys(*MEMBER)],
    ),
    request(
        "Change a member's role",
        "PATCH",
        "/api/v1/projects/{{projectId}}/members/{{otherUserId}}/",
        body={"role": "viewer"},
        tests=[*status(200), "pm.test('viewer', () => pm.expect(pm.response.json().role).to.eql('viewer'));"],
    ),
    request(
        "The last admin cannot step down",
        "PATCH",
        "/api/v1/projects/{{projectId}}/members/{{userId}}/",
        body={"role": "member"},
        tests=error(409, "last_admin"),
    ),
]

tickets = [
    request(
        "Create a ticket",
        "POST",
        "/api/v1/tickets/",
        body={
            "project": "{{projectKey}}",
            "title": "Printer on fire",
            "description": "Smoke coming out of the paper tray",
            "priority": "high",
            "labels": ["Hardware", "office"],
            "assignee": "me",
            "due_date": "2031-01-31",
        },
        tests=[
            *status(201),
            *keys(*TICKET),
            JSON_BODY,
            "pm.test('me', () => pm.expect(body.assignee.id).to.eql(pm.collectionVariables.get('userId')));",
            "pm.test('first key', () => pm.expect(body.key).to.eql(pm.collectionVariables.get('projectKey') + '-1'));",
            "pm.test('labels normalised', () => pm.expect(body.labels).to.eql(['hardware', 'office']));",
            "pm.test('ETag', () => pm.expect(pm.response.headers.get('ETag')).to.eql('\"1\"'));",
            *save("ticketId", "body.id"),
            *save("ticketKey", "body.key"),
        ],
    ),
    request(
        "Assign by email (no change: the same user)",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/",
        body={"assignee": "{{email}}"},
        tests=[
            *status(200),
            JSON_BODY,
            "pm.test('same assignee', () => pm.expect(body.assignee.id).to.eql(pm.collectionVariables.get('userId')));",
            "pm.test('still version 1', () => pm.expect(body.version).to.eql(1));",
        ],
    ),
    request(
        "Create with a status (tickets start open)",
        "POST",
        "/api/v1/tickets/",
        body={"project": "{{projectKey}}", "title": "x", "status": "closed"},
        tests=[
            *error(400, "invalid"),
            JSON_BODY,
            "pm.test('status_on_create', () => pm.expect(body.errors.status[0].code).to.eql('status_on_create'));",
        ],
    ),
    request(
        "Create with a bad priority",
        "POST",
        "/api/v1/tickets/",
        body={"project": "{{projectKey}}", "title": "x", "priority": "meh"},
        tests=error(400, "invalid"),
    ),
    request("Get the ticket by key", "GET", "/api/v1/tickets/{{ticketKey}}/", tests=[*status(200), *keys(*TICKET)]),
    request("Get the ticket by id", "GET", "/api/v1/tickets/{{ticketId}}/", tests=[*status(200), *keys(*TICKET)]),
    request(
        "List with filters",
        "GET",
        "/api/v1/tickets/?project={{projectKey}}&status=open,in_progress&priority=high,urgent&assignee=me&label=hardware&search=printer&ordering=-priority,due_date",
        tests=[*status(200), *keys(*PAGE), "pm.test('finds it', () => pm.expect(pm.response.json().count).to.eql(1));"],
    ),
    request(
        "List with filters, answered with its ETag",
        "GET",
        "/api/v1/tickets/?project={{projectKey}}&ordering=-priority",
        tests=[
            *status(200),
            "pm.test('an ETag', () => pm.expect(pm.response.headers.get('ETag')).to.match(/^\"[0-9a-f]{32}\"$/));",
            "pm.collectionVariables.set('listEtag', pm.response.headers.get('ETag'));",
        ],
    ),
    request(
        "The same list with If-None-Match: 304, nothing changed",
        "GET",
        "/api/v1/tickets/?project={{projectKey}}&ordering=-priority",
        headers={"If-None-Match": "{{listEtag}}"},
        tests=[
            *status(304),
            "pm.test('same ETag', () => pm.expect(pm.response.headers.get('ETag')).to.eql("
            "pm.collectionVariables.get('listEtag')));",
        ],
    ),
    request(
        "List by cursor (keyset pages, no count)",
        "GET",
        "/api/v1/tickets/?project={{projectKey}}&ordering=-priority&limit=1&cursor=",
        tests=[
            *status(200),
            *keys("next", "previous", "results"),
            "pm.test('one ticket, first page', () => {",
            "  const body = pm.response.json();",
            "  pm.expect(body.results).to.have.lengthOf(1);",
            "  pm.expect(body.previous).to.eql(null);",
            "});",
        ],
    ),
    request(
        "A bad filter value is a 400 naming it",
        "GET",
        "/api/v1/tickets/?status=sleeping",
        tests=[
            *error(400, "invalid"),
            "pm.test('names status', () => pm.expect(pm.response.json().errors).to.have.property('status'));",
        ],
    ),
    request(
        "Edit with a fresh If-Match",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/",
        headers={"If-Match": '"1"'},
        body={"title": "Printer was on fire"},
        tests=[*status(200), "pm.test('version 2', () => pm.expect(pm.response.json().version).to.eql(2));"],
    ),
    request(
        "Edit with a stale If-Match",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/",
        headers={"If-Match": '"1"'},
        body={"title": "Lost update"},
        tests=error(412, "precondition_failed"),
    ),
    request(
        "Start work (open → in_progress)",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/",
        body={"status": "in_progress"},
        tests=[
            *status(200),
            "pm.test('in progress', () => pm.expect(pm.response.json().status).to.eql('in_progress'));",
        ],
    ),
    request(
        "A move the workflow forbids",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/",
        body={"status": "closed"},
        tests=[
            *error(409, "invalid_transition"),
            "pm.test('lists targets', () => pm.expect(pm.response.json().allowed).to.eql(['open', 'resolved']));",
        ],
    ),
    request(
        "History",
        "GET",
        "/api/v1/tickets/{{ticketId}}/history/",
        tests=[
            *status(200),
            JSON_BODY,
            "const types = body.results.map(event => event.type);",
            "const expected = ['ticket.created', 'ticket.updated', 'ticket.updated'];",
            "pm.test('oldest first', () => pm.expect(types).to.eql(expected));",
            "pm.test('event shape', () => pm.expect(body.results[0]).to.have.all.keys("
            + ", ".join(f"'{k}'" for k in EVENT)
            + "));",
        ],
    ),
]

comments = [
    request(
        "Comment",
        "POST",
        "/api/v1/tickets/{{ticketKey}}/comments/",
        body={"body": "Fire extinguisher used."},
        tests=[*status(201), *keys(*COMMENT), JSON_BODY, *save("commentId", "body.id")],
    ),
    request("List comments", "GET", "/api/v1/tickets/{{ticketKey}}/comments/", tests=[*status(200), *keys(*PAGE)]),
    request(
        "Get a comment",
        "GET",
        "/api/v1/tickets/{{ticketKey}}/comments/{{commentId}}/",
        tests=[*status(200), *keys(*COMMENT)],
    ),
    request(
        "Edit my comment",
        "PATCH",
        "/api/v1/tickets/{{ticketKey}}/comments/{{commentId}}/",
        body={"body": "Fire extinguisher used; printer replaced."},
        tests=[*status(200), *keys(*COMMENT)],
    ),
    request(
        "A blank comment is refused",
        "POST",
        "/api/v1/tickets/{{ticketKey}}/comments/",
        body={"body": "  "},
        tests=error(400, "invalid"),
    ),
    request("Delete my comment", "DELETE", "/api/v1/tickets/{{ticketKey}}/comments/{{commentId}}/", tests=status(204)),
]

images = [
    request(
        "Upload an image",
        "POST",
        "/api/v1/tickets/{{ticketKey}}/images/",
        form=[{"key": "image", "type": "file", "src": "postman/pixel.png"}],
        tests=[
            *status(202),
            *keys(*IMAGE),
            JSON_BODY,
            "pm.test('pending', () => pm.expect(body.status).to.eql('pending'));",
            *save("imageId", "body.id"),
            *save("imagePolls", "0"),
        ],
    ),
    request(
        "Wait until the image is ready",
        "GET",
        "/api/v1/tickets/{{ticketKey}}/images/{{imageId}}/",
        tests=[
            *status(200),
            JSON_BODY,
            "const polls = Number(pm.collectionVariables.get('imagePolls')) + 1;",
            "pm.collectionVariables.set('imagePolls', polls);",
            "if (['pending', 'processing'].includes(body.status) && polls < 60) {",
            "  setTimeout(() => {}, 250);",
            "  pm.execution.setNextRequest(pm.info.requestName);",
            "} else {",
            "  pm.test('ready', () => pm.expect(body.status).to.eql('ready'));",
            "  pm.test('stored', () => pm.expect(body.url).to.match(/^http/) && pm.expect(body.width).to.eql(32));",
            "}",
        ],
    ),
    request("List images", "GET", "/api/v1/tickets/{{ticketKey}}/images/", tests=[*status(200), *keys(*PAGE)]),
    request(
        "Upload something that is not an image",
        "POST",
        "/api/v1/tickets/{{ticketKey}}/images/",
        form=[{"key": "image", "type": "file", "src": "postman_collection.json"}],
        tests=[
            *error(400, "invalid"),
            "const problem = pm.response.json().errors.image[0];",
            "pm.test('unsupported_type', () => pm.expect(problem.code).to.eql('unsupported_type'));",
        ],
    ),
    request("Delete the image", "DELETE", "/api/v1/tickets/{{ticketKey}}/images/{{imageId}}/", tests=status(204)),
]

WEBHOOKS = "/api/v1/projects/{{projectId}}/webhooks/"
WEBHOOK_PATH = WEBHOOKS + "{{webhookId}}/"
DELIVERY_PATH = WEBHOOK_PATH + "deliveries/{{deliveryId}}/"
NO_SECRET = "pm.test('no secret', () => pm.expect(pm.response.text()).to.not.include('whsec_'));"

webhooks = [
    request(
        "Register a webhook (its secret is shown this once)",
        "POST",
        WEBHOOKS,
        # The receiver: this server's own /healthz unless `webhookUrl` is set. hopla refuses loopback and
        # plain http targets unless WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOWED_NETWORKS allow them (run_postman.sh).
        pre=[
            "const receiver = pm.variables.get('webhookUrl') || pm.variables.get('baseUrl') + '/healthz';",
            "pm.collectionVariables.set('webhookUrl', receiver);",
        ],
        body={"url": "{{webhookUrl}}", "events": ["ticket.updated", "comment.created"], "description": "Postman"},
        tests=[
            *status(201),
            *keys(*WEBHOOK, "secret"),
            JSON_BODY,
            "pm.test('whsec_ secret', () => pm.expect(body.secret).to.match(/^whsec_[A-Za-z0-9+\\/=]+$/));",
            *save("webhookId", "body.id"),
            *save("webhookSecret", "body.secret"),
        ],
    ),
    request(
        "An unknown event type is a 400 naming it",
        "POST",
        WEBHOOKS,
        body={"url": "{{webhookUrl}}", "events": ["ticket.exploded"]},
        tests=[
            *error(400, "invalid"),
            "const problem = pm.response.json().errors.events[0];",
            "pm.test('names it', () => pm.expect(problem.message).to.include('ticket.exploded'));",
        ],
    ),
    request(
        "A cloud metadata address is refused",
        "POST",
        WEBHOOKS,
        body={"url": "https://169.254.169.254/latest/meta-data/", "events": ["*"]},
        tests=error(400, "unsafe_url"),
    ),
    request(
        "A secret not in whsec_ form is refused",
        "POST",
        WEBHOOKS,
        body={"url": "{{webhookUrl}}", "events": ["*"], "secret": "hunter2"},
        tests=[
            *error(400, "invalid"),
            "pm.test('on secret', () => pm.expect(pm.response.json().errors).to.have.property('secret'));",
        ],
    ),
    request("List webhooks", "GET", WEBHOOKS, tests=[*status(200), *keys(*PAGE), NO_SECRET]),
    request("Get the webhook", "GET", WEBHOOK_PATH, tests=[*status(200), *keys(*WEBHOOK), NO_SECRET]),
    request(
        "Pause the webhook",
        "PATCH",
        WEBHOOK_PATH,
        body={"active": False},
        tests=[
            *status(200),
            *keys(*WEBHOOK),
            "pm.test('paused', () => pm.expect(pm.response.json().active).to.eql(false));",
        ],
    ),
    request(
        "Re-enable it, for every event",
        "PATCH",
        WEBHOOK_PATH,
        body={"active": True, "events": ["*"]},
        tests=[
            *status(200),
            JSON_BODY,
            "pm.test('active', () => pm.expect([body.active, body.disabled_reason]).to.eql([true, '']));",
            "pm.test('every event', () => pm.expect(body.events).to.eql(['*']));",
        ],
    ),
    request(
        "Rotate the secret",
        "POST",
        WEBHOOK_PATH + "rotate-secret/",
        tests=[
            *status(200),
            *keys(*WEBHOOK, "secret"),
            JSON_BODY,
            "const old = pm.collectionVariables.get('webhookSecret');",
            "pm.test('a new secret', () => pm.expect(body.secret).to.match(/^whsec_/).and.not.eql(old));",
        ],
    ),
    request(
        "Ping the webhook",
        "POST",
        WEBHOOK_PATH + "ping/",
        tests=[
            *status(202),
            *keys(*DELIVERY_DETAIL),
            JSON_BODY,
            "pm.test('a ping', () => pm.expect(body.event_type).to.eql('webhook.ping'));",
            *save("deliveryId", "body.id"),
        ],
    ),
    request(
        "List its deliveries, filtered by status",
        "GET",
        WEBHOOK_PATH + "deliveries/?status=pending,succeeded,failed",
        tests=[
            *status(200),
            *keys(*PAGE),
            JSON_BODY,
            "const ping = pm.collectionVariables.get('deliveryId');",
            "pm.test('the ping, newest first', () => pm.expect(body.results[0].id).to.eql(ping));",
            "pm.test('summary shape', () => pm.expect(body.results[0]).to.have.all.keys("
            + ", ".join(f"'{k}'" for k in DELIVERY)
            + "));",
        ],
    ),
    request(
        "A bad status filter is a 400 naming it",
        "GET",
        WEBHOOK_PATH + "deliveries/?status=lost",
        tests=[
            *error(400, "invalid"),
            "pm.test('names status', () => pm.expect(pm.response.json().errors).to.have.property('status'));",
        ],
    ),
    request("Get the delivery", "GET", DELIVERY_PATH, tests=[*status(200), *keys(*DELIVERY_DETAIL), NO_SECRET]),
    request(
        "Redeliver it (409 delivery_pending while its attempt is still scheduled)",
        "POST",
        DELIVERY_PATH + "redeliver/",
        tests=[
            JSON_BODY,
            "pm.test('a new attempt, or pending already', () => pm.expect(pm.response.code).to.be.oneOf([202, 409]));",
            "if (pm.response.code === 202) {",
            "  pm.test('pending again', () => pm.expect(body.status).to.eql('pending'));",
            "} else {",
            "  pm.test('delivery_pending', () => pm.expect(body.code).to.eql('delivery_pending'));",
            "}",
        ],
    ),
    request("Delete the webhook", "DELETE", WEBHOOK_PATH, tests=status(204)),
    request("Its deliveries are gone with it", "GET", DELIVERY_PATH, tests=error(404, "not_found")),
]

export = [
    request(
        "Export the open tickets as CSV",
        "GET",
        "/api/v1/tickets/export/?format=csv&project={{projectKey}}&ordering=key",
        tests=[
            *status(200),
            "pm.test('CSV', () => pm.expect(pm.response.headers.get('Content-Type')).to.include('text/csv'));",
            "pm.test('a file name', () => pm.expect(pm.response.headers.get('Content-Disposition'))"
            '.to.match(/^attachment; filename="hopla-tickets-.*\\.csv"$/));',
            "const lines = pm.response.text().split('\\r\\n');",
            "pm.test('header row', () => pm.expect(lines[0]).to.eql("
            "'key,title,status,priority,labels,assignee,reporter,due_date,created_at,updated_at,closed_at,description'));",
            "pm.test('the tickets', () => "
            "pm.expect(pm.response.text()).to.include(pm.collectionVariables.get('ticketKey')));",
        ],
    ),
    request(
        "Export as NDJSON",
        "GET",
        "/api/v1/tickets/export/?format=ndjson&project={{projectKey}}",
        tests=[
            *status(200),
            "pm.test('NDJSON', () => "
            "pm.expect(pm.response.headers.get('Content-Type')).to.eql('application/x-ndjson'));",
            "const records = pm.response.text().trim().split('\\n').map(JSON.parse);",
            "pm.test('one object per ticket', () => pm.expect(records[0]).to.have.property('key'));",
        ],
    ),
    request(
        "Export with an unknown format is 400",
        "GET",
        "/api/v1/tickets/export/?format=xlsx",
        tests=error(400, "invalid"),
    ),
]

IDEMPOTENT_TICKET = {"project": "{{projectKey}}", "title": "Created once, however often it is sent"}
IDEMPOTENCY_HEADERS = {"Idempotency-Key": "{{idempotencyKey}}"}
idempotency = [
    request(
        "Create a ticket with an Idempotency-Key",
        "POST",
        "/api/v1/tickets/",
        pre=["pm.collectionVariables.set('idempotencyKey', pm.variables.replaceIn('{{$guid}}'));"],
        headers=IDEMPOTENCY_HEADERS,
        body=IDEMPOTENT_TICKET,
        tests=[
            *status(201),
            *keys(*TICKET),
            "pm.test('not a replay', () => pm.expect(pm.response.headers.has('Idempotent-Replayed')).to.be.false);",
            *save("idempotentTicketId", "pm.response.json().id"),
        ],
    ),
    request(
        "The same request again is replayed, nothing created",
        "POST",
        "/api/v1/tickets/",
        headers=IDEMPOTENCY_HEADERS,
        body=IDEMPOTENT_TICKET,
        tests=[
            *status(201),
            "pm.test('replayed', () => pm.expect(pm.response.headers.get('Idempotent-Replayed')).to.eql('true'));",
            "pm.test('the same ticket', () => "
            "pm.expect(pm.response.json().id).to.eql(pm.collectionVariables.get('idempotentTicketId')));",
        ],
    ),
    request(
        "The same key with another body is 422",
        "POST",
        "/api/v1/tickets/",
        headers=IDEMPOTENCY_HEADERS,
        body={**IDEMPOTENT_TICKET, "title": "Another ticket"},
        tests=error(422, "idempotency_key_reused"),
    ),
    request(
        "A malformed Idempotency-Key is 400",
        "POST",
        "/api/v1/tickets/",
        headers={"Idempotency-Key": "has spaces in it"},
        body=IDEMPOTENT_TICKET,
        tests=error(400, "invalid_idempotency_key"),
    ),
]

bulk = [
    request(
        "Bulk: raise the priority of two tickets, one of them at a known version",
        "POST",
        "/api/v1/tickets/bulk/",
        body={
            "tickets": ["{{ticketKey}}", {"ticket": "{{idempotentTicketId}}", "if_match": '"1"'}],
            "set": {"priority": "urgent"},
            "labels_add": ["bulk"],
        },
        tests=[
            *status(200),
            *keys("updated", "errors"),
            JSON_BODY,
            "pm.test('both changed', () => pm.expect(body.updated.map(t => t.priority)).to.eql(['urgent', 'urgent']));",
            "pm.test('no refusal', () => pm.expect(body.errors).to.eql([]));",
        ],
    ),
    request(
        "Bulk: a stale version and an unknown ticket are refused, each on its own",
        "POST",
        "/api/v1/tickets/bulk/",
        body={
            "tickets": [{"ticket": "{{idempotentTicketId}}", "if_match": '"1"'}, "NOPE-1"],
            "set": {"priority": "low"},
        },
        tests=[
            *status(200),
            JSON_BODY,
            "pm.test('refusals', () => pm.expect(body.errors.map(e => e.code))"
            ".to.eql(['precondition_failed', 'not_found']));",
        ],
    ),
    request(
        "Bulk: nothing to change is 400",
        "POST",
        "/api/v1/tickets/bulk/",
        body={"tickets": ["{{ticketKey}}"]},
        tests=error(400, "invalid"),
    ),
]

IMPORT = (
    "id", "status", "format", "dry_run", "total", "processed", "created", "skipped", "errors", "created_at",
    "finished_at",
)  # fmt: skip
IMPORTS = "/api/v1/projects/{{projectId}}/imports/"
imports = [
    request(
        "Import a Jira CSV export, dry run",
        "POST",
        IMPORTS,
        form=[
            {"key": "file", "type": "file", "src": "postman/jira_export.csv"},
            {"key": "format", "type": "text", "value": "jira-csv"},
            {"key": "dry_run", "type": "text", "value": "true"},
        ],
        tests=[*status(202), *keys(*IMPORT), *save("importId", "pm.response.json().id"), *save("importPolls", "0")],
    ),
    request(
        "Wait until the dry run is done: nothing written",
        "GET",
        IMPORTS + "{{importId}}/",
        tests=[
            *status(200),
            JSON_BODY,
            "const polls = Number(pm.collectionVariables.get('importPolls')) + 1;",
            "pm.collectionVariables.set('importPolls', polls);",
            "if (['pending', 'running'].includes(body.status) && polls < 60) {",
            "  setTimeout(() => {}, 250);",
            "  pm.execution.setNextRequest(pm.info.requestName);",
            "} else {",
            "  pm.test('succeeded', () => pm.expect(body.status).to.eql('succeeded'));",
            "  pm.test('would create 3', () => pm.expect(body.created).to.eql(3));",
            "  pm.test('the unknown status is reported', () => pm.expect(body.errors[0].field).to.eql('status'));",
            "}",
        ],
    ),
    request(
        "Import it for real",
        "POST",
        IMPORTS,
        form=[
            {"key": "file", "type": "file", "src": "postman/jira_export.csv"},
            {"key": "format", "type": "text", "value": "jira-csv"},
        ],
        tests=[*status(202), *save("importId", "pm.response.json().id"), *save("importPolls", "0")],
    ),
    request(
        "Wait until the import is done",
        "GET",
        IMPORTS + "{{importId}}/",
        tests=[
            *status(200),
            JSON_BODY,
            "const polls = Number(pm.collectionVariables.get('importPolls')) + 1;",
            "pm.collectionVariables.set('importPolls', polls);",
            "if (['pending', 'running'].includes(body.status) && polls < 60) {",
            "  setTimeout(() => {}, 250);",
            "  pm.execution.setNextRequest(pm.info.requestName);",
            "} else {",
            "  pm.test('succeeded', () => pm.expect(body.status).to.eql('succeeded'));",
            "  pm.test('created 3', () => pm.expect(body.created).to.eql(3));",
            "}",
        ],
    ),
    request(
        "The imported tickets keep their Jira keys",
        "GET",
        "/api/v1/tickets/export/?format=ndjson&project={{projectKey}}&search=ABC",
        tests=[*status(200)],
    ),
    request(
        "An import file in the wrong format fails",
        "POST",
        IMPORTS,
        form=[
            {"key": "file", "type": "file", "src": "postman/jira_export.csv"},
            {"key": "format", "type": "text", "value": "github-json"},
        ],
        tests=[*status(202)],
    ),
    request(
        "An unknown import format is 400",
        "POST",
        IMPORTS,
        form=[
            {"key": "file", "type": "file", "src": "postman/jira_export.csv"},
            {"key": "format", "type": "text", "value": "xml"},
        ],
        tests=error(400, "invalid"),
    ),
]

TICKET_PATH = "/api/v1/tickets/{{ticketKey}}/"

watchers = [
    request("Stop watching the ticket", "DELETE", TICKET_PATH + "watch/", tests=status(204)),
    request(
        "Not watching any more",
        "GET",
        TICKET_PATH,
        tests=[*status(200), "pm.test('not watching', () => pm.expect(pm.response.json().is_watching).to.eql(false));"],
    ),
    request("Watch the ticket (again: idempotent)", "PUT", TICKET_PATH + "watch/", tests=status(204)),
    request(
        "Its watchers",
        "GET",
        TICKET_PATH + "watchers/",
        tests=[
            *status(200),
            *keys(*PAGE),
            JSON_BODY,
            "pm.test('me among them', () => pm.expect(body.results.map(u => u.id)).to.include("
            "pm.collectionVariables.get('userId')));",
        ],
    ),
    request(
        "Watching a ticket you cannot see is a 404",
        "PUT",
        "/api/v1/tickets/NOPE-999/watch/",
        tests=error(404, "not_found"),
    ),
]

NOTIFICATIONS = "/api/v1/notifications/"
AS_BOB = {"Authorization": "Bearer {{otherAccessToken}}"}

notifications = [
    request(
        "Make the viewer a member again, so that they may comment",
        "PATCH",
        "/api/v1/projects/{{projectId}}/members/{{otherUserId}}/",
        body={"role": "member"},
        tests=status(200),
    ),
    request(
        "Log the member in",
        "POST",
        "/api/v1/auth/login/",
        anonymous=True,
        body={"email": "{{otherEmail}}", "password": "{{otherPassword}}"},
        tests=[*status(200), JSON_BODY, *save("otherAccessToken", "body.access"), *save("notificationPolls", "0")],
    ),
    request(
        "The member comments on your ticket",
        "POST",
        TICKET_PATH + "comments/",
        anonymous=True,
        headers=AS_BOB,
        body={"body": "Seen it, on my way."},
        tests=status(201),
    ),
    request(
        "Wait for your notification (the worker makes it)",
        "GET",
        NOTIFICATIONS + "?unread=true",
        tests=[
            *status(200),
            JSON_BODY,
            "const polls = Number(pm.collectionVariables.get('notificationPolls')) + 1;",
            "pm.collectionVariables.set('notificationPolls', polls);",
            # Earlier changes by others (the worker's image.ready) may have notified you too.
            "const comment = body.results.find(n => n.event.type === 'comment.created');",
            "if (comment === undefined && polls < 40) {",
            "  setTimeout(() => {}, 250);",
            "  pm.execution.setNextRequest(pm.info.requestName);",
            "} else {",
            "  pm.test('one for the comment', () => pm.expect(comment).to.be.an('object'));",
            "  pm.test('shape', () => pm.expect(comment).to.have.all.keys("
            + ", ".join(f"'{k}'" for k in NOTIFICATION)
            + "));",
            "  pm.test('as the assignee', () => pm.expect(comment.reason).to.eql('assigned'));",
            "  pm.test('by the member', () => pm.expect(comment.event.actor.id).to.eql("
            "pm.collectionVariables.get('otherUserId')));",
            "  pm.collectionVariables.set('notificationId', comment.id);",
            "}",
        ],
    ),
    request(
        "Unread count",
        "GET",
        NOTIFICATIONS + "unread-count/",
        tests=[
            *status(200),
            *keys("count"),
            "pm.test('some', () => pm.expect(pm.response.json().count).to.be.above(0));",
        ],
    ),
    request(
        "Someone else's notification is a 404",
        "POST",
        NOTIFICATIONS + "{{notificationId}}/read/",
        anonymous=True,
        headers=AS_BOB,
        tests=error(404, "not_found"),
    ),
    request("Read it", "POST", NOTIFICATIONS + "{{notificationId}}/read/", tests=status(204)),
    request(
        "Read all with a bad time is a 400 naming it",
        "POST",
        NOTIFICATIONS + "read-all/",
        body={"before": "yesterday"},
        tests=[
            *error(400, "invalid"),
            "pm.test('names before', () => pm.expect(pm.response.json().errors).to.have.property('before'));",
        ],
    ),
    request(
        "Read all made before a time",
        "POST",
        NOTIFICATIONS + "read-all/",
        body={"before": "2030-01-01T00:00:00Z"},
        tests=status(204),
    ),
    request(
        "All read",
        "GET",
        NOTIFICATIONS + "unread-count/",
        tests=[*status(200), "pm.test('none', () => pm.expect(pm.response.json().count).to.eql(0));"],
    ),
    request(
        "Your notifications, newest first",
        "GET",
        NOTIFICATIONS,
        tests=[
            *status(200),
            *keys(*PAGE),
            "pm.test('read', () => pm.expect(pm.response.json().results[0].read_at).to.be.a('string'));",
        ],
    ),
]

cleanup = [
    request(
        "Remove the member", "DELETE", "/api/v1/projects/{{projectId}}/members/{{otherUserId}}/", tests=status(204)
    ),
    # Version 4: the PATCHes of "Tickets" made it 3, the first bulk change 4.
    request(
        "Delete the ticket", "DELETE", "/api/v1/tickets/{{ticketKey}}/", headers={"If-Match": '"4"'}, tests=status(204)
    ),
    request("The deleted ticket is gone", "GET", "/api/v1/tickets/{{ticketKey}}/", tests=error(404, "not_found")),
    request("Delete the project", "DELETE", "/api/v1/projects/{{projectId}}/", tests=status(204)),
    request("Logout", "POST", "/api/v1/auth/logout/", body={"refresh": "{{refreshToken}}"}, tests=status(204)),
    request(
        "Refresh after logout fails",
        "POST",
        "/api/v1/auth/refresh/",
        anonymous=True,
        body={"refresh": "{{refreshToken}}"},
        tests=error(401, "token_not_valid"),
    ),
]

VARIABLES = [
    "baseUrl", "run", "email", "otherEmail", "password", "projectKey", "userId", "otherUserId", "accessToken",
    "refreshToken", "oldRefreshToken", "projectId", "ticketId", "ticketKey", "commentId", "imageId", "imagePolls",
    "webhookUrl", "webhookId", "webhookSecret", "deliveryId", "idempotencyKey", "idempotentTicketId",
    "importId", "importPolls", "otherPassword", "otherAccessToken", "notificationPolls", "notificationId",
    "invitationId", "listEtag",
]  # fmt: skip

collection = {
    "info": {
        "name": "hopla API",
        "description": "Every hopla endpoint, with test scripts, in an order that runs on a fresh server. "
        "Run: newman run postman_collection.json --env-var baseUrl=http://localhost:8000 "
        "(generated by scripts/build_postman_collection.py).",
        "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
    "variable": [{"key": name, "value": "http://localhost:8000" if name == "baseUrl" else ""} for name in VARIABLES],
    "item": [
        {"name": "Operations", "item": operations},
        {"name": "Auth", "item": auth},
        {"name": "Projects and members", "item": projects},
        {"name": "Tickets", "item": tickets},
        {"name": "Comments", "item": comments},
        {"name": "Images", "item": images},
        {"name": "Webhooks", "item": webhooks},
        {"name": "Idempotent requests", "item": idempotency},
        {"name": "Export", "item": export},
        {"name": "Bulk changes", "item": bulk},
        {"name": "Imports", "item": imports},
        {"name": "Watchers", "item": watchers},
        {"name": "Notifications", "item": notifications},
        {"name": "Clean-up and logout", "item": cleanup},
    ],
}

if __name__ == "__main__":
    (ROOT / "postman_collection.json").write_text(json.dumps(collection, indent=2, ensure_ascii=False) + "\n")
