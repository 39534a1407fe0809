"""The channel-layer groups WebSocket connections listen on, and sending to them from synchronous code.

Named here, below the apps, because the apps that publish (tickets, accounts) and the one that listens
(realtime) must agree on the names, and realtime imports the others, not the other way round.
"""

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer

# The message that tells a user's connections to check that their token still authenticates (the
# password changed, the account was deactivated or deleted); Channels hands it to the consumer's
# `credentials_changed` method.
CREDENTIALS_CHANGED = "credentials.changed"

# A stalled Redis must not hold the request that made the change for long (hopla's Redis layer
# bounds its blocking send with its own `publish_timeout_seconds`, 2 s too).
_SEND_TIMEOUT_SECONDS = 2.0


def project_group(project_id: Any) -> str:
    """The group that receives every event of one project."""
    return f"project.{project_id}"


def user_group(user_id: Any) -> str:
    """The group of one user's connections: told when the user joins or leaves a project, or when
    what authenticated them may have changed."""
    return f"user.{user_id}"


def groups_send(groups: list[str], message: dict[str, Any]) -> bool:
    """Send `message` to each group in order, from code that has no event loop; answers False when no
    channel layer is configured. Raises what the layer raises (Redis away, a send timed out)."""
    layer = get_channel_layer()
    if layer is None:
        return False
    send_blocking = getattr(layer, "group_send_blocking", None)  # hopla's Redis layer (realtime/layers.py)
    if send_blocking is None:
        async_to_sync(_group_send_all)(layer, groups, message)
    else:
        for group in groups:
            send_blocking(group, message)
    return True


def groups_send_many(sends: list[tuple[list[str], dict[str, Any]]]) -> bool:
    """`groups_send` of each (groups, message) in order; with hopla's Redis layer, in one round trip
    per Redis shard. Answers False when no channel layer is configured; raises what the layer raises."""
    layer = get_channel_layer()
    if layer is None:
        return False
    send_many = getattr(layer, "group_send_many_blocking", None)
    if send_many is None:
        for groups, message in sends:
            groups_send(groups, message)
    else:
        send_many([(group, message) for groups, message in sends for group in groups])
    return True


async def _group_send_all(layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]) -> None:
    async with asyncio.timeout(_SEND_TIMEOUT_SECONDS):
        for group in groups:
            await layer.group_send(group, message)
