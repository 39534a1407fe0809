"""Projects and their members, tickets, comments, and the event table that is every ticket's history."""

import datetime
import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Now

PROJECT_KEY_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"


class Role(models.TextChoices):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


# What each role may do grows with its rank: viewer reads, member writes tickets, admin manages.
ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


class Status(models.TextChoices):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


# The order in which `ordering=status` sorts: the workflow's, not the alphabet's.
STATUS_RANK = {Status.OPEN: 1, Status.IN_PROGRESS: 2, Status.RESOLVED: 3, Status.CLOSED: 4}


class Priority(models.IntegerChoices):
    """Stored as a number so that ordering and indexes follow severity, shown by name in the API."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"
    URGENT = 4, "urgent"


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(
        max_length=10,
        unique=True,
        validators=[
            RegexValidator(PROJECT_KEY_PATTERN, "2 to 10 upper-case letters or digits, starting with a letter.")
        ],
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="created_projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The number of the last ticket created; bumped under a row lock so keys are never reused.
    last_ticket_number = models.PositiveIntegerField(default=0, editable=False)
    # How many tickets the project has, kept by PostgreSQL triggers on tickets_ticket (migration 0004) so
    # that every way of adding or removing tickets counts (services, admin, bulk loads, cascades). The
    # database default lets raw inserts (seed_demo's COPY) leave it out.
    ticket_count = models.IntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} — {self.name}"


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Both lookups are served by the composite indexes below: no single-column index of their own.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_membership")]
        indexes = [models.Index(fields=["user", "project"], name="membership_user_project")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project.key} as {self.role}"


class InvitationStatus(models.TextChoices):
    """Where an invitation stands; worked out from its timestamps (`Invitation.status`), never stored."""

    PENDING = "pending"
    EXPIRED = "expired"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


class Invitation(models.Model):
    """An admin's invitation of an email that has no account yet into a project, with a role (SPEC §4).

    Single use: accepting it sets `accepted_at`, revoking it `revoked_at`, and either closes it for
    good. One open invitation per project and email (the partial unique constraint): inviting the
    same email again refreshes the open one. The link's token is the id signed with SECRET_KEY
    (tickets.invitation_tokens), so nothing secret is stored here.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    # Stored lower-cased (accounts.models.normalize_email), as users' emails are.
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations_accepted",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Also the index the project's list reads (partial: closed invitations are not listed).
            models.UniqueConstraint(
                fields=["project", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="unique_open_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.project_id} as {self.role}"

    def status_at(self, now: datetime.datetime) -> InvitationStatus:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING


class Ticket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # project and assignee lookups use the composite indexes in Meta (their first column).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tickets", db_index=False)
    number = models.PositiveIntegerField(editable=False)
    key = models.CharField(max_length=24, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    labels = models.JSONField(default=list, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="reported_tickets"
    )
    due_date = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    comment_count = models.PositiveIntegerField(default=0)
    image_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Where an imported ticket came from (`OPS-12`, `github:1347`, `jira:ABC-9`): importing the same
    # file again skips what is already here. Unique per project; empty for tickets made in hopla.
    external_ref = models.CharField(max_length=100, blank=True, default="", db_default="")
    # Full-text document of key, title and description: kept by a PostgreSQL trigger (migration 0002),
    # always empty on SQLite, where search falls back to substring matching.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_ticket_number"),
            # Also the index imports look references up by (partial: most tickets have none).
            models.UniqueConstraint(
                fields=["project", "external_ref"],
                condition=~models.Q(external_ref=""),
                name="unique_ticket_external_ref",
            ),
        ]
        indexes = [
            # Checked with EXPLAIN on 100k tickets (see the tickets-core closing note).
            models.Index(fields=["project", "-created_at"], name="ticket_project_created"),
            models.Index(fields=["project", "-updated_at"], name="ticket_project_updated"),
            # Priority too: a filter on status and priority (W2's) is one bitmap of this index instead of
            # two of a quarter and two thirds of the table (BENCHMARKS.md, "W2 at 1 000 000 tickets,
            # again"); (project, status) lookups read its prefix, at the same size (alignment padding).
            models.Index(fields=["project", "status", "priority"], name="ticket_project_status_priority"),
            models.Index(fields=["priority", "id"], name="ticket_priority_id"),
            # `ordering=-priority,due_date` (most urgent, soonest due first; W2's): a page of a broad
            # filter stops after its 25 rows instead of sorting every match.
            models.Index(fields=["-priority", "due_date", "id"], name="ticket_priority_due"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["due_date"], name="ticket_due_date"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments", db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="comments")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_created")]

    def __str__(self) -> str:
        return f"comment on {self.ticket_id} by {self.author_id}"


class Watcher(models.Model):
    """A user who hears about a ticket's changes (SPEC §11): its reporter, its assignees and commenters
    (written by the services that make them so, in the same transaction), and whoever asked to.

    Here rather than in `notifications`, which reads it, because tickets' own answers show it
    (`is_watching`, `watcher_count`) and tickets never imports the apps that consume its events.
    Rows are written by raw INSERT ... ON CONFLICT DO NOTHING (tickets.services.watchers), so the
    database fills in the timestamp.

    A deleted ticket's watchers outlive it (no constraint, nothing cascades) until the worker has
    told them of the deletion (`ticket.deleted` is an event of a watched ticket too): the app that
    reads the events then deletes them. A project's deletion deletes its tickets' watchers at once.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.DO_NOTHING, db_constraint=False, related_name="watchers", db_index=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watching")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["created_at", "id"]
        # Its index serves a ticket's watchers (count, list, the worker's fan-out) and "am I watching".
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="unique_watcher")]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.ticket_id}"


class ImageStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Image(models.Model):
    """An image attached to a ticket. Uploads wait as PendingImageData until the worker stores them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="images", db_index=False)
    status = models.CharField(max_length=12, choices=ImageStatus.choices, default=ImageStatus.PENDING)
    original_filename = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=50)
    bytes = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=10, blank=True, default="")
    url = models.URLField(max_length=1000, blank=True, default="")
    thumbnail_url = models.URLField(max_length=1000, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="uploaded_images"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="image_ticket_created"),
            models.Index(fields=["status", "updated_at"], name="image_status_updated"),
        ]

    def __str__(self) -> str:
        return f"image {self.id} ({self.status})"


class PendingImageData(models.Model):
    """The uploaded bytes, in the database so that a worker on any machine can read them.

    Deleted by the job once the image is stored, and with the image. A failed image keeps them for
    `IMAGE_FAILED_RETENTION_HOURS` so that it can be retried (`images_retry_failed`).
    """

    image = models.OneToOneField(Image, on_delete=models.CASCADE, primary_key=True, related_name="pending_data")
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pending bytes of {self.image_id}"


class EventType(models.TextChoices):
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    TICKET_DELETED = "ticket.deleted"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"
    IMAGE_CREATED = "image.created"
    IMAGE_READY = "image.ready"
    IMAGE_FAILED = "image.failed"
    IMAGE_DELETED = "image.deleted"
    MEMBER_ADDED = "member.added"
    MEMBER_UPDATED = "member.updated"
    MEMBER_REMOVED = "member.removed"
    PROJECT_UPDATED = "project.updated"
    PROJECT_DELETED = "project.deleted"


class Event(models.Model):
    """One change, written in the transaction that made it; `seq` orders all events in commit order."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    type = models.CharField(max_length=32, choices=EventType.choices)
    # Deleting a project deletes its events (the ORM cascades), and then writes `project.deleted`,
    # which must outlive its project: so no database constraint (tickets.services.projects).
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )
    # A plain id, not a foreign key: the history of a ticket outlives the ticket (ticket.deleted).
    ticket = models.UUIDField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    changes = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Set once the channel layer took the event; the worker re-publishes those it never took (outbox).
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["ticket", "seq"], name="event_ticket_seq"),
            models.Index(fields=["project", "seq"], name="event_project_seq"),
            models.Index(fields=["seq"], condition=models.Q(published_at__isnull=True), name="event_unpublished"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type}"


class EventCounter(models.Model):
    """The last event `seq` handed out, in one row (id 1): each event writer updates it in its INSERT
    statement and holds it locked until commit, so numbers follow commit order
    (tickets.services.event_writing). Numbers are never reused, even once their events are deleted."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"last event #{self.last}"


class ImportFormat(models.TextChoices):
    HOPLA_CSV = "hopla-csv"
    GITHUB_JSON = "github-json"
    JIRA_CSV = "jira-csv"


class ImportStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TicketImport(models.Model):
    """A file of tickets from elsewhere, imported into a project by the worker (SPEC §13)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=12, choices=ImportFormat.choices)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # [{row, field, message}]: row 1 is the first record after a CSV's header (the first element of a JSON list).
    errors = models.JSONField(default=list, blank=True)
    # The uploaded file, kept in the database so that a worker on any machine reads it; emptied when done.
    source = models.BinaryField(default=bytes, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.format} import into {self.project_id} ({self.status})"


class ListStamp(models.Model):
    """A number (one row, id 1) that grows with every change a ticket list shows but no event records:
    a watch or unwatch (`is_watching`, `watcher_count`) and a user's new name or email (the assignee
    and reporter summaries), or a deleted user. Part of the list's ETag (tickets.list_etag), with the
    newest event of each of the reader's projects, which every other change writes.

    Bumped in the transaction of the change: watches by tickets.services.watchers, users by a
    PostgreSQL trigger on accounts_user (migration 0009), so the admin and a shell bump it too."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"list stamp {self.value}"
