"""Property tests of image uploads: whatever the bytes, a 202 for whole JPEG/PNG/GIF/WebP or a SPEC §6 400."""

import io
import struct
from typing import Any
from urllib.parse import quote

import pytest
from django.http.multipartparser import MAX_TOTAL_HEADER_SIZE, MultiPartParser
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PillowImage

from tickets.tests.factories import TicketFactory
from tickets.tests.images import image_bytes

ACCEPTED = {"JPEG", "PNG", "GIF", "WEBP"}
FORMATS = sorted(ACCEPTED | {"BMP", "TIFF"})
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "F", "I;16"]
SPEC_CODES = {"unsupported_type", "too_large", "too_many_pixels", "corrupt_image", "required"}
# Small limits, so that the too_large and too_many_pixels refusals are explored with small images.
MAX_BYTES = 60_000
MAX_PIXELS = 20_000
UPLOAD_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)

exif_values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.binary(max_size=40),
    st.tuples(st.integers(0, 1000), st.integers(1, 1000)),
)


@st.composite
def pictures(draw: Any, *, formats: list[str] = FORMATS, exif: bool = False) -> tuple[bytes, str, tuple[int, int]]:
    """A noisy picture in a random mode, size and format (with random EXIF tags if asked)."""
    image_format = draw(st.sampled_from(formats))
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, 180)), draw(st.integers(1, 180)))
    options: dict[str, Any] = {"format": image_format}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = draw(st.integers(1, 100))
    if exif:
        tags = PillowImage.Exif()
        for tag, value in draw(st.dictionaries(st.integers(1, 0xFFFF), exif_values, max_size=8)).items():
            tags[tag] = value
        options["exif"] = tags
    output = io.BytesIO()
    try:
        noise = PillowImage.effect_noise(size, draw(st.integers(1, 120)))
        noise.convert(mode).save(output, **options)
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        assume(False)  # Pillow cannot write this mode, format or EXIF: not an upload anyone can make
    return output.getvalue(), image_format, size


BOUNDARY = "hopla-property-boundary"


def part_head(name: str, content_type: str) -> str:
    """The `image` part's headers; the file name travels RFC 5987-encoded, so any text reaches the server as is."""
    return (
        f"--{BOUNDARY}\r\n"
        f"Content-Disposition: form-data; name=\"image\"; filename*=UTF-8''{quote(name, safe='')}\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    )


def multipart_body(data: bytes, name: str, content_type: str) -> bytes:
    return part_head(name, content_type).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def upload(team, settings):  # type: ignore[no-untyped-def]
    """Posts bytes as the multipart field `image` to a ticket of the team's project, as a member."""
    settings.IMAGE_MAX_BYTES = MAX_BYTES
    settings.IMAGE_MAX_PIXELS = MAX_PIXELS
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = team.client("member")
    client.raise_request_exception = False  # a crash must show as the 500 a client would get

    def post(data: bytes, name: str = "upload.bin", content_type: str = "application/octet-stream") -> Any:
        return client.generic(
            "POST",
            f"/api/v1/tickets/{ticket.key}/images/",
            multipart_body(data, name, content_type),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        )

    return post


def assert_refused(response: Any, *codes: str) -> str:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["code"] == "invalid"
    [error] = body["errors"]["image"]
    assert error["code"] in (codes or SPEC_CODES), error
    return error["code"]


def decodes_whole(data: bytes) -> str | None:
    """Pillow's own verdict, independent of the endpoint: the format if every pixel decodes."""
    try:
        with PillowImage.open(io.BytesIO(data)) as image:
            image.load()
            return image.format
    except Exception:
        return None


@UPLOAD_SETTINGS
@given(data=st.binary(max_size=4096))
@example(data=b"")
@example(data=b"\x89PNG\r\n\x1a\n")
@example(data=b"GIF89a")
@example(data=b"\xff\xd8\xff")
@example(data=b"RIFF\x00\x00\x00\x00WEBPVP8 ")
def test_random_bytes_are_refused_with_a_spec_code(upload, data):
    response = upload(data)
    if response.status_code == 202:
        assert decodes_whole(data) in ACCEPTED
    else:
        assert_refused(response)


@UPLOAD_SETTINGS
@given(picture=pictures())
def test_whole_images_are_accepted_only_in_the_four_formats_and_within_the_limits(upload, picture):
    data, image_format, (width, height) = picture
    response = upload(data, name=f"picture.{image_format.lower()}", content_type="image/whatever")
    if len(data) > MAX_BYTES:
        assert_refused(response, "too_large")
    elif image_format not in ACCEPTED:
        assert_refused(response, "unsupported_type")
    elif width * height > MAX_PIXELS:
        assert_refused(response, "too_many_pixels")
    else:
        assert response.status_code == 202, response.content[:300]
        body = response.json()
        assert body["status"] == "pending"
        assert body["format"] == image_format.lower()
        assert (body["width"], body["height"]) in ((width, height), (None, None))


@settings(UPLOAD_SETTINGS, max_examples=100)
@given(picture=pictures(formats=sorted(ACCEPTED)), cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated_images_are_refused_unless_pillow_decodes_them_whole(upload, picture, cut):
    data, _, _ = picture
    truncated = data[: int(len(data) * cut)]
    response = upload(truncated)
    if response.status_code == 202:
        assert decodes_whole(truncated) in ACCEPTED
    else:
        assert_refused(response)


@pytest.mark.filterwarnings("ignore:Metadata Warning:UserWarning")  # Pillow, writing odd random EXIF tags
@UPLOAD_SETTINGS
@given(picture=pictures(formats=["JPEG", "PNG", "WEBP"], exif=True))
def test_images_with_random_exif_are_accepted(upload, picture):
    data, _, (width, height) = picture
    assume(len(data) <= MAX_BYTES and width * height <= MAX_PIXELS)
    response = upload(data)
    assert response.status_code == 202, response.content[:300]


def django_keeps_file_named(name: str) -> bool:
    """Django's multipart parser drops a file whose name sanitizes to nothing (`..`, control characters)."""
    return MultiPartParser.sanitize_file_name(MultiPartParser.__new__(MultiPartParser), name) is not None


@settings(UPLOAD_SETTINGS, max_examples=30)
@given(name=st.text(max_size=400), content_type=st.sampled_from(["image/png", "text/html", "", "application/x-evil"]))
@example(name="..", content_type="image/png")
@example(name="\x1f", content_type="image/png")
@example(name="../../etc/passwd", content_type="image/png")
@example(name="a\x00b.png", content_type="image/png")
@example(name="\u202egnp.exe", content_type="image/png")
@example(name="a" * 930, content_type="image/png")  # the longest part head Django reads
@example(name="a" * 931, content_type="image/png")
@example(name="\u00e9" * 150, content_type="image/png")
def test_any_file_name_and_declared_type_are_only_labels(upload, name, content_type):
    response = upload(image_bytes("PNG"), name=name, content_type=content_type or "image/png")
    # Django reads at most 1 KiB of a part's headers, counted from the CRLF that ends its boundary: a long
    # name of multi-byte characters (up to 12 bytes each once encoded) passes it, and the upload is
    # refused as a whole, clearly.
    if len(part_head(name, content_type or "image/png")) - len(f"--{BOUNDARY}") > MAX_TOTAL_HEADER_SIZE:
        assert response.status_code == 400, response.content[:300]
        assert response.json()["code"] == "parse_error"
        return
    if not django_keeps_file_named(name):
        assert_refused(response, "required")
        return
    assert response.status_code == 202, response.content[:300]
    filename = response.json()["original_filename"]
    assert "/" not in filename
    assert "\\" not in filename
    assert len(filename) <= 255
    assert filename.isprintable()
