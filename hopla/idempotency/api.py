"""`IdempotentPostMixin`: the Idempotency-Key header on every authenticated POST (SPEC §10).

It hooks DRF's own request cycle, once for every view that mixes it in (`accounts.actor.ActorMixin`, the
base of every authenticated API view). A POST that carries the header runs in one transaction
(`dispatch`); after authentication, permissions and throttling (`initial`), it claims its key (a guard
in the cache, see `hopla.idempotency.services`); its answer is recorded when DRF finalizes it, in that
same transaction, so that the record commits with the request's writes (one commit, as without a key).
A repeat never reaches the handler: it is answered from the kept row, refused (422, 409), or, if its
first run failed on the server (5xx, not kept), run again. A run that finds, at its record, that another
run of the key committed first (the guard was lost with Redis) rolls its writes back and answers the
kept row, as a repeat would.
"""

import hashlib
import re
from typing import Any, NoReturn

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hopla.api.exceptions import ApplicationError
from hopla.idempotency.models import KeyStatus
from hopla.idempotency.services import (
    KEPT_HEADERS,
    Claim,
    KeptRequest,
    idempotency_claim,
    idempotency_record,
    idempotency_release,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 visible ASCII characters; the IETF draft sends it as a structured-field string (in quotes).
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Seconds a client is told to wait before repeating a request whose first run is still going.
RETRY_AFTER_SECONDS = 1


class IdempotencyInProgress(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still running; repeat it once that one has answered.",
            code="idempotency_in_progress",
            status_code=status.HTTP_409_CONFLICT,
            extra={"retry_after": RETRY_AFTER_SECONDS},
        )


class _Replay(Exception):
    """Raised from `initial` to answer a repeat with the kept response instead of running the handler."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("replayed")
        self.response = response


def idempotency_key(request: Request) -> str | None:
    """The request's key, None without the header; 400 `invalid_idempotency_key` when malformed."""
    offered = request.headers.get(HEADER)
    if offered is None:
        return None
    key = offered[1:-1] if len(offered) >= 2 and offered[0] == offered[-1] == '"' else offered
    if not _VALID_KEY.match(key):
        raise ApplicationError(
            f"{HEADER} must be 1 to 255 visible ASCII characters (no spaces or control characters).",
            code="invalid_idempotency_key",
        )
    return key


def request_fingerprint(request: Request) -> str:
    """SHA-256 of method, path and body. A multipart body is read as its fields and its files' bytes:
    its boundary (random per send) would make every retry of an upload look like another request."""
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    content_type = request.content_type or ""
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        for name, value in sorted(request.POST.lists()):
            digest.update(f"field\n{name}\n{value!r}\n".encode())
        for name, uploads in sorted(request.FILES.lists()):
            for upload in uploads:
                digest.update(f"file\n{name}\n{upload.name}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)  # the handler reads it again
    else:
        try:
            digest.update(request.body)
        except RawPostDataException:  # the stream was parsed already: the parsed data then
            digest.update(repr(request.data).encode())
    return digest.hexdigest()


def replay_response(kept: KeptRequest) -> HttpResponse:
    assert kept.response_status is not None
    response = HttpResponse(kept.response_body or b"", status=kept.response_status)
    for name, value in kept.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotentPostMixin(APIView):
    """Keeps the answer of each authenticated POST sent with an Idempotency-Key and replays it."""

    _idempotency_claim: Claim | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST" or HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)
        try:
            # The handler's writes and the key's record commit together (transaction.on_commit hooks
            # run after both, or not at all when the record finds the key taken).
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        finally:
            self._release_claim()  # still held only when the answer was not recorded (an exception)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method != "POST" or not request.user.is_authenticated:
            return
        key = idempotency_key(request)
        if key is None:
            return
        fingerprint = request_fingerprint(request)
        outcome = idempotency_claim(user_id=request.user.pk, key=key, fingerprint=fingerprint)
        if isinstance(outcome, Claim):
            self._idempotency_claim = outcome
        else:
            raise _answer_from(outcome, fingerprint)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            # DRF's dispatch and finalize_response take any HttpResponse; the stubs say Response.
            return exc.response  # type: ignore[return-value]
        response = super().handle_exception(exc)
        if isinstance(exc, IdempotencyInProgress):
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def raise_uncaught_exception(self, exc: Exception) -> NoReturn:
        self._release_claim()  # the 500 Django answers next is not kept
        super().raise_uncaught_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        claim = self._idempotency_claim
        if claim is None:
            return response
        if response.status_code >= 500 or response.streaming:
            self._release_claim()
            return response
        render = getattr(response, "render", None)
        if render is not None:
            render()  # DRF renders after the view returns; the bytes kept are the bytes sent
        assert isinstance(response, HttpResponse)
        headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
        taken = idempotency_record(claim=claim, status=response.status_code, headers=headers, body=response.content)
        self._idempotency_claim = None  # recorded, or another run's: the guard stays for the key's repeats
        if taken is None:
            return response
        # Another run of this key committed first: nothing of this one is kept; answer as a repeat would.
        transaction.set_rollback(True)
        refusal = self.handle_exception(_answer_from(taken, claim.fingerprint))
        return super().finalize_response(request, refusal, *args, **kwargs)

    def _release_claim(self) -> None:
        claim, self._idempotency_claim = self._idempotency_claim, None
        if claim is not None:
            idempotency_release(claim=claim)


def _answer_from(kept: KeptRequest, fingerprint: str) -> Exception:
    """What answers a request whose key is held: 422 (another request), 409 (running), or the replay."""
    if kept.fingerprint != fingerprint:
        return ApplicationError(
            f"This {HEADER} was used for another request (method, path or body); use a new key.",
            code="idempotency_key_reused",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if kept.status == KeyStatus.IN_PROGRESS:
        return IdempotencyInProgress()
    return _Replay(replay_response(kept))
