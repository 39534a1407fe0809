"""How long an uploaded image takes to become `ready`: real web server, real RQ worker, real Redis,
PostgreSQL, and the local Cloudinary-compatible server the tests use.

    .venv/bin/python -m bench.image_ready [--runs 5] [--megabytes 2]

It creates (and drops) its own database `hopla_bench_images` and uses Redis db 9.
"""

import argparse
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from PIL import Image as PillowImage

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "hopla_bench_images"
REDIS_URL = "redis://127.0.0.1:6379/9"


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def noisy_jpeg(megabytes: float) -> bytes:
    """A photo-like JPEG of about `megabytes` (noise does not compress), with EXIF to strip."""
    side = 800
    while True:
        image = PillowImage.frombytes("RGB", (side, side), random.randbytes(side * side * 3))
        output = io.BytesIO()
        exif = PillowImage.Exif()
        exif[0x010F] = "BenchCam"
        image.save(output, format="JPEG", quality=90, exif=exif)
        if output.tell() >= megabytes * 1024 * 1024:
            return output.getvalue()
        side += 200


def call(base: str, method: str, path: str, body: Any = None, token: str = "", files: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if files is not None:
        boundary = uuid.uuid4().hex
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        data = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + files
            + f"\r\n--{boundary}--\r\n".encode()
        )
    elif body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the web server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=2.0)
    arguments = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from tickets.tests.fake_cloudinary import FakeCloudinary

    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DATABASE], check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeCloudinary() as cloudinary:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hopla.settings.local",
            "DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "REDIS_URL": REDIS_URL,
            "CLOUDINARY_URL": cloudinary.cloudinary_url,
            "LOG_LEVEL": "WARNING",
        }
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(["redis-cli", "-n", "9", "flushdb"], check=True, capture_output=True)
        web = subprocess.Popen(
            [python, "-m", "uvicorn", "hopla.asgi:application", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        worker = subprocess.Popen(
            [python, "manage.py", "rqworker", "default", "--with-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(base)
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            password = "bench-" + uuid.uuid4().hex
            call(base, "POST", "/api/v1/auth/register/", {"email": email, "password": password, "full_name": "Bench"})
            token = call(base, "POST", "/api/v1/auth/login/", {"email": email, "password": password})["access"]
            call(base, "POST", "/api/v1/projects/", {"key": "BENCH", "name": "Bench"}, token)
            ticket = call(base, "POST", "/api/v1/tickets/", {"project": "BENCH", "title": "Images"}, token)["key"]
            photo = noisy_jpeg(arguments.megabytes)
            accepted, ready = [], []
            for _ in range(arguments.runs):
                started = time.perf_counter()
                image = call(base, "POST", f"/api/v1/tickets/{ticket}/images/", token=token, files=photo)
                accepted.append(time.perf_counter() - started)
                while image["status"] in ("pending", "processing"):
                    time.sleep(0.01)
                    image = call(base, "GET", f"/api/v1/tickets/{ticket}/images/{image['id']}/", token=token)
                ready.append(time.perf_counter() - started)
                assert image["status"] == "ready", image
        finally:
            web.terminate()
            worker.terminate()
            web.wait(10)
            worker.wait(10)
        megabytes = len(photo) / 1024 / 1024
        print(f"image: JPEG {megabytes:.2f} MiB, {arguments.runs} runs, uploads stored: {len(cloudinary.uploads)}")
        accepted_ms = statistics.median(accepted) * 1000, max(accepted) * 1000
        ready_ms = statistics.median(ready) * 1000, max(ready) * 1000
        print(f"upload answered 202 in median {accepted_ms[0]:.0f} ms, max {accepted_ms[1]:.0f} ms")
        print(f"upload to status ready: median {ready_ms[0]:.0f} ms, max {ready_ms[1]:.0f} ms")
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE], check=True)


if __name__ == "__main__":
    main()
