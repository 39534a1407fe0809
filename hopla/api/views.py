"""Fallback views that keep the API's error contract where no DRF view answers."""

from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing; without this, unsafe methods get Django's HTML CSRF 403
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any unknown path under /api/ answers JSON 404 (Django would answer an HTML page)."""
    detail = "No API endpoint at this path."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"No API endpoint at this path; did you mean {request.path}/ ?"
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)


def server_error(request: HttpRequest, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    """handler500: JSON without a stack trace on the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "A server error occurred.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
