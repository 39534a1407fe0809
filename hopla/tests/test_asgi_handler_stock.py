"""hopla's ASGI handler answers through Django's sync `get_response` where Django calls `get_response_async`.

That is Django's own behaviour only while the two methods take the same steps (DEPARTURES.md). They are
compared by the names they use: a step added to either one in a new Django fails this test.
"""

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

from hopla.asgi_handler import ThreadPerRequestASGIHandler


def test_djangos_async_response_path_takes_the_steps_of_its_sync_one() -> None:
    sync_steps = set(BaseHandler.get_response.__code__.co_names)
    async_steps = set(BaseHandler.get_response_async.__code__.co_names) - {"sync_to_async"}  # its log line's hop
    assert async_steps == sync_steps


def test_the_asgi_handler_still_answers_through_the_method_hopla_replaces() -> None:
    assert "get_response_async" in ASGIHandler.run_get_response.__code__.co_names
    assert "load_middleware" in ASGIHandler.__init__.__code__.co_names
    assert ThreadPerRequestASGIHandler.run_get_response is ASGIHandler.run_get_response
