"""The fake Cloudinary server, exercised through the real ``cloudinary`` SDK (no database needed)."""

# Fixtures are imported by name, so each test parameter "redefines" the import.
# ruff: noqa: F811

import base64
import io
import threading
import time
import urllib.error
import urllib.request

import cloudinary
import cloudinary.uploader
import cloudinary.utils
import pytest
import urllib3
import urllib3.connection
from cloudinary.exceptions import AuthorizationRequired, BadRequest, Error, GeneralError, RateLimited
from PIL import Image

from tickets.tests.fake_cloudinary import (
    FakeCloudinary,
    fake_cloudinary,  # noqa: F401
    fake_cloudinary_server,  # noqa: F401
    sign,
    string_to_sign,
)


def make_image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save_kwargs: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, fmt, **save_kwargs)
    return buffer.getvalue()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo IFD: latitude
    return make_image("JPEG", (40, 30), exif=exif)


def http_get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read(), response.headers["Content-Type"]


def raw_post(fake: FakeCloudinary, action: str, fields: dict[str, object]) -> tuple[int, dict]:
    """POST a hand-built multipart request, for cases the SDK will not produce (unsigned, stale, ...)."""
    response = urllib3.request(
        "POST", f"{fake.base_url}/v1_1/{fake.cloud_name}/image/{action}", fields=fields, timeout=5
    )
    return response.status, response.json()


def test_png_upload_answers_like_cloudinary_and_stores_the_bytes(fake_cloudinary: FakeCloudinary) -> None:
    png = make_image("PNG", (64, 48))

    result = cloudinary.uploader.upload(png, public_id="tickets/img-1", overwrite=True, invalidate=True)

    assert result["public_id"] == "tickets/img-1"
    assert (result["width"], result["height"], result["format"], result["bytes"]) == (64, 48, "png", len(png))
    assert result["resource_type"] == "image"
    assert result["type"] == "upload"
    assert isinstance(result["version"], int)
    assert result["secure_url"] == (
        f"{fake_cloudinary.base_url}/{fake_cloudinary.cloud_name}/image/upload/v{result['version']}/tickets/img-1.png"
    )
    assert set(result) >= {"created_at", "etag", "url", "signature", "original_filename"}
    # The response signature is the one the SDK knows how to check.
    assert cloudinary.utils.verify_api_response_signature(result["public_id"], result["version"], result["signature"])
    assert fake_cloudinary.assets["tickets/img-1"].data == png
    [record] = fake_cloudinary.uploads
    assert record.public_id == "tickets/img-1"
    assert record.data == png
    assert record.params["overwrite"] == "1"
    assert record.params["invalidate"] == "1"


def test_jpeg_upload_from_a_path(fake_cloudinary: FakeCloudinary, tmp_path) -> None:
    jpeg = make_image("JPEG", (120, 90), quality=80)
    path = tmp_path / "holiday photo.jpeg"
    path.write_bytes(jpeg)

    result = cloudinary.uploader.upload(str(path), public_id="img-2")

    assert (result["width"], result["height"], result["format"], result["bytes"]) == (120, 90, "jpg", len(jpeg))
    assert result["original_filename"] == "holiday photo"
    assert fake_cloudinary.assets["img-2"].data == jpeg


def test_data_uri_upload(fake_cloudinary: FakeCloudinary) -> None:
    gif = make_image("GIF", (10, 5))
    data_uri = "data:image/gif;base64," + base64.b64encode(gif).decode()

    result = cloudinary.uploader.upload(data_uri, public_id="img-gif")

    assert (result["format"], result["width"], result["height"]) == ("gif", 10, 5)
    assert fake_cloudinary.assets["img-gif"].data == gif


def test_same_public_id_overwrites_with_a_new_version(fake_cloudinary: FakeCloudinary) -> None:
    first = cloudinary.uploader.upload(make_image("PNG", (10, 10)), public_id="img-3", overwrite=True)
    second_bytes = make_image("JPEG", (20, 20))

    second = cloudinary.uploader.upload(second_bytes, public_id="img-3", overwrite=True, invalidate=True)

    assert second["version"] > first["version"]
    assert second["overwritten"] is True
    assert list(fake_cloudinary.assets) == ["img-3"]
    assert fake_cloudinary.assets["img-3"].data == second_bytes
    assert http_get(second["secure_url"])[1] == second_bytes


def test_overwrite_false_keeps_the_existing_asset(fake_cloudinary: FakeCloudinary) -> None:
    original = make_image("PNG", (10, 10))
    first = cloudinary.uploader.upload(original, public_id="img-4")

    again = cloudinary.uploader.upload(make_image("PNG", (30, 30)), public_id="img-4", overwrite=False)

    assert again["existing"] is True
    assert again["version"] == first["version"]
    assert fake_cloudinary.assets["img-4"].data == original


def test_signing_rule_matches_the_sdk() -> None:
    params = {"timestamp": "1700000000", "public_id": "a&b", "tags": "x,y", "overwrite": "1", "file": "ignored"}
    secret = "s3cret"

    assert string_to_sign(params) == "overwrite=1&public_id=a%26b&tags=x,y&timestamp=1700000000"
    sdk_params = {k: v for k, v in params.items() if k != "file"}
    assert sign(params, secret) == cloudinary.utils.api_sign_request(sdk_params, secret)
    assert sign(params, secret, "sha256") == cloudinary.utils.api_sign_request(sdk_params, secret, "sha256")


def test_list_and_ampersand_params_verify(fake_cloudinary: FakeCloudinary) -> None:
    result = cloudinary.uploader.upload(make_image(), public_id="a&b", tags=["one", "two"], context={"k": "v"})

    assert result["public_id"] == "a&b"
    assert fake_cloudinary.uploads[0].params["tags"] == "one,two"


def test_wrong_api_secret_is_rejected(fake_cloudinary: FakeCloudinary) -> None:
    cloudinary.config(api_secret="not-the-secret")

    with pytest.raises(AuthorizationRequired, match=r"^Invalid Signature [0-9a-f]{40}\. String to sign - '"):
        cloudinary.uploader.upload(make_image(), public_id="img-5")

    assert issubclass(AuthorizationRequired, Error)
    assert fake_cloudinary.assets == {}
    assert fake_cloudinary.upload_attempts == 1


def test_unknown_api_key_is_rejected(fake_cloudinary: FakeCloudinary) -> None:
    cloudinary.config(api_key="999")

    with pytest.raises(AuthorizationRequired, match="Unknown API key 999"):
        cloudinary.uploader.upload(make_image(), public_id="img-6")


def test_missing_signature_and_timestamp_are_rejected(fake_cloudinary: FakeCloudinary) -> None:
    png = make_image()
    now = str(int(time.time()))

    status, body = raw_post(
        fake_cloudinary, "upload", {"api_key": fake_cloudinary.api_key, "timestamp": now, "file": ("f.png", png)}
    )
    assert (status, body["error"]["message"]) == (401, "Invalid Signature . String to sign - 'timestamp=" + now + "'.")

    signature = sign({"public_id": "x"}, fake_cloudinary.api_secret)
    fields = {"api_key": fake_cloudinary.api_key, "public_id": "x", "signature": signature, "file": ("f.png", png)}
    status, body = raw_post(fake_cloudinary, "upload", fields)
    assert (status, body["error"]["message"]) == (400, "Missing required parameter - timestamp")

    stale = str(int(time.time()) - 7200)
    signature = sign({"timestamp": stale}, fake_cloudinary.api_secret)
    fields = {"api_key": fake_cloudinary.api_key, "timestamp": stale, "signature": signature, "file": ("f.png", png)}
    status, body = raw_post(fake_cloudinary, "upload", fields)
    assert status == 400
    assert body["error"]["message"].startswith("Stale request")
    assert fake_cloudinary.assets == {}


def test_non_image_bytes_are_rejected(fake_cloudinary: FakeCloudinary) -> None:
    with pytest.raises(BadRequest, match=r"^Invalid image file$"):
        cloudinary.uploader.upload(b"%PDF-1.4 not an image", public_id="doc")

    truncated = make_image("PNG", (300, 300))[:200]
    with pytest.raises(BadRequest, match=r"^Invalid image file$"):
        cloudinary.uploader.upload(truncated, public_id="broken")

    assert fake_cloudinary.assets == {}


def test_injected_503_raises_general_error_without_retry(fake_cloudinary: FakeCloudinary) -> None:
    fake_cloudinary.fail_next_uploads(1, status=503)

    with pytest.raises(GeneralError, match=r"^Injected failure \(HTTP 503\)$"):
        cloudinary.uploader.upload(make_image(), public_id="img-7")

    # The SDK (urllib3 with POST) does not retry a 503, even with Retry-After: one request only.
    assert fake_cloudinary.upload_attempts == 1
    assert fake_cloudinary.assets == {}
    # Only the next n requests fail.
    assert cloudinary.uploader.upload(make_image(), public_id="img-7")["public_id"] == "img-7"
    assert fake_cloudinary.upload_attempts == 2


@pytest.mark.parametrize(
    ("status", "exception"),
    [(500, GeneralError), (429, RateLimited), (420, RateLimited), (502, Error), (504, Error), (400, BadRequest)],
)
def test_injected_status_maps_to_sdk_exception(fake_cloudinary: FakeCloudinary, status: int, exception: type) -> None:
    fake_cloudinary.fail_next_uploads(1, status=status, message="boom")

    with pytest.raises(exception, match=r"^boom$") as caught:
        cloudinary.uploader.upload(make_image(), public_id="img-8")

    assert type(caught.value) is exception  # 502 and 504 are not mapped: plain cloudinary.exceptions.Error


def test_connection_refused_raises_error_after_urllib3_retries(
    fake_cloudinary: FakeCloudinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeCloudinary() as gone:
        closed_port = gone.port
    cloudinary.config(upload_prefix=f"http://127.0.0.1:{closed_port}")
    connects = []
    original = urllib3.connection.HTTPConnection._new_conn

    def counting_new_conn(self: urllib3.connection.HTTPConnection):  # type: ignore[no-untyped-def]
        connects.append(1)
        return original(self)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", counting_new_conn)

    with pytest.raises(Error) as caught:
        cloudinary.uploader.upload(make_image(), public_id="img-9")

    assert type(caught.value) is Error
    message = str(caught.value)
    assert message.startswith("Unexpected error - MaxRetryError(")
    assert "Max retries exceeded" in message
    assert "Connection refused" in message
    # urllib3's default Retry(3) retries connection errors immediately (no backoff): 1 + 3 attempts.
    assert len(connects) == 4


def test_destroy_removes_the_asset(fake_cloudinary: FakeCloudinary) -> None:
    result = cloudinary.uploader.upload(make_image(), public_id="tickets/img-10")

    assert cloudinary.uploader.destroy("tickets/img-10", invalidate=True)["result"] == "ok"
    assert fake_cloudinary.assets == {}
    assert cloudinary.uploader.destroy("tickets/img-10")["result"] == "not found"
    assert [(d.public_id, d.result) for d in fake_cloudinary.destroys] == [
        ("tickets/img-10", "ok"),
        ("tickets/img-10", "not found"),
    ]
    with pytest.raises(urllib.error.HTTPError) as caught:
        http_get(result["secure_url"])
    caught.value.close()  # the error holds the response socket open otherwise
    assert caught.value.code == 404


def test_destroy_failures_and_bad_signature(fake_cloudinary: FakeCloudinary) -> None:
    cloudinary.uploader.upload(make_image(), public_id="img-11")
    fake_cloudinary.fail_next_destroys(1)

    with pytest.raises(GeneralError):
        cloudinary.uploader.destroy("img-11")
    assert "img-11" in fake_cloudinary.assets

    with pytest.raises(AuthorizationRequired, match="Invalid Signature"):
        cloudinary.uploader.destroy("img-11", api_secret="wrong")
    assert "img-11" in fake_cloudinary.assets
    assert fake_cloudinary.destroy_attempts == 2
    assert fake_cloudinary.destroys == []


def test_get_serves_uploaded_bytes_and_ignores_transformations(fake_cloudinary: FakeCloudinary) -> None:
    jpeg = jpeg_with_gps()
    result = cloudinary.uploader.upload(jpeg, public_id="tickets/img-12")

    status, body, content_type = http_get(result["secure_url"])
    assert (status, body, content_type) == (200, jpeg, "image/jpeg")
    # The fake keeps bytes as sent, so a test can see whether the app stripped EXIF before uploading.
    assert Image.open(io.BytesIO(body)).getexif().get_ifd(0x8825)

    # build_url uses res.cloudinary.com whatever upload_prefix says; the path layout is the one served here.
    thumb = cloudinary.CloudinaryImage("tickets/img-12").build_url(
        transformation=[{"crop": "fill", "width": 200, "height": 200}], secure=True
    )
    assert (
        thumb
        == f"https://res.cloudinary.com/{fake_cloudinary.cloud_name}/image/upload/c_fill,h_200,w_200/v1/tickets/img-12"
    )
    assert http_get(fake_cloudinary.delivery_url(thumb))[1] == jpeg
    assert http_get(fake_cloudinary.delivery_url(thumb + ".jpg"))[1] == jpeg


def test_cloudinary_url_configures_the_sdk_via_environment(
    fake_cloudinary: FakeCloudinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # config(cloudinary_url=...) is silently ignored by SDK 1.x: it only stores an attribute.
    cloudinary.config(cloudinary_url="cloudinary://k:s@elsewhere")
    assert cloudinary.config().cloud_name == fake_cloudinary.cloud_name

    cloudinary.config(cloud_name=None, api_key=None, api_secret=None, upload_prefix=None)
    monkeypatch.setenv("CLOUDINARY_URL", fake_cloudinary.cloudinary_url)
    cloudinary.reset_config()
    assert cloudinary.config().upload_prefix == fake_cloudinary.base_url

    assert cloudinary.uploader.upload(make_image(), public_id="img-13")["public_id"] == "img-13"


def test_concurrent_uploads_all_land(fake_cloudinary: FakeCloudinary) -> None:
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        try:
            cloudinary.uploader.upload(make_image("PNG", (i + 1, i + 1)), public_id=f"c-{i}")
        except BaseException as exc:  # collected and asserted on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assets = fake_cloudinary.assets
    assert sorted(assets) == sorted(f"c-{i}" for i in range(8))
    assert len({asset.version for asset in assets.values()}) == 8
    assert all(assets[f"c-{i}"].width == i + 1 for i in range(8))


def test_reset_forgets_everything(fake_cloudinary: FakeCloudinary) -> None:
    cloudinary.uploader.upload(make_image(), public_id="img-14")
    fake_cloudinary.fail_next_uploads(3)

    fake_cloudinary.reset()

    assert (fake_cloudinary.assets, fake_cloudinary.uploads, fake_cloudinary.upload_attempts) == ({}, [], 0)
    assert cloudinary.uploader.upload(make_image(), public_id="img-14")["public_id"] == "img-14"


def test_per_call_options_without_global_config(fake_cloudinary_server: FakeCloudinary) -> None:
    # The app passes the options parsed from CLOUDINARY_URL on every call instead of configuring the SDK.
    fake_cloudinary_server.reset()
    options = fake_cloudinary_server.sdk_config()

    result = cloudinary.uploader.upload(
        io.BytesIO(make_image("WEBP", (16, 9))), public_id="per-call", resource_type="image", timeout=5, **options
    )

    assert (result["format"], result["width"], result["original_filename"]) == ("webp", 16, "stream")
    assert cloudinary.uploader.destroy("per-call", timeout=5, **options)["result"] == "ok"
    fake_cloudinary_server.reset()
