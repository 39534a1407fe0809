"""The signed-in user behind an API request, typed as hopla's `User` for the services views call."""

from rest_framework.exceptions import NotAuthenticated

from accounts.models import User
from hopla.idempotency.api import IdempotentPostMixin


class ActorMixin(IdempotentPostMixin):
    """Gives an API view `actor`: the authenticated user making the request. Mixed in before the
    view's own base (an APIView itself, so that `self.request` is DRF's Request). Every authenticated
    view has it, and with it the Idempotency-Key handling of its POSTs."""

    @property
    def actor(self) -> User:
        """DRF types `request.user` as any user, anonymous included; the views that use `actor` let only
        authenticated users in (IsAuthenticated, the default permission), so this answers 401 only for
        a view that forgot its permission."""
        user = self.request.user
        if not isinstance(user, User):
            raise NotAuthenticated()
        return user
