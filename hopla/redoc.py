"""Redoc's bundle as /redoc/ loads it: the sidecar's copy, minus the one address it fetches from another host."""

import functools
import hashlib
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import etag, require_safe

SIDECAR_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# Redoc draws Redocly's logo in its sidebar from their CDN, and has no option to leave it out
# (Redocly/redoc#2108, tfranzel/drf-spectacular-sidecar#11). An empty address fails at once without a
# request and Redoc then drops the image (its onError handler); the "API docs by Redocly" link stays.
REDOCLY_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO = b'src:""'
# The bundle names its source map relative to itself; the sidecar's copy stays under /static/.
SOURCE_MAP = b"//# sourceMappingURL=redoc.standalone.js.map"


class RedocBundleChanged(RuntimeError):
    """The sidecar's bundle no longer holds what `redoc_bundle` rewrites: check the new Redoc's requests."""


@functools.cache
def redoc_bundle_content() -> tuple[bytes, str]:
    """The rewritten bundle and its ETag, read once per process."""
    found = finders.find(SIDECAR_BUNDLE)
    if found is None:
        raise RedocBundleChanged(f"{SIDECAR_BUNDLE} is missing")
    original = Path(found).read_bytes()
    for expected in (REDOCLY_LOGO, SOURCE_MAP):
        if original.count(expected) != 1:
            raise RedocBundleChanged(f"{SIDECAR_BUNDLE} should contain {expected.decode()!r} once")
    source_map = f"//# sourceMappingURL={static(SIDECAR_BUNDLE + '.map')}".encode()
    content = original.replace(REDOCLY_LOGO, NO_LOGO).replace(SOURCE_MAP, source_map)
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


@require_safe
@cache_control(public=True, max_age=60)  # as whitenoise serves the docs' other unhashed assets
@etag(lambda request: redoc_bundle_content()[1])
@gzip_page
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(redoc_bundle_content()[0], content_type="text/javascript; charset=utf-8")
