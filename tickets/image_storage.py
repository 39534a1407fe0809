"""Where ready images live: Cloudinary when CLOUDINARY_URL is set, local storage under /media/ otherwise.

Both stores key an image by its id, so storing the same image twice overwrites instead of duplicating.
"""

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import cloudinary
import cloudinary.uploader
import cloudinary.utils
from cloudinary import exceptions as cloudinary_errors
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tickets.image_processing import PreparedImage, make_thumbnail

CLOUDINARY_TIMEOUT_SECONDS = 60

# Cloudinary answers these when the request itself is wrong: trying again cannot help.
_PERMANENT_CLOUDINARY_ERRORS = (
    cloudinary_errors.BadRequest,
    cloudinary_errors.AuthorizationRequired,
    cloudinary_errors.NotAllowed,
    cloudinary_errors.NotFound,
    cloudinary_errors.AlreadyExists,
)


class TransientStoreError(Exception):
    """The store could not be reached or failed on its side (network, timeout, 5xx): worth a retry."""


class PermanentStoreError(Exception):
    """The store refused the image for good."""


@dataclass(frozen=True)
class StoredImage:
    url: str
    thumbnail_url: str
    width: int
    height: int
    bytes: int
    format: str


def store_image(image_id: Any, image: PreparedImage) -> StoredImage:
    if settings.CLOUDINARY_URL:
        return _cloudinary_store(str(image_id), image)
    return _local_store(str(image_id), image)


def delete_stored_image(image_id: Any) -> None:
    """Remove the stored image and its thumbnail; removing what is not there is not an error."""
    if settings.CLOUDINARY_URL:
        _cloudinary_call(cloudinary.uploader.destroy, str(image_id), invalidate=True)
    else:
        for name in _local_names(str(image_id)):
            default_storage.delete(name)


# --- Cloudinary ----------------------------------------------------------------------------------


def cloudinary_options() -> dict[str, Any]:
    """SDK options from CLOUDINARY_URL, passed per call so that no process-wide config is involved."""
    url = urlsplit(settings.CLOUDINARY_URL)
    options: dict[str, Any] = {
        "cloud_name": url.hostname,
        "api_key": unquote(url.username or ""),
        "api_secret": unquote(url.password or ""),
    }
    options.update({name: values[0] for name, values in parse_qs(url.query).items()})
    return options


def _cloudinary_call(function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return function(*args, timeout=CLOUDINARY_TIMEOUT_SECONDS, **cloudinary_options(), **kwargs)
    except _PERMANENT_CLOUDINARY_ERRORS as error:
        raise PermanentStoreError(f"Cloudinary refused the request: {error}") from error
    except cloudinary_errors.Error as error:  # network errors, timeouts, 5xx, garbled answers
        raise TransientStoreError(f"Cloudinary failed: {error}") from error


def _cloudinary_store(public_id: str, image: PreparedImage) -> StoredImage:
    result = _cloudinary_call(
        cloudinary.uploader.upload,
        io.BytesIO(image.data),
        public_id=public_id,
        overwrite=True,
        invalidate=True,
        resource_type="image",
    )
    size = settings.IMAGE_THUMBNAIL_SIZE
    thumbnail_url, _ = cloudinary.utils.cloudinary_url(
        result["public_id"],
        version=result["version"],
        format=result["format"],
        secure=True,
        transformation=[{"width": size, "height": size, "crop": "fill", "gravity": "auto"}],
        **cloudinary_options(),
    )
    return StoredImage(
        url=result["secure_url"],
        thumbnail_url=thumbnail_url,
        width=result["width"],
        height=result["height"],
        bytes=result["bytes"],
        format=image.format,  # hopla's names (jpeg, not Cloudinary's jpg), whichever store holds it
    )


# --- Local storage -------------------------------------------------------------------------------

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}


def _local_names(image_id: str) -> list[str]:
    return [f"images/{image_id}.{extension}" for extension in _EXTENSIONS.values()] + [
        f"images/{image_id}-thumbnail.{extension}" for extension in ("jpg", "png")
    ]


def _local_store(image_id: str, image: PreparedImage) -> StoredImage:
    for name in _local_names(image_id):  # a second run replaces, never adds
        default_storage.delete(name)
    name = default_storage.save(f"images/{image_id}.{_EXTENSIONS[image.format]}", ContentFile(image.data))
    thumbnail, thumbnail_format = make_thumbnail(image.data, settings.IMAGE_THUMBNAIL_SIZE)
    thumbnail_name = default_storage.save(
        f"images/{image_id}-thumbnail.{_EXTENSIONS[thumbnail_format]}", ContentFile(thumbnail)
    )
    return StoredImage(
        url=default_storage.url(name),
        thumbnail_url=default_storage.url(thumbnail_name),
        width=image.width,
        height=image.height,
        bytes=len(image.data),
        format=image.format,
    )
