"""Tickets in and out in bulk (SPEC §13): the streamed export, bulk changes, imports."""

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import ActorMixin
from hopla.api.exceptions import ApplicationError
from hopla.api.streaming import FileFormatNegotiation, streaming_response
from tickets import export, selectors
from tickets.apis import HoplaViewSet
from tickets.filters import TicketFilter
from tickets.models import Role, Ticket, TicketImport
from tickets.serializers import (
    TicketBulkSerializer,
    TicketImportCreateSerializer,
    TicketImportSerializer,
    TicketWatchingSerializer,
)
from tickets.services import bulk, imports

CSV_EXAMPLE = (
    "key,title,status,priority,labels,assignee,reporter,due_date,created_at,updated_at,closed_at,description\r\n"
    'OPS-2,\'=SUM(A1:A9) in the report,open,high,"billing,urgent",ann@example.com,bob@example.com,2031-01-31,'
    '2026-12-04T10:00:00.123456Z,2026-12-04T10:05:00.654321Z,,"Two lines,\r\nwith a ""quote"""\r\n'
)
NDJSON_EXAMPLE = (
    '{"key":"OPS-2","title":"=SUM(A1:A9) in the report","status":"open","priority":"high",'
    '"labels":["billing","urgent"],"assignee":"ann@example.com","reporter":"bob@example.com",'
    '"due_date":"2031-01-31","created_at":"2026-12-04T10:00:00.123456Z",'
    '"updated_at":"2026-12-04T10:05:00.654321Z","closed_at":null,"description":"Two lines,\\nwith a \\"quote\\""}\n'
)


@extend_schema(
    tags=["tickets"],
    summary="Export every matching ticket as CSV or NDJSON (streamed, not paged)",
    description="Every ticket of your projects that the list filters select, in their `ordering`, written "
    "as it is read: CSV (RFC 4180, UTF-8, header row; cells starting with `= + - @` get a leading `'`) or "
    "NDJSON (one object per line). Columns: " + ", ".join(export.COLUMNS) + " (assignee and reporter by email).",
    parameters=[
        OpenApiParameter(
            "format", OpenApiTypes.STR, enum=list(export.WRITERS), default="csv", description="The file's format."
        )
    ],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="A CSV file", examples=[OpenApiExample("CSV", value=CSV_EXAMPLE)]
        ),
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.STR,
            description="One JSON object per line",
            examples=[OpenApiExample("NDJSON", value=NDJSON_EXAMPLE)],
        ),
    },
)
class TicketExportApi(ActorMixin, GenericAPIView):
    queryset = Ticket.objects.none()
    filterset_class = TicketFilter
    pagination_class = None
    content_negotiation_class = FileFormatNegotiation  # `format` is the file's, errors answer JSON

    def get_queryset(self) -> QuerySet[Ticket]:
        return selectors.ticket_list(user=self.actor)

    def get(self, request: Request) -> StreamingHttpResponse:
        file_format = request.query_params.get("format", "csv")
        if file_format not in export.WRITERS:
            message = f"Choose one of: {', '.join(export.WRITERS)}."
            raise ValidationError({"format": [ErrorDetail(message, code="invalid_choice")]})
        tickets = self.filter_queryset(self.get_queryset())
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return streaming_response(
            export.WRITERS[file_format](tickets),
            request=request,
            content_type=export.CONTENT_TYPES[file_format],
            filename=f"hopla-tickets-{stamp}.{file_format}",
        )


BULK_ERRORS = inline_serializer(
    "TicketBulkError",
    many=True,
    fields={
        "ticket": serializers.CharField(help_text="The reference as the request gave it."),
        "code": serializers.CharField(
            help_text="`not_found`, `duplicate`, `permission_denied`, `not_a_member`, `precondition_failed` or "
            "`invalid_transition`."
        ),
        "detail": serializers.CharField(),
    },
)


@extend_schema(
    tags=["tickets"],
    summary="Change up to 500 tickets at once, each changed or refused on its own",
    description="Each ticket is checked as a PATCH would be (your role in its project, its `if_match`, the "
    "status workflow, the assignee's membership) and each change writes its own `ticket.updated` event. "
    "A ticket already as asked is answered in `updated`, unchanged and without an event.",
    request=TicketBulkSerializer,
    responses={
        200: inline_serializer(
            "TicketBulkResult", {"updated": TicketWatchingSerializer(many=True), "errors": BULK_ERRORS}
        )
    },
    examples=[
        OpenApiExample(
            "Close two tickets, one at a known version",
            value={"tickets": ["OPS-3", {"ticket": "OPS-4", "if_match": '"2"'}], "set": {"status": "closed"}},
            request_only=True,
        ),
        OpenApiExample(
            "Relabel and reassign",
            value={
                "tickets": ["OPS-3", "OPS-4"],
                "set": {"assignee": "ann@example.com", "priority": "high"},
                "labels_add": ["q3"],
                "labels_remove": ["backlog"],
            },
            request_only=True,
        ),
        OpenApiExample(
            "One changed, one refused",
            value={
                "updated": ["<the ticket as GET /tickets/OPS-3/ shows it>"],
                "errors": [
                    {
                        "ticket": "OPS-4",
                        "code": "invalid_transition",
                        "detail": "A ticket cannot move from open to closed; from open it can move to: in_progress.",
                    }
                ],
            },
            response_only=True,
        ),
    ],
)
class TicketBulkApi(ActorMixin, APIView):
    def post(self, request: Request) -> Response:
        serializer = TicketBulkSerializer(data=request.data, context={"actor": self.actor})
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        outcome = bulk.tickets_bulk_update(
            actor=self.actor,
            targets=[bulk.BulkTarget(reference, if_match) for reference, if_match in fields["tickets"]],
            changes=dict(fields.get("set", {})),
            labels_add=fields.get("labels_add"),
            labels_remove=fields.get("labels_remove"),
        )
        return Response({"updated": outcome.updated, "errors": outcome.errors})


IMPORT_EXAMPLE = {
    "id": "3f0c1e9a-5a7b-4a53-9d55-0e1b8f2f6b11",
    "status": "succeeded",
    "format": "jira-csv",
    "dry_run": False,
    "total": 3,
    "processed": 3,
    "created": 2,
    "skipped": 0,
    "errors": [{"row": 2, "field": "status", "message": "Unknown Jira status 'Parked' (see the README's table)."}],
    "created_at": "2026-12-04T10:00:00.000000Z",
    "finished_at": "2026-12-04T10:00:01.250000Z",
}


@extend_schema_view(
    create=extend_schema(
        summary="Import tickets from a file (admins); the worker runs it",
        description="`format`: `hopla-csv` (the export), `github-json` (GitHub's REST issues list), `jira-csv` "
        "(Jira's CSV export). Answers 202 at `pending`; follow it with GET. Every row is checked before any is "
        "written: a file not of its format fails with nothing written; a bad row is listed in `errors` and left "
        "out. Tickets get new keys in file order and keep their source in `external_ref`; importing the same file "
        "again skips what is there. A file over `IMPORT_MAX_BYTES` is a 413 `too_large`.",
        request={"multipart/form-data": TicketImportCreateSerializer},
        responses={202: TicketImportSerializer},
        examples=[OpenApiExample("An import", value=IMPORT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="An import's progress and outcome (admins)",
        examples=[OpenApiExample("An import", value=IMPORT_EXAMPLE, response_only=True)],
    ),
)
@extend_schema(tags=["imports"])
class TicketImportViewSet(HoplaViewSet):
    queryset = TicketImport.objects.none()
    serializer_class = TicketImportSerializer
    parser_classes = [MultiPartParser]
    lookup_url_kwarg = "import_id"
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, project: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "import tickets")
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.IMPORT_MAX_BYTES
        if declared > limit + 64 * 1024:  # refused before reading it (the form's own fields are small)
            raise FileTooLarge(limit)
        serializer = TicketImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > limit:
            raise FileTooLarge(limit)
        ticket_import = imports.import_create(
            project=instance,
            actor=self.actor,
            file_format=serializer.validated_data["format"],
            dry_run=serializer.validated_data["dry_run"],
            data=b"".join(upload.chunks()),
        )
        return Response(TicketImportSerializer(ticket_import).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request: Request, project: str, import_id: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "see imports")
        ticket_import = selectors.import_get(project=instance, import_id=import_id)
        return Response(TicketImportSerializer(ticket_import).data)


class FileTooLarge(ApplicationError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Import files are limited to {limit} bytes (IMPORT_MAX_BYTES).",
            code="too_large",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
