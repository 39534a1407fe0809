"""The tests' fake Cloudinary in a process of its own, so that its work competes with nobody's GIL.

Prints its CLOUDINARY_URL on the first line, then serves until terminated.
"""

import signal
import sys
import threading

from tickets.tests.fake_cloudinary import FakeCloudinary


def main() -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with FakeCloudinary() as cloudinary:
        print(cloudinary.cloudinary_url, flush=True)
        stopped.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
