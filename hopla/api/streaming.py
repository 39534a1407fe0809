"""Streamed API answers (exports): a body written chunk by chunk while the rows are read.

Under ASGI, Django serves a streamed body from an asynchronous iterator chunk by chunk, but collects a
synchronous one into a list first (all of it in memory: StreamingHttpResponse.__aiter__); under WSGI
(and the test client) the other way round. The response gets the iterator of the server's kind. The
asynchronous one pulls each chunk in the request's thread (`thread_sensitive`), where the database
connection and its server-side cursor live.
"""

from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


def streaming_response(
    chunks: Iterator[bytes], *, request: Request | HttpRequest, content_type: str, filename: str
) -> StreamingHttpResponse:
    # An ASGIRequest carries its ASGI `scope` (DRF's Request hands attribute reads to it); WSGI's has none.
    served_by_asgi = isinstance(getattr(request, "scope", None), dict)
    content: Iterator[bytes] | AsyncIterator[bytes] = (
        _pulled_in_the_request_thread(chunks) if served_by_asgi else chunks
    )
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def _pulled_in_the_request_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    def pull() -> bytes | None:
        return next(chunks, None)

    pull_in_thread = sync_to_async(pull, thread_sensitive=True)
    while (chunk := await pull_in_thread()) is not None:
        yield chunk


class FileFormatNegotiation(DefaultContentNegotiation):
    """For endpoints whose `?format=` names the file to write (csv, ndjson), not one of DRF's renderers
    (DRF's URL_FORMAT_OVERRIDE would answer 404 for it): errors are answered with the first renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, str(first.media_type)
