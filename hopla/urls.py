"""Root URLs: the board at /, the API under /api/v1/, its docs, the admin, health checks and optional Silk."""

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from hopla.api.views import api_not_found
from hopla.health import healthz, readyz
from hopla.media import serve_media
from hopla.redoc import redoc_bundle
from notifications.unsubscribing import unsubscribe

api_v1 = [
    path("auth/", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("", include("webhooks.urls")),
    path("", include("notifications.urls")),
]

# Swagger UI and Redoc configure themselves in inline scripts (drf-spectacular's templates), which the
# site's Content-Security-Policy forbids: these two third-party pages go without it.
docs_page = csp_exempt()

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="board:projects"), name="home"),
    path("", include("board.urls")),
    path("", include("accounts.page_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("swagger/", docs_page(SpectacularSwaggerView.as_view(url_name="schema")), name="swagger-ui"),
    path("documentation/", docs_page(SpectacularSwaggerView.as_view(url_name="schema")), name="documentation"),
    path("redoc/", docs_page(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("redoc/bundles/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    path("admin/", admin.site.urls),
    path("notifications/unsubscribe/<str:token>/", unsubscribe, name="notifications-unsubscribe"),
    re_path(r"^healthz/?$", healthz, name="healthz"),
    re_path(r"^readyz/?$", readyz, name="readyz"),
]

if settings.SILK_ENABLED:
    urlpatterns.append(path("silk/", include("silk.urls", namespace="silk")))

# Without Cloudinary the app serves its stored images itself, in every environment (SPEC §6).
urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>images/.+)$", serve_media, name="media"))

# Last: whatever else is asked under /api/ is a JSON 404, never Django's HTML page.
urlpatterns.append(re_path(r"^api/", api_not_found))

handler500 = "hopla.api.views.server_error"
