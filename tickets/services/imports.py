"""Imports (SPEC §13): a file of tickets from elsewhere, read and written by the worker.

`import_create` keeps the file and queues the job; `import_run` (the job) reads every row first
(`tickets.import_formats`), so that a file that is not of its format fails with nothing written; then
writes the good rows in batches of `IMPORT_BATCH_SIZE`, each batch one transaction that numbers its
tickets in file order, writes them and their `ticket.created` events with a COPY each
(`hopla.sql.rows_copy`) and saves the progress; the batch's events are published after its commit, in
one pipelined send. Rows already imported into the project (same `external_ref`) and repeats within
the file are skipped, so running the same file again completes what an interrupted run left out.
"""

import logging
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from hopla.jobs import enqueue
from hopla.sql import db_uuid, rows_copy
from tickets import import_formats
from tickets.models import EventType, ImportStatus, Membership, Project, Status, Ticket, TicketImport
from tickets.serializers import TicketSerializer
from tickets.services.event_publishing import events_publish_on_commit
from tickets.services.event_writing import event_new, event_numbers_reserve

logger = logging.getLogger("hopla.jobs")


def import_create(*, project: Project, actor: User, file_format: str, dry_run: bool, data: bytes) -> TicketImport:
    ticket_import = TicketImport.objects.create(
        project=project, created_by=actor, format=file_format, dry_run=dry_run, source=data
    )
    transaction.on_commit(lambda: enqueue("tickets.jobs.run_import", str(ticket_import.pk)))
    return ticket_import


def import_run(*, import_id: str) -> None:
    ticket_import = TicketImport.objects.select_related("project", "created_by").filter(pk=import_id).first()
    if ticket_import is None or ticket_import.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
        return  # deleted with its project, or a second run of a finished job
    ticket_import.status = ImportStatus.RUNNING
    ticket_import.save(update_fields=["status"])
    try:
        rows = import_formats.read(ticket_import.format, bytes(ticket_import.source))
    except import_formats.UnreadableFile as unreadable:
        _finish(ticket_import, ImportStatus.FAILED, errors=[{"row": 0, "field": "file", "message": str(unreadable)}])
        return
    ticket_import.total = len(rows)
    ticket_import.errors = import_formats.as_error_items(rows)
    importable = [row for row in rows if not row.problems and not row.skip]
    skipped = sum(1 for row in rows if row.skip)
    already = set(
        Ticket.objects.filter(
            project=ticket_import.project, external_ref__in=[row.external_ref for row in importable]
        ).values_list("external_ref", flat=True)
    )
    to_create: list[import_formats.ImportRow] = []
    seen: set[str] = set()
    for row in importable:
        if row.external_ref in already:
            skipped += 1
        elif row.external_ref in seen:
            ticket_import.errors.append(
                {"row": row.row, "field": "external_ref", "message": f"{row.external_ref} is in the file twice."}
            )
        else:
            seen.add(row.external_ref)
            to_create.append(row)
    ticket_import.skipped = skipped
    ticket_import.processed = len(rows) - len(to_create)
    ticket_import.save(update_fields=["total", "errors", "skipped", "processed"])
    if ticket_import.dry_run:
        ticket_import.created = len(to_create)  # what a real run would create
        ticket_import.processed = len(rows)
        _finish(ticket_import, ImportStatus.SUCCEEDED)
        return
    members = _members_by_email(ticket_import.project, [row.assignee_email for row in to_create])
    batch_size = settings.IMPORT_BATCH_SIZE
    for start in range(0, len(to_create), batch_size):
        _write_batch(ticket_import, to_create[start : start + batch_size], members)
    _finish(ticket_import, ImportStatus.SUCCEEDED)


def _members_by_email(project: Project, emails: list[str]) -> dict[str, User]:
    """Project members among `emails` (lower case); anyone else is left unassigned."""
    wanted = {email for email in emails if email}
    memberships = Membership.objects.filter(project=project, user__email__in=wanted).select_related("user")
    found = {membership.user.email.lower(): membership.user for membership in memberships}
    if len(found) < len(wanted):  # emails are unique without case: the rare mixed-case ones
        for membership in Membership.objects.filter(project=project).select_related("user"):
            if membership.user.email.lower() in wanted:
                found[membership.user.email.lower()] = membership.user
    return found


def _numbers_claim(project: Project, count: int) -> int:
    """Take `count` consecutive ticket numbers of `project` in one statement; answers the first. The
    project row stays locked until the batch commits (as ticket_create's claim does)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Project._meta.db_table} SET last_ticket_number = last_ticket_number + %s WHERE id = %s"
            " RETURNING last_ticket_number",
            [count, db_uuid(project.pk)],
        )
        return int(cursor.fetchone()[0]) - count + 1


@transaction.atomic
def _write_batch(ticket_import: TicketImport, rows: list[import_formats.ImportRow], members: dict[str, User]) -> None:
    """One transaction per batch, five statements whatever its size: the numbers, the tickets (COPY),
    the event numbers, the events (COPY), the progress; its events are published in one send after."""
    project = ticket_import.project
    actor = ticket_import.created_by
    first = _numbers_claim(project, len(rows))
    now = timezone.now()
    tickets = []
    for offset, row in enumerate(rows):
        ticket = Ticket(
            project=project,
            number=first + offset,
            key=f"{project.key}-{first + offset}",
            title=row.title,
            description=row.description,
            status=row.status,
            priority=row.priority,
            labels=row.labels,
            assignee=members.get(row.assignee_email),
            reporter=actor,
            due_date=date.fromisoformat(row.due_date) if row.due_date else None,
            closed_at=now if row.status == Status.CLOSED else None,
            external_ref=row.external_ref,
        )
        ticket.created_at = ticket.updated_at = now
        tickets.append(ticket)
    rows_copy(tickets)
    events = [
        event_new(
            type=EventType.TICKET_CREATED,
            project_id=project.pk,
            ticket_id=ticket.pk,
            actor=actor,
            data=dict(TicketSerializer(ticket).data),
        )
        for ticket in tickets
    ]
    # Numbered last: the event counter is locked from here until commit, every event writer waits on it.
    seq = event_numbers_reserve(len(events))
    for offset, event in enumerate(events):
        event.seq = seq + offset
    rows_copy(events)
    events_publish_on_commit(events)
    TicketImport.objects.filter(pk=ticket_import.pk).update(
        processed=F("processed") + len(rows), created=F("created") + len(rows)
    )


def _finish(ticket_import: TicketImport, status: str, errors: list[dict[str, Any]] | None = None) -> None:
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "source": b""}
    if errors is not None:
        fields["errors"] = errors
    if ticket_import.dry_run or errors is not None:
        fields.update(processed=ticket_import.processed, created=ticket_import.created)
    TicketImport.objects.filter(pk=ticket_import.pk).update(**fields)
    logger.info(
        "import finished",
        extra={"fields": {"job": "run_import", "import": str(ticket_import.pk), "status": status}},
    )
