"""The API's selectors for session pages: the same permission checks, answered as pages answer them.

The selectors raise the API's errors (404 for outsiders, 403 below the role); a page turns them into
Django's Http404 and PermissionDenied, so that no page has an authorization path of its own.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import Http404

from hopla.api.exceptions import ActionForbidden, ObjectNotFound

T = TypeVar("T")


@contextmanager
def as_page_errors() -> Iterator[None]:
    """Within it, a selector's 404 or 403 becomes the page's."""
    try:
        yield
    except ObjectNotFound as error:
        raise Http404(str(error.detail)) from error
    except ActionForbidden as error:
        raise PermissionDenied(str(error.detail)) from error


def page_lookup(selector: Callable[..., T], **kwargs: Any) -> T:
    """`selector(**kwargs)` with its refusals turned into the page's 404 or 403."""
    with as_page_errors():
        return selector(**kwargs)
