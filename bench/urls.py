"""hopla's URLs plus the floor views the workloads are compared with (bench settings only)."""

from django.urls import path

from bench import board, floor, instrument
from hopla.urls import urlpatterns as hopla_urlpatterns

urlpatterns = [
    path("bench/floor/tickets/", floor.ticket_list_or_create),
    path("bench/floor/board.html", board.floor_view),
    path("bench/enqueue-timings/", instrument.enqueue_timings),
    # hopla's own catch-all JSON 404 under /api/ comes last in its list: ours go before it.
    *hopla_urlpatterns,
]
