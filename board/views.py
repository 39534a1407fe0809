"""Board pages: thin views over the API's selectors (board.access turns their refusals into pages').

Writes never go through these views: the page's JavaScript calls the JSON API with the session, so a
move, an edit or an upload meets exactly the API's permission checks, workflow and If-Match.
"""

import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.models import User
from board import selectors as board_selectors
from board.access import page_lookup
from board.templatetags.board import STATUS_LABELS
from tickets import selectors
from tickets.list_etag import none_match
from tickets.models import ROLE_RANK, Project, Role, Status, Ticket

# Tickets start `open` (SPEC §5); a ticket created in "In progress" is created, then moved there.
CREATABLE_STATUSES = (Status.OPEN, Status.IN_PROGRESS)


def _user(request: HttpRequest) -> User:
    """The signed-in user; every page here is behind login_required."""
    assert isinstance(request.user, User)
    return request.user


def _project(request: HttpRequest, project_key: str) -> Project:
    return page_lookup(selectors.project_get, user=_user(request), reference=project_key)


def _can_edit(project: Project) -> bool:
    """Members and admins change tickets (SPEC §4); the page shows viewers no controls for it."""
    return ROLE_RANK[Role(project.my_role)] >= ROLE_RANK[Role.MEMBER]  # type: ignore[attr-defined]


def _card_context(request: HttpRequest, project: Project) -> dict[str, object]:
    # The board's URL once, rather than a reverse() per card: cards link to `<board_url>tickets/<key>/`.
    return {"project": project, "can_edit": _can_edit(project), "board_url": reverse("board:board", args=[project.key])}


@login_required
@require_safe
def project_list_page(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list(user=_user(request))
    return render(request, "board/projects.html", {"projects": projects})


@login_required
@require_safe
def members_page(request: HttpRequest, project_key: str) -> HttpResponse:
    """Who is in the project, with their roles; admins also see pending invitations and get the controls
    (which call the members API, as the board's moves call the tickets API). Anyone may leave."""
    project = _project(request, project_key)
    if project_key != project.key:
        return redirect("board:members", project_key=project.key)
    is_admin = project.my_role == Role.ADMIN  # type: ignore[attr-defined]
    context = {
        "project": project,
        "is_admin": is_admin,
        "members": selectors.member_list(project=project),
        "invitations": selectors.invitation_list(project=project) if is_admin else [],
        "roles": Role.choices,
    }
    return render(request, "board/members.html", context)


@login_required
@require_safe
def board_page(request: HttpRequest, project_key: str) -> HttpResponse:
    project = _project(request, project_key)
    if project_key != project.key:
        return redirect("board:board", project_key=project.key)
    # Read before the tickets: the page's socket resumes after it, so nothing committed later is missed.
    last_seq = board_selectors.board_last_event_seq()
    filters = board_selectors.board_filters_parse(request.GET)
    tickets = board_selectors.board_tickets(user=_user(request), project=project, filters=filters, request=request)
    counts = board_selectors.board_counts(tickets=tickets)
    columns = []
    for status in Status:
        cards = board_selectors.board_column_page(tickets=tickets, status=status)
        columns.append(
            {
                "status": status.value,
                "label": STATUS_LABELS[status],
                "count": counts[status],
                "cards": cards,
                "next_offset": len(cards) if counts[status] > len(cards) else None,
                "creatable": status in CREATABLE_STATUSES,
            }
        )
    context = {
        **_card_context(request, project),
        "columns": columns,
        "filters": filters,
        "filter_query": filters.query_string(),
        "members": board_selectors.board_members(project=project),
        "priorities": ["low", "medium", "high", "urgent"],
        "last_seq": last_seq,
    }
    return render(request, "board/board.html", context)


@login_required
@require_safe
def column_page(request: HttpRequest, project_key: str, status: str) -> HttpResponse:
    """The next cards of a column ("show more"), as list items; `X-Next-Offset` says where to go on."""
    project = _project(request, project_key)
    if status not in Status.values:
        raise Http404("No such column.")
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    filters = board_selectors.board_filters_parse(request.GET)
    tickets = board_selectors.board_tickets(user=_user(request), project=project, filters=filters, request=request)
    cards = board_selectors.board_column_page(tickets=tickets, status=status, offset=offset)
    response = render(request, "board/_cards.html", {**_card_context(request, project), "cards": cards})
    if len(cards) == board_selectors.COLUMN_PAGE_SIZE:
        response["X-Next-Offset"] = str(offset + len(cards))
    return response


@login_required
@require_safe
def card_fragment(request: HttpRequest, project_key: str, ticket_key: str) -> HttpResponse:
    """One card as the board shows it now, for live updates; 204 when the board's filters hide it.

    `X-Board-Counts` carries the columns' counts under the same filters.
    """
    project = _project(request, project_key)
    filters = board_selectors.board_filters_parse(request.GET)
    tickets = board_selectors.board_tickets(user=_user(request), project=project, filters=filters, request=request)
    ticket = tickets.filter(key=ticket_key.upper()).first()
    response = (
        render(request, "board/_card.html", {**_card_context(request, project), "ticket": ticket})
        if ticket is not None
        else HttpResponse(status=204)
    )
    response["X-Board-Counts"] = json.dumps(board_selectors.board_counts(tickets=tickets))
    return response


def _ticket(request: HttpRequest, project: Project, ticket_key: str) -> Ticket:
    ticket = page_lookup(selectors.ticket_get, user=_user(request), reference=ticket_key)
    if ticket.project_id != project.pk:
        raise Http404("No such ticket in this project.")
    return ticket


def _panel_context(request: HttpRequest, project_key: str, ticket_key: str) -> dict[str, object]:
    project = _project(request, project_key)
    ticket = _ticket(request, project, ticket_key)
    return {
        **_card_context(request, project),
        "ticket": ticket,
        "comments": selectors.comment_list(ticket=ticket),
        "images": selectors.image_list(ticket=ticket),
        "history": selectors.ticket_history(ticket=ticket),
        "members": board_selectors.board_members(project=project),
        "priorities": ["low", "medium", "high", "urgent"],
    }


@login_required
@require_safe
def ticket_page(request: HttpRequest, project_key: str, ticket_key: str) -> HttpResponse:
    """A ticket on a page of its own: where a card's link leads without JavaScript, or shared."""
    return render(request, "board/ticket.html", _panel_context(request, project_key, ticket_key))


def _panel_etag(request: HttpRequest, project_key: str, ticket_key: str) -> str | None:
    """The panel's ETag: a hash of what it shows that can change (board_selectors.board_panel_state),
    the reader, the request and today's date; None where there is none (no such ticket for the reader,
    SQLite). Taken before the panel is read, so a change committed in between can only make the next
    request answer 200 again, never a 304 for a panel the page does not have."""
    state = board_selectors.board_panel_state(user=_user(request), project_key=project_key, ticket_key=ticket_key)
    if state is None:
        return None
    parts = ["panel-v1", _user(request).pk, state, request.get_full_path(), timezone.localdate()]
    return '"' + hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest() + '"'


@login_required
@require_safe
def ticket_panel(request: HttpRequest, project_key: str, ticket_key: str) -> HttpResponse:
    """The same ticket as the side panel's content; the page's refreshes send its ETag back in
    If-None-Match and get a 304 while nothing in it changed (one statement, no rendering)."""
    etag = _panel_etag(request, project_key, ticket_key)
    if etag is not None and none_match(request.headers.get("If-None-Match"), etag):
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    response = render(request, "board/_panel.html", _panel_context(request, project_key, ticket_key))
    if etag is not None:
        response["ETag"] = etag
    return response
