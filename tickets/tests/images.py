"""Test images made in memory with Pillow: every format, with EXIF GPS, truncated, or lying about size."""

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PillowImage

GPS_IFD = 0x8825


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (64, 48), *, gps: bool = False) -> bytes:
    """A small picture in `image_format`; with `gps`, EXIF carrying a GPS position (JPEG/PNG/WebP)."""
    image = PillowImage.new("RGB", size, (200, 40, 40))
    for x in range(0, size[0], 4):
        image.putpixel((x, size[1] // 2), (0, 0, 255))
    options: dict[str, object] = {"format": image_format}
    if gps:
        exif = PillowImage.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
        options["exif"] = exif
    output = io.BytesIO()
    image.save(output, **options)
    return output.getvalue()


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    return image_bytes("PNG", size)


def uploaded_png(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels but carries almost no data: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 64)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend


def has_gps(data: bytes) -> bool:
    with PillowImage.open(io.BytesIO(data)) as image:
        return bool(image.getexif().get_ifd(GPS_IFD))
