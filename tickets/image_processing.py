"""Making an upload fit to publish: metadata (EXIF with GPS, comments, XMP) removed, pixels kept."""

import io
from dataclasses import dataclass

from PIL import Image as PillowImage
from PIL import ImageOps


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    format: str  # jpeg, png, gif, webp
    width: int
    height: int


def strip_metadata(data: bytes) -> PreparedImage:
    """Re-encode the image without its metadata; EXIF orientation is applied to the pixels first."""
    with PillowImage.open(io.BytesIO(data)) as original:
        image_format = original.format or "PNG"
        upright = ImageOps.exif_transpose(original)
        rotated = upright is not original
        output = io.BytesIO()
        # Only what rendering needs is carried over: the colour profile, GIF/WebP animation timing.
        options: dict[str, object] = {"format": image_format}
        if original.info.get("icc_profile"):
            options["icc_profile"] = original.info["icc_profile"]
        if image_format == "JPEG":
            # "keep" re-uses the original quantisation tables: no visible loss from re-encoding.
            options["quality"] = 92 if rotated else "keep"
        elif image_format in ("GIF", "WEBP") and getattr(original, "is_animated", False):
            options.update(save_all=True, loop=original.info.get("loop", 0), duration=original.info.get("duration"))
        elif image_format == "WEBP":
            options["quality"] = 90
        (upright if rotated else original).save(output, **options)  # type: ignore[arg-type]
        width, height = upright.size
    return PreparedImage(data=output.getvalue(), format=image_format.lower(), width=width, height=height)


def make_thumbnail(data: bytes, size: int) -> tuple[bytes, str]:
    """A still thumbnail within size x size: PNG when the image has transparency, JPEG otherwise."""
    with PillowImage.open(io.BytesIO(data)) as image:
        image.thumbnail((size, size))
        has_alpha = image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info)
        output = io.BytesIO()
        if has_alpha:
            image.convert("RGBA").save(output, format="PNG")
            return output.getvalue(), "png"
        image.convert("RGB").save(output, format="JPEG", quality=85)
        return output.getvalue(), "jpeg"
