"""Model signals of accounts: every write that can end what authenticates a user reaches its open WebSockets.

A signal rather than calls in the services and the admin: passwords and activity are also written by
the admin's change form and its password form, `manage.py changepassword` and the shell, and a socket
must not outlive its credentials whichever path changed them. (A queryset `update()` sends no signal;
the connections' own periodic check covers it, see realtime.consumers.REAUTHENTICATE_AFTER_SECONDS.)
"""

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from accounts.services import user_connections_reauthenticate

# The fields whose change can refuse a token: its password hash claim, and the account's activity.
CREDENTIAL_FIELDS = frozenset({"password", "is_active"})


@receiver(post_save, sender=User, dispatch_uid="accounts.user_saved")
def _user_saved(sender: type[User], instance: User, created: bool, update_fields: Any, **kwargs: Any) -> None:
    # A save naming its fields says whether credentials could have changed (a login saves `last_login`
    # alone); a full save may have changed them. A save that changed nothing costs each open connection
    # of the user one read of its row.
    if created or (update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields)):
        return
    user_connections_reauthenticate(user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_deleted")
def _user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    user_connections_reauthenticate(user_id=instance.pk)


@receiver(user_logged_out, dispatch_uid="accounts.user_logged_out")
def _user_logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    # The board's sockets authenticate with the session (SPEC §7): the one whose session just ended
    # finds it gone when it checks again, and closes; the user's other sessions stay.
    if user is not None:
        user_connections_reauthenticate(user_id=user.pk)
