"""Django's ASGI handler, with each HTTP request's middleware and view run in one worker thread."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class ThreadPerRequestASGIHandler(ASGIHandler):
    """Runs the middleware chain in sync mode, as under WSGI, in the request's thread.

    Every hopla view is synchronous, and so is some of the middleware (the request log, whitenoise).
    Django's async handler then crosses between the event loop and the request's thread around each
    sync middleware, for every hook of the middleware that can run both ways (sessions, CSRF, ...:
    Django's MiddlewareMixin runs each hook through sync_to_async) and for the view: about a dozen
    crossings per request, a third of a simple list request's CPU (py-spy on bench W1). In sync mode
    the chain costs one crossing. WebSockets do not come here (Channels routes them).
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
