"""A local, Cloudinary-compatible HTTP server for tests (SPEC §6).

The real ``cloudinary`` SDK is pointed at it through ``upload_prefix``::

    cloudinary://KEY:SECRET@CLOUD?upload_prefix=http://127.0.0.1:PORT

It speaks the slice of the Upload API the app uses and checks request signatures the way Cloudinary does,
so a mistake in how the app calls the SDK fails here as it would in production:

- ``POST /v1_1/<cloud>/image/upload``: signed multipart upload; stores the bytes under ``public_id`` and
  answers like Cloudinary (``public_id, version, signature, width, height, format, bytes, url, ...``).
- ``POST /v1_1/<cloud>/image/destroy``: signed; ``{"result": "ok"}`` or ``{"result": "not found"}``.
- ``GET /<cloud>/image/upload/[<transformations>/][v<version>/]<public_id>[.<ext>]``: the stored bytes.
  Transformations are ignored: the original bytes are served, so tests can inspect exactly what was sent.

Signing rule (``cloudinary.utils.api_sign_request``, signature version 2): every sent parameter except
``file, api_key, signature, resource_type, cloud_name, signature_algorithm`` with a non-empty value, as
``key=value`` with ``&`` inside values written ``%26``, sorted, joined by ``&``, then the API secret appended;
hex SHA-1 (or SHA-256 if the fake is built with ``signature_algorithm="sha256"``). List parameters arrive
as ``key[]`` fields and are signed as ``key=v1,v2``.

Only the standard library and Pillow are used. Note: ``cloudinary.config(cloudinary_url=...)`` does NOT
parse the URL in SDK 1.x (it just stores an attribute); use :meth:`FakeCloudinary.configure_sdk`, or set
the ``CLOUDINARY_URL`` environment variable and call ``cloudinary.reset_config()``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import cloudinary
import pytest
from PIL import Image

# Parameters Cloudinary leaves out of the signature (the SDK never signs them either).
UNSIGNED_PARAMS = frozenset({"file", "api_key", "signature", "resource_type", "cloud_name", "signature_algorithm"})

# Pillow format name -> Cloudinary's ``format`` (Cloudinary says "jpg", not "jpeg").
_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tiff", "ICO": "ico"}
_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}

# Cloudinary rejects signed requests whose timestamp is more than an hour off.
MAX_TIMESTAMP_SKEW = 3600
# The status of an upload abandoned by its client (nginx's 499); never sent, since nobody is listening.
_CLIENT_GONE = 499


@dataclass(frozen=True)
class StoredAsset:
    """One asset as the fake currently holds it."""

    public_id: str
    version: int
    data: bytes
    width: int
    height: int
    format: str
    original_filename: str
    created_at: str
    etag: str

    @property
    def bytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class UploadRecord:
    """A successful upload request: what the client sent."""

    public_id: str
    params: dict[str, str]
    data: bytes
    filename: str | None


@dataclass(frozen=True)
class DestroyRecord:
    """A destroy request that passed authentication, and what it answered."""

    public_id: str
    params: dict[str, str]
    result: str


@dataclass
class _Delays:
    remaining: int = 0
    seconds: float = 0.0


@dataclass
class _Failures:
    remaining: int = 0
    status: int = 503
    message: str = ""


class _ApiError(Exception):
    """Ends a request with a Cloudinary-like ``{"error": {"message": ...}}`` answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Part:
    name: str
    filename: str | None
    data: bytes = field(repr=False)


def parse_multipart(body: bytes, content_type: str) -> list[_Part]:
    """Split a ``multipart/form-data`` body into parts.

    A hand-written parser because ``cgi`` is deprecated and ``email`` may rewrite line endings inside
    binary payloads; image bytes must come through byte for byte.
    """
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        raise _ApiError(400, "Expected a multipart/form-data body")
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: list[_Part] = []
    # Everything before the first delimiter is preamble; "--" after the last one marks the end.
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        # Each part is CRLF, headers, blank line, payload, CRLF (the CRLF belongs to the next delimiter).
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise _ApiError(400, "Malformed multipart body")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if not name:
            raise _ApiError(400, "Multipart part without a name")
        # urllib3 writes field names HTML5-style: a double quote becomes %22.
        parts.append(
            _Part(
                name=name.group(1).replace("%22", '"'),
                filename=filename.group(1).replace("%22", '"') if filename else None,
                data=payload,
            )
        )
    return parts


def string_to_sign(params: dict[str, str], signature_version: int = 2) -> str:
    """The string Cloudinary signs for ``params`` (secret not included); mirrors ``api_string_to_sign``."""
    pairs = []
    for key, value in params.items():
        if key in UNSIGNED_PARAMS or not value:
            continue
        pair = f"{key}={value}"
        pairs.append(pair.replace("&", "%26") if signature_version >= 2 else pair)
    return "&".join(sorted(pairs))


def sign(params: dict[str, str], api_secret: str, algorithm: str = "sha1", signature_version: int = 2) -> str:
    """Hex digest Cloudinary expects in ``signature`` for these params."""
    return hashlib.new(algorithm, (string_to_sign(params, signature_version) + api_secret).encode()).hexdigest()


class FakeCloudinary:
    """In-memory Cloudinary Upload API and delivery host on 127.0.0.1 (an OS-chosen port).

    Use as a context manager or call :meth:`start` / :meth:`stop`. All shared state sits behind one lock
    because ``ThreadingHTTPServer`` serves every request on its own thread.
    """

    def __init__(
        self,
        cloud_name: str = "hopla-test",
        api_key: str = "123456789012345",
        api_secret: str = "fake-cloudinary-secret",
        signature_algorithm: str = "sha1",
    ) -> None:
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_algorithm = signature_algorithm
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        self._assets: dict[str, StoredAsset] = {}
        self._uploads: list[UploadRecord] = []
        self._destroys: list[DestroyRecord] = []
        self._upload_attempts = 0
        self._destroy_attempts = 0
        self._last_version = 0
        self._upload_failures = _Failures()
        self._destroy_failures = _Failures()
        self._upload_delays = _Delays()
        self._uploads_released = threading.Event()
        self._delayed_uploads = 0
        self._abandoned_uploads = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeCloudinary:
        """Start serving in a daemon thread; returns self."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True  # a stuck client must never keep the test process alive
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-cloudinary", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeCloudinary:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses and SDK configuration ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeCloudinary is not running; call start() first")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the SDK's ``upload_prefix`` and the delivery host."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cloudinary_url(self) -> str:
        """The ``CLOUDINARY_URL`` that points the SDK's Upload API calls at this server."""
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}?upload_prefix={self.base_url}"

    def sdk_config(self) -> dict[str, Any]:
        """Keyword arguments for ``cloudinary.config(...)`` equivalent to :attr:`cloudinary_url`."""
        return {
            "cloud_name": self.cloud_name,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "upload_prefix": self.base_url,
            "signature_algorithm": self.signature_algorithm,
        }

    def configure_sdk(self) -> None:
        """Point the global SDK configuration at this server."""
        cloudinary.config(**self.sdk_config())

    def delivery_url(self, url: str) -> str:
        """Rewrite a ``res.cloudinary.com`` URL (as ``build_url`` makes them) to this server's host.

        The SDK builds delivery URLs on res.cloudinary.com whatever ``upload_prefix`` says; the path layout
        (``/<cloud>/image/upload/...``) is the one this server serves.
        """
        parts = urlsplit(url)
        return f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    # -- test controls and records ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all assets, records and pending injected failures."""
        with self._lock:
            self._init_state()

    def fail_next_uploads(self, n: int, status: int = 503, message: str = "") -> None:
        """Make the next ``n`` upload requests answer ``status`` with a Cloudinary-like error, storing nothing."""
        with self._lock:
            self._upload_failures = _Failures(n, status, message or f"Injected failure (HTTP {status})")

    def fail_next_destroys(self, n: int, status: int = 503, message: str = "") -> None:
        """Make the next ``n`` destroy requests answer ``status`` with a Cloudinary-like error, removing nothing."""
        with self._lock:
            self._destroy_failures = _Failures(n, status, message or f"Injected failure (HTTP {status})")

    def delay_next_uploads(self, n: int, seconds: float) -> None:
        """Make the next ``n`` upload requests wait ``seconds`` before being handled (a slow store).

        A client that goes away during the wait (its worker was killed) abandons the upload: nothing is
        stored, as when a connection drops before the upload completes. See :attr:`abandoned_uploads`.
        :meth:`release_delayed_uploads` ends the waits early.
        """
        with self._lock:
            self._upload_delays = _Delays(n, seconds)
            self._uploads_released = threading.Event()

    def release_delayed_uploads(self) -> None:
        """Let the uploads held by :meth:`delay_next_uploads` go on at once (and any further ones)."""
        self._uploads_released.set()

    @property
    def delayed_uploads(self) -> int:
        """Upload requests that were held by :meth:`delay_next_uploads` (counted when the wait starts)."""
        with self._lock:
            return self._delayed_uploads

    @property
    def abandoned_uploads(self) -> int:
        """Delayed upload requests whose client went away before the wait ended; nothing was stored."""
        with self._lock:
            return self._abandoned_uploads

    @property
    def uploads(self) -> list[UploadRecord]:
        """Successful upload requests, oldest first."""
        with self._lock:
            return list(self._uploads)

    @property
    def destroys(self) -> list[DestroyRecord]:
        """Authenticated destroy requests (found or not), oldest first."""
        with self._lock:
            return list(self._destroys)

    @property
    def assets(self) -> dict[str, StoredAsset]:
        """Currently stored assets by public id."""
        with self._lock:
            return dict(self._assets)

    @property
    def upload_attempts(self) -> int:
        """Every upload request received, including rejected and injected-failure ones (counts retries)."""
        with self._lock:
            return self._upload_attempts

    @property
    def destroy_attempts(self) -> int:
        """Every destroy request received, including rejected and injected-failure ones."""
        with self._lock:
            return self._destroy_attempts

    # -- request handling (called from handler threads) ------------------------------------------------

    def _take_failure(self, failures: _Failures) -> None:
        with self._lock:
            if failures.remaining > 0:
                failures.remaining -= 1
                raise _ApiError(failures.status, failures.message)

    def _authenticate(self, cloud_name: str, params: dict[str, str]) -> None:
        if cloud_name != self.cloud_name:
            raise _ApiError(401, f"Invalid cloud_name {cloud_name}")
        api_key = params.get("api_key")
        if not api_key:
            raise _ApiError(401, "Must supply api_key")
        if api_key != self.api_key:
            raise _ApiError(401, f"Unknown API key {api_key}")
        timestamp = params.get("timestamp", "")
        if not timestamp:
            raise _ApiError(400, "Missing required parameter - timestamp")
        if not timestamp.isdigit():
            raise _ApiError(400, f"Invalid timestamp {timestamp}")
        if abs(time.time() - int(timestamp)) > MAX_TIMESTAMP_SKEW:
            raise _ApiError(400, f"Stale request - reported time is {timestamp} which is more than 1 hour ago")
        given = params.get("signature", "")
        expected = sign(params, self.api_secret, self.signature_algorithm)
        # Version 1 (no "&" escaping) is also accepted, as for older SDKs; identical unless a value has "&".
        legacy = sign(params, self.api_secret, self.signature_algorithm, signature_version=1)
        if not given or given not in (expected, legacy):
            raise _ApiError(401, f"Invalid Signature {given}. String to sign - '{string_to_sign(params)}'.")

    def _next_version(self) -> int:
        # Cloudinary versions are upload timestamps; two uploads in one second must still differ.
        self._last_version = max(int(time.time()), self._last_version + 1)
        return self._last_version

    def _asset_json(self, asset: StoredAsset, **extra: Any) -> dict[str, Any]:
        path = f"/{self.cloud_name}/image/upload/v{asset.version}/{asset.public_id}.{asset.format}"
        return {
            "asset_id": hashlib.md5(f"{self.cloud_name}/{asset.public_id}".encode(), usedforsecurity=False).hexdigest(),
            "public_id": asset.public_id,
            "version": asset.version,
            "version_id": hashlib.md5(f"{asset.public_id}/{asset.version}".encode(), usedforsecurity=False).hexdigest(),
            # Cloudinary's response signature (checked by cloudinary.utils.verify_api_response_signature).
            "signature": sign(
                {"public_id": asset.public_id, "version": str(asset.version)},
                self.api_secret,
                self.signature_algorithm,
                signature_version=1,
            ),
            "width": asset.width,
            "height": asset.height,
            "format": asset.format,
            "resource_type": "image",
            "created_at": asset.created_at,
            "tags": [],
            "bytes": asset.bytes,
            "type": "upload",
            "etag": asset.etag,
            "placeholder": False,
            "url": f"{self.base_url}{path}",
            "secure_url": f"{self.base_url}{path}",
            "asset_folder": "",
            "display_name": asset.public_id.rsplit("/", 1)[-1],
            "original_filename": asset.original_filename,
            "api_key": self.api_key,
            **extra,
        }

    def _take_delay(self) -> float:
        with self._lock:
            if self._upload_delays.remaining <= 0:
                return 0.0
            self._upload_delays.remaining -= 1
            self._delayed_uploads += 1
            return self._upload_delays.seconds

    def handle_upload(
        self, cloud_name: str, parts: list[_Part], client_gone: Callable[[float], bool] | None = None
    ) -> dict[str, Any]:
        """Store an upload. `client_gone(seconds)` waits up to `seconds`, answering True if the client left."""
        with self._lock:
            self._upload_attempts += 1
        delay = self._take_delay()
        if delay and client_gone is not None and client_gone(delay):
            with self._lock:
                self._abandoned_uploads += 1
            raise _ApiError(_CLIENT_GONE, "Client closed the connection during the upload")
        if delay and client_gone is None:
            self._uploads_released.wait(delay)
        self._take_failure(self._upload_failures)
        params, file_part = _collect_params(parts)
        self._authenticate(cloud_name, params)
        data, filename = _file_bytes(file_part)
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                pillow_format = image.format or ""
                image.verify()  # catches truncated or corrupt data that open() alone lets through
        except Exception as exc:  # Pillow raises many types (and bomb warnings under pytest's -W error)
            raise _ApiError(400, "Invalid image file") from exc
        image_format = _FORMATS.get(pillow_format, pillow_format.lower())
        stem = (filename or "file").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        public_id = params.get("public_id") or _default_public_id(params, stem)
        if params.get("folder") and not params.get("public_id", "").startswith(params["folder"].rstrip("/") + "/"):
            public_id = f"{params['folder'].rstrip('/')}/{public_id}"
        with self._lock:
            existing = self._assets.get(public_id)
            # Signed uploads overwrite by default; overwrite=false keeps the asset and says so.
            if existing is not None and params.get("overwrite", "1").lower() in {"0", "false"}:
                return self._asset_json(existing, existing=True)
            asset = StoredAsset(
                public_id=public_id,
                version=self._next_version(),
                data=data,
                width=width,
                height=height,
                format=image_format,
                original_filename=stem,
                created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            )
            self._assets[public_id] = asset
            self._uploads.append(UploadRecord(public_id, params, data, filename))
            # Like Cloudinary, say so when an upload replaced an asset.
            return self._asset_json(asset, **({"overwritten": True} if existing else {}))

    def handle_destroy(self, cloud_name: str, parts: list[_Part]) -> dict[str, Any]:
        with self._lock:
            self._destroy_attempts += 1
        self._take_failure(self._destroy_failures)
        params, _ = _collect_params(parts)
        self._authenticate(cloud_name, params)
        public_id = params.get("public_id", "")
        if not public_id:
            raise _ApiError(400, "Missing required parameter - public_id")
        with self._lock:
            result = "ok" if self._assets.pop(public_id, None) is not None else "not found"
            self._destroys.append(DestroyRecord(public_id, params, result))
        return {"result": result}

    def find_delivered(self, cloud_name: str, segments: list[str]) -> StoredAsset | None:
        """The asset a delivery path names; transformation and version segments are skipped."""
        if cloud_name != self.cloud_name:
            return None
        with self._lock:
            # The public id is a suffix of the path (it may contain "/"); try the longest first.
            for start in range(len(segments)):
                if re.fullmatch(r"v\d+", segments[start]):
                    continue
                candidate = "/".join(segments[start:])
                for public_id in (candidate, candidate.rsplit(".", 1)[0]):
                    if public_id in self._assets:
                        return self._assets[public_id]
        return None


def _collect_params(parts: list[_Part]) -> tuple[dict[str, str], _Part | None]:
    params: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    file_part = None
    for part in parts:
        if part.name == "file":
            file_part = part
        elif part.name.endswith("[]"):
            # The SDK sends lists as repeated "key[]" fields and signs them as "key=a,b".
            lists.setdefault(part.name[:-2], []).append(part.data.decode("utf-8"))
        else:
            params[part.name] = part.data.decode("utf-8")
    params.update({key: ",".join(values) for key, values in lists.items()})
    return params, file_part


def _file_bytes(part: _Part | None) -> tuple[bytes, str | None]:
    if part is None:
        raise _ApiError(400, "Missing required parameter - file")
    if part.filename is not None:
        return part.data, part.filename
    # Without a filename the "file" field is a string: a data URI or a remote URL.
    text = part.data.decode("utf-8", "replace")
    data_uri = re.fullmatch(r"data:[\w/+.-]*(?:;[\w-]+=[\w-]+)*;base64,(.*)", text, re.DOTALL)
    if data_uri:
        try:
            return base64.b64decode(data_uri.group(1)), None
        except binascii.Error as exc:
            raise _ApiError(400, "Invalid image file") from exc
    raise _ApiError(400, f"Remote URLs are not supported by the fake Cloudinary: {text[:100]}")


def _default_public_id(params: dict[str, str], stem: str) -> str:
    if params.get("use_filename", "0").lower() in {"1", "true"}:
        if params.get("unique_filename", "1").lower() in {"0", "false"}:
            return stem
        return f"{stem}_{secrets.token_hex(3)}"
    return secrets.token_hex(10)


def _make_handler(fake: FakeCloudinary) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no handler thread lingers on a pooled keep-alive
        # connection after stop() (urllib3 reconnects transparently).
        protocol_version = "HTTP/1.0"
        server_version = "FakeCloudinary/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Request-Id", secrets.token_hex(8))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            headers = {"Retry-After": "1"} if status in (429, 503) else None
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

        def _client_gone(self, seconds: float) -> bool:
            """Wait up to `seconds` (or the release); True as soon as the client closes its end (the body is
            already read)."""
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0 and not fake._uploads_released.is_set():
                readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
                if readable:
                    try:
                        if self.connection.recv(1, socket.MSG_PEEK) == b"":
                            return True
                    except OSError:
                        return True
            return False

        def do_POST(self) -> None:
            # Read the whole body first so an early error answer never resets the client's connection.
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            match = re.fullmatch(r"/v1_1/([^/]+)/image/(upload|destroy)", urlsplit(self.path).path)
            if not match:
                self._send_json(404, {"error": {"message": f"Unsupported endpoint {self.path}"}})
                return
            cloud_name, action = match.groups()
            try:
                parts = parse_multipart(body, self.headers.get("Content-Type", ""))
                if action == "upload":
                    payload = fake.handle_upload(cloud_name, parts, self._client_gone)
                else:
                    payload = fake.handle_destroy(cloud_name, parts)
            except _ApiError as error:
                if error.status != _CLIENT_GONE:  # nobody is left to answer
                    self._send_json(error.status, {"error": {"message": error.message}})
                return
            self._send_json(200, payload)

        def do_GET(self) -> None:
            segments = [unquote(s) for s in urlsplit(self.path).path.split("/") if s]
            asset = None
            if len(segments) >= 4 and segments[1:3] == ["image", "upload"]:
                asset = fake.find_delivered(segments[0], segments[3:])
            if asset is None:
                self._send(404, b"Resource not found", "text/plain", {"X-Cld-Error": "Resource not found"})
                return
            content_type = _CONTENT_TYPES.get(asset.format, "application/octet-stream")
            self._send(200, asset.data, content_type, {"ETag": f'"{asset.etag}"'})

        do_HEAD = do_GET

    return Handler


@pytest.fixture(scope="session")
def fake_cloudinary_server() -> Iterator[FakeCloudinary]:
    """One fake Cloudinary server for the whole test session."""
    with FakeCloudinary() as server:
        yield server


@pytest.fixture
def fake_cloudinary(fake_cloudinary_server: FakeCloudinary) -> Iterator[FakeCloudinary]:
    """The session's fake, emptied, with the global SDK config pointed at it (restored afterwards)."""
    fake_cloudinary_server.reset()
    saved = dict(cloudinary.config().__dict__)
    fake_cloudinary_server.configure_sdk()
    try:
        yield fake_cloudinary_server
    finally:
        # Restore into whatever object is global now, in case the test called cloudinary.reset_config().
        config = cloudinary.config()
        config.__dict__.clear()
        config.__dict__.update(saved)
        fake_cloudinary_server.reset()
