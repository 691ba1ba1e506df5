"""uvicorn's httptools protocol with the limits an internet-facing server needs (SPEC 16).

Stock uvicorn holds a connection that sends nothing, or its request head one byte a second,
for as long as the client likes (its keep-alive timer starts only after a first answer, and any
byte stops it): 200 such connections were never closed. This protocol gives every request head
`HEAD_SECONDS` to arrive, bounds its size before it is buffered whole, caps the connections a
process keeps open, and gives its own protocol-level refusals (400, 431) the security headers.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # past this the head is not even buffered (the app's limit: 16 KiB)

_HEADERS = (
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"x-frame-options: DENY\r\n"
    b"cross-origin-opener-policy: same-origin\r\n"
    b"referrer-policy: no-referrer\r\n"
    b"cache-control: no-store\r\n"
    b"connection: close\r\n"
)


def raw_answer(status: int, reason: str, text: str) -> bytes:
    body = text.encode("ascii")
    return (
        f"HTTP/1.1 {status} {reason}\r\n".encode("ascii")
        + _HEADERS
        + f"content-length: {len(body)}\r\n\r\n".encode("ascii")
        + body
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Set from SIGNIN_HEAD_TIMEOUT_SECONDS and SIGNIN_MAX_CONNECTIONS by `app.serve_app`, which
    # every worker process runs before it serves (uvicorn builds protocols from the class).
    head_seconds = 10.0  # from a connection's start, or an answer's end, to a complete head
    max_connections = 1024  # per process; past it a new connection is closed at once
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_tail = b""  # the last bytes seen of the head, for an end that spans two reads
    _head_due = 0.0
    _grace_used = False
    _awaiting_head = True
    _in_body = False  # the parser is still inside a request's body (possibly already answered)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.transport.close()
            return
        self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # An answer may go out before its request's body is in (a 413 says so from the head):
        # the rest of that body then arrives while the next head is awaited, and is not part of
        # it. Bytes are counted once the parser has finished the previous request.
        if self._awaiting_head and not self._in_body:
            # Count the head only: a body that arrives in the same read is not part of it.
            seen = self._head_tail + data
            end = seen.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._head_tail))
            self._head_tail = seen[-3:]
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, "Request Header Fields Too Large", "Request head too large.")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False  # the timer, if it fires meanwhile, finds nothing to do
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._expect_head()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "Bad Request", msg)

    def _refuse(self, status: int, reason: str, text: str) -> None:
        self._stop_head_timer()
        if not self.transport.is_closing():
            self.transport.write(raw_answer(status, reason, text))
            self.transport.close()

    def _expect_head(self) -> None:
        # One timer per connection, moved by its deadline alone: a keep-alive connection's
        # requests do not each make and cancel a timer (the session check's hot path).
        self._awaiting_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._grace_used = False
        self._head_due = self.loop.time() + self.head_seconds
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_due, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._awaiting_head:
            return  # a request is being served: its answer's end sets the next deadline
        late = self.loop.time() - self._head_due
        if late < 0:  # the deadline moved on since the timer was set
            self._head_timer = self.loop.call_at(self._head_due, self._head_too_slow)
            return
        if late > 1.0 and not self._grace_used:
            # This callback ran late: the loop was busy, and the head may already be waiting
            # in the socket buffer. Read it first: one short grace, not the client's fault.
            self._grace_used = True
            self._head_due = self.loop.time() + 1.0
            self._head_timer = self.loop.call_later(1.0, self._head_too_slow)
            return
        if self._awaiting_head and not self.transport.is_closing():
            self.transport.close()
