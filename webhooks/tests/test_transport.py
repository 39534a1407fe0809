"""The delivery client's connections: a request's bytes go out in one send (webhooks.transport)."""

from typing import Any

import httpcore
import pytest

from webhooks.transport import _OneSendStream


class _CountingStream(httpcore.NetworkStream):
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sent.append(buffer)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:
        return info


def test_the_head_and_the_body_go_out_in_one_send_before_the_answer_is_read():
    inner = _CountingStream()
    stream = _OneSendStream(inner)
    stream.write(b"POST /hooks HTTP/1.1\r\n\r\n", timeout=2)
    stream.write(b'{"type": "ticket.created"}', timeout=2)
    stream.write(b"", timeout=2)
    assert inner.sent == []
    assert stream.read(65536, timeout=2).startswith(b"HTTP/1.1 204")
    assert inner.sent == [b'POST /hooks HTTP/1.1\r\n\r\n{"type": "ticket.created"}']
    assert stream.get_extra_info("is_readable") == "is_readable"


def test_a_large_body_is_sent_as_it_is_written():
    inner = _CountingStream()
    stream = _OneSendStream(inner)
    stream.write(b"x" * _OneSendStream.WRITE_BUFFER_BYTES)
    assert len(inner.sent) == 1


def test_closing_sends_nothing_left_and_closes():
    inner = _CountingStream()
    stream = _OneSendStream(inner)
    stream.write(b"POST /hooks HTTP/1.1\r\n")
    stream.close()
    assert inner.sent == []
    assert inner.closed


@pytest.mark.parametrize("error", [httpcore.WriteError, httpcore.WriteTimeout])
def test_a_send_that_fails_fails_the_read_that_flushes_it(error):
    class Failing(_CountingStream):
        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            raise error("broken pipe")

    stream = _OneSendStream(Failing())
    stream.write(b"POST /hooks HTTP/1.1\r\n\r\n")
    with pytest.raises(error):
        stream.read(65536)
