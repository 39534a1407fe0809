"""Serving locally stored images (the embedded default, or any deployment without Cloudinary)."""

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.cache import cache_control
from django.views.static import serve


@cache_control(public=True, max_age=3600)
def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Django's static file view, reading MEDIA_ROOT per request; it refuses paths that leave the root."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
