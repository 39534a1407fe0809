"""Judging an upload by its content: only whole JPEG, PNG, GIF and WebP images within the limits pass."""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image as PillowImage
from PIL import UnidentifiedImageError
from rest_framework.exceptions import ErrorDetail, ValidationError

# Pillow format name → the MIME type hopla reports.
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ValidImage:
    data: bytes
    format: str  # lower-case Pillow format: jpeg, png, gif, webp
    content_type: str
    width: int
    height: int


def _reject(message: str, code: str) -> ValidationError:
    return ValidationError({"image": [ErrorDetail(message, code=code)]})


def validate_image_upload(upload: UploadedFile | None) -> ValidImage:
    """Read and check an uploaded image; raise a 400 naming `image` with the SPEC §6 code otherwise."""
    if upload is None:
        raise _reject("No file was sent in the multipart field `image`.", "required")
    limit = settings.IMAGE_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise _reject(f"The image is {upload.size} bytes; the limit is {limit}.", "too_large")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _reject(f"The image is larger than the limit of {limit} bytes.", "too_large")
    if not data:
        raise _reject("The file is empty.", "corrupt_image")
    return validate_image_bytes(data)


def validate_image_bytes(data: bytes) -> ValidImage:
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit, raises) on decompression bombs: both are refusals here.
        warnings.simplefilter("error", PillowImage.DecompressionBombWarning)
        try:
            with PillowImage.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
        except UnidentifiedImageError as error:
            raise _reject("The file is not a JPEG, PNG, GIF or WebP image.", "unsupported_type") from error
        except (PillowImage.DecompressionBombError, PillowImage.DecompressionBombWarning) as error:
            raise _reject("The image has too many pixels.", "too_many_pixels") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise _reject("The image is corrupt.", "corrupt_image") from error

    if image_format not in ACCEPTED_FORMATS:
        raise _reject(f"{image_format} images are not accepted; send JPEG, PNG, GIF or WebP.", "unsupported_type")
    if width * height > settings.IMAGE_MAX_PIXELS:
        # Checked from the header alone, before any pixel is decoded.
        raise _reject(
            f"The image is {width}x{height} pixels; the limit is {settings.IMAGE_MAX_PIXELS} pixels.",
            "too_many_pixels",
        )
    _check_decodes(data)
    return ValidImage(
        data=data,
        format=image_format.lower(),
        content_type=ACCEPTED_FORMATS[image_format],
        width=width,
        height=height,
    )


def _check_decodes(data: bytes) -> None:
    """A truncated or damaged image only shows when its pixels are decoded."""
    try:
        with PillowImage.open(io.BytesIO(data)) as image:
            image.verify()
        with PillowImage.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, PillowImage.DecompressionBombError) as error:
        raise _reject(f"The image is corrupt or truncated: {error}", "corrupt_image") from error


def clean_filename(name: str | None) -> str:
    """The client's file name as a label only: no directories, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(character for character in base if character.isprintable())
    return printable.strip()[:255]
