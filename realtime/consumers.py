"""The event stream: one WebSocket per client, fed its projects' events live and, on request, from history."""

import asyncio
import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, connection

from accounts.models import User
from hopla.channel_groups import project_group, user_group
from realtime.authentication import (
    Credentials,
    credentials_from_session,
    credentials_from_token,
    session_key_from_scope,
    token_from_scope,
)
from realtime.protocol import (
    ClientMessage,
    ErrorCode,
    Ping,
    ProtocolError,
    Resume,
    Subscribe,
    Unsubscribe,
    client_message_parse,
)
from realtime.selectors import event_replay_batch, member_project_ids
from tickets.models import EventType

logger = logging.getLogger("hopla.realtime")

# The close code for "not authenticated" (4000-4999 are the application's; 4401 mirrors HTTP 401).
CLOSE_UNAUTHENTICATED = 4401
# Events read from the table per query during a replay: bounds the memory one resume can take.
REPLAY_BATCH_SIZE = 500
# How many of the latest events sent are remembered, so that a replay does not send them again.
RECENTLY_SENT_LIMIT = 2000
# How long a connection trusts its last check of the token before an event it is about to send makes it
# check again. Changes of the user's credentials are announced at once (`credentials_changed`); this
# bounds the life of a connection that missed the announcement (Redis was away when it was sent).
# Long enough that a fan-out (bench W4: 500 sockets) rarely pays a read of the user per socket.
REAUTHENTICATE_AFTER_SECONDS = 60.0

_MEMBERSHIP_CHANGES = {EventType.MEMBER_ADDED, EventType.MEMBER_REMOVED}


def _replay_batch_on_a_worker(**kwargs: Any) -> list[dict[str, Any]]:
    """`event_replay_batch` for a worker thread, off the one thread that Channels runs every consumer's
    database calls and dispatch on, so that a long history does not hold up the process's other
    connections. The worker's connection is closed here: Channels' cleanup does not reach it there."""
    try:
        return event_replay_batch(**kwargs)
    finally:
        connection.close()


class EventStreamConsumer(AsyncWebsocketConsumer):
    """Authenticates, joins the groups of the user's projects, forwards their events.

    Every event goes out at most once per connection. Membership is checked when an event is
    delivered, against a per-connection copy refreshed whenever the user joins or leaves a project.
    The connection lives no longer than its token authenticates: it is closed (4401) when the token
    expires, when the user's credentials change, and at delivery once a check older than
    `REAUTHENTICATE_AFTER_SECONDS` finds the token refused.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user: User | None = None
        self.token = ""
        self.session_key = ""  # a same-origin page's session, when no token was given
        self.authenticated_at = 0.0  # time.monotonic() of the last check that the token authenticates
        self.closing = False  # closed by the server: nothing more may be sent
        self.expiry: asyncio.Task[None] | None = None
        self.member_of: set[str] = set()  # the user's projects, as of the last membership change
        self.subscribed: set[str] = set()  # those whose events this connection wants
        # Seqs of the latest events sent (a dict is an ordered set), and the seq at or below which
        # nothing more is sent: the client either has it or has just been sent it by a replay.
        self.recently_sent: dict[int, None] = {}
        self.sent_through = 0
        # While a replay runs, live events wait here, to go out after it without gap or repeat.
        self.live_buffer: list[dict[str, Any]] | None = None
        self.replay: asyncio.Task[None] | None = None

    # --- Connection --------------------------------------------------------------------------------

    async def connect(self) -> None:
        self.token = token_from_scope(self.scope)
        if not self.token:
            self.session_key = session_key_from_scope(self.scope)
        credentials = await database_sync_to_async(self._credentials)()
        if credentials is None:
            # A close before accept becomes an HTTP 403 without a code; accept first, then close.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            logger.info("websocket refused", extra={"fields": {"reason": "bad or missing token or session"}})
            return
        user = self.user = credentials.user
        self.authenticated_at = time.monotonic()
        # A credentials change committed between the check above and this join is announced to a group
        # this connection is not yet in: the check before sending (REAUTHENTICATE_AFTER_SECONDS) covers it.
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        self.member_of = await database_sync_to_async(member_project_ids)(user=user)
        for project in sorted(self.member_of):
            await self._join(project)
        await self.accept()
        # Channel-layer messages wait until this handler returns, so hello is always the first message.
        await self._send({"type": "hello", "user": str(user.pk), "projects": sorted(self.subscribed)})
        self.expiry = asyncio.create_task(self._close_at(credentials.expires_at))
        logger.info(
            "websocket connected",
            extra={"fields": {"user": str(user.pk), "projects": len(self.subscribed), "channel": self.channel_name}},
        )

    async def disconnect(self, code: int) -> None:
        tasks = [task for task in (self.replay, self.expiry) if task is not None]
        for task in tasks:
            task.cancel()
        # Collects the tasks' ends, whether cancelled or failed on sending to the gone client.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.user is None:
            return
        logger.info(
            "websocket disconnected",
            extra={"fields": {"user": str(self.user.pk), "code": code, "channel": self.channel_name}},
        )
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        for project in list(self.subscribed):
            await self._leave(project)

    # --- Client messages ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = client_message_parse(text_data, bytes_data)
            await self._handle(message)
        except ProtocolError as error:
            await self._send_error(error.code, error.detail)

    async def _handle(self, message: ClientMessage) -> None:
        match message:
            case Ping():
                await self._send({"type": "pong"})
            case Subscribe(project=project):
                await self._subscribe(project)
            case Unsubscribe(project=project):
                await self._unsubscribe(project)
            case Resume(after_seq=after_seq):
                self._start_replay(after_seq)

    async def _subscribe(self, project: str) -> None:
        if project not in self.member_of:
            # The copy may lag behind a membership change whose event has not arrived: ask the table.
            await self._sync_membership()
        if project not in self.member_of:
            raise ProtocolError(ErrorCode.PROJECT_NOT_FOUND, "You are not a member of this project.")
        await self._join(project)

    async def _unsubscribe(self, project: str) -> None:
        if project not in self.member_of and project not in self.subscribed:
            raise ProtocolError(ErrorCode.PROJECT_NOT_FOUND, "You are not a member of this project.")
        await self._leave(project)

    def _start_replay(self, after_seq: int) -> None:
        if self.replay is not None:
            raise ProtocolError(ErrorCode.RESUME_IN_PROGRESS, "Wait for the current resume to finish.")
        self.live_buffer = []
        # In a task of its own, so that pings are answered and live events buffered while it runs.
        self.replay = asyncio.create_task(self._replay(after_seq))

    # --- Channel-layer messages --------------------------------------------------------------------

    async def event_message(self, message: dict[str, Any]) -> None:
        """An event published after its commit (`tickets.services.event_publishing.event_publish`)."""
        event = message["event"]
        if self._about_own_membership(event):
            await self._sync_membership()
        if self.live_buffer is not None:
            self.live_buffer.append(event)
        else:
            await self._deliver(event)

    async def notifications_message(self, message: dict[str, Any]) -> None:
        """New notifications the worker made (`notifications.making.notifications_push`), on the user's
        own group: each sent whatever projects this connection subscribed to, only while the user is a
        member of its project (checked as for events, the copy re-read when it does not hold it)."""
        notifications = message["notifications"]
        if any(notification["project"] not in self.member_of for notification in notifications):
            await self._sync_membership()
        if not await self._still_authenticated():
            return
        for notification in notifications:
            if notification["project"] in self.member_of:
                await self._send({"type": "notification", "notification": notification})

    async def credentials_changed(self, message: dict[str, Any]) -> None:
        """The user's password, activity or account changed (`accounts.services`): check the token now."""
        await self._reauthenticate()

    # --- Replay ------------------------------------------------------------------------------------

    async def _replay(self, after_seq: int) -> None:
        """Send the history after `after_seq`, then what arrived live meanwhile, then hand over to live."""
        try:
            last_seq = await self._replay_history(after_seq)
        except DatabaseError:
            logger.exception("resume failed", extra={"fields": {"after_seq": after_seq}})
            await self._send_error(ErrorCode.RESUME_FAILED, "The history could not be read; try again.")
        else:
            self.sent_through = max(self.sent_through, last_seq)
        # Events committed before the last history query went out with it or were filtered out for
        # good, and `sent_through` now stops their late live copies; later ones have higher seqs.
        while self.live_buffer:
            pending, self.live_buffer = self.live_buffer, []
            for event in sorted(pending, key=lambda event: event["seq"]):
                await self._deliver(event)
        # No await between the emptiness check above and this: nothing can slip into the buffer unsent.
        self.live_buffer = None
        self.replay = None

    async def _replay_history(self, after_seq: int) -> int:
        """Send every event after `after_seq` from the table; return the last seq covered."""
        assert self.user is not None
        last_seq = after_seq
        while True:
            batch = await sync_to_async(_replay_batch_on_a_worker, thread_sensitive=False)(
                user=self.user, after_seq=last_seq, limit=REPLAY_BATCH_SIZE
            )
            for event in batch:
                await self._deliver(event)
            if batch:
                last_seq = batch[-1]["seq"]
            if len(batch) < REPLAY_BATCH_SIZE:
                return last_seq

    # --- Delivery and membership -------------------------------------------------------------------

    async def _deliver(self, event: dict[str, Any]) -> None:
        """Send an event unless already sent, or of a project this connection is not (or no longer) in."""
        seq = event["seq"]
        if seq <= self.sent_through or seq in self.recently_sent:
            return
        if event["project"] not in self.subscribed and not self._about_own_membership(event):
            return
        if not await self._still_authenticated():
            return
        await self._send({"type": "event", "event": event})
        self.recently_sent[seq] = None
        if len(self.recently_sent) > RECENTLY_SENT_LIMIT:
            del self.recently_sent[next(iter(self.recently_sent))]
        if event["type"] == EventType.PROJECT_DELETED:
            # Forgotten here, once sent: a re-read of the memberships (which no longer hold the
            # project) made before the send would have dropped the event for the project's members.
            self.member_of.discard(event["project"])
            await self._leave(event["project"])

    def _about_own_membership(self, event: dict[str, Any]) -> bool:
        """Whether the event adds or removes this user: sent to them even as they leave the project."""
        assert self.user is not None
        return event["type"] in _MEMBERSHIP_CHANGES and event["data"]["user"]["id"] == str(self.user.pk)

    async def _sync_membership(self) -> None:
        """Re-read the user's projects: join the new ones (as on connect), leave the ones gone."""
        assert self.user is not None
        current = await database_sync_to_async(member_project_ids)(user=self.user)
        for project in sorted(current - self.member_of):
            await self._join(project)
        for project in sorted(self.member_of - current):
            await self._leave(project)
        self.member_of = current

    async def _join(self, project: str) -> None:
        if project not in self.subscribed:
            await self.channel_layer.group_add(project_group(project), self.channel_name)
            self.subscribed.add(project)

    async def _leave(self, project: str) -> None:
        if project in self.subscribed:
            self.subscribed.discard(project)
            await self.channel_layer.group_discard(project_group(project), self.channel_name)

    # --- Authentication ----------------------------------------------------------------------------

    async def _still_authenticated(self) -> bool:
        """Whether the token still authenticates; asked of the database once the last check is old."""
        if self.closing:
            return False
        if time.monotonic() - self.authenticated_at < REAUTHENTICATE_AFTER_SECONDS:
            return True
        return await self._reauthenticate()

    def _credentials(self) -> Credentials | None:
        """What the connection authenticated with: its token, or else its page's session."""
        if self.token:
            return credentials_from_token(self.token)
        return credentials_from_session(self.session_key)

    async def _reauthenticate(self) -> bool:
        """Check the token or session as on connect (password, activity, account, logout); close the
        connection if refused."""
        if await database_sync_to_async(self._credentials)() is None:
            await self._close_unauthenticated("credentials changed")
            return False
        self.authenticated_at = time.monotonic()
        return True

    async def _close_at(self, expires_at: float) -> None:
        """Close the connection when its token expires (its `exp`, a wall-clock time)."""
        await asyncio.sleep(expires_at - time.time())
        await self._close_unauthenticated("token expired")

    async def _close_unauthenticated(self, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        await self.close(code=CLOSE_UNAUTHENTICATED)
        assert self.user is not None
        logger.info(
            "websocket closed",
            extra={"fields": {"user": str(self.user.pk), "reason": reason, "channel": self.channel_name}},
        )

    async def _send(self, payload: dict[str, Any]) -> None:
        if self.closing:  # a message handled after the close: the server refuses sends past it
            return
        await self.send(text_data=json.dumps(payload))

    async def _send_error(self, code: str, detail: str) -> None:
        await self._send({"type": "error", "code": code, "detail": detail})
