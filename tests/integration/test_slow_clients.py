"""A real `signin serve` facing slow, silent and oversized clients on raw sockets (SPEC 16).

Each test counts what the server did (closed the socket, answered), never how fast it was: the
head timeout is set to 2 s and every wait is bounded well past it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, server

HEAD_SECONDS = 2


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("slow") / "data"
    env = {"SIGNIN_DATA_DIR": str(data), "SIGNIN_HEAD_TIMEOUT_SECONDS": str(HEAD_SECONDS)}
    with server(env) as process:
        yield process


def connect(process: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", process.port), timeout=5)
    sock.settimeout(0.5)
    return sock


def closed_by_server(sock: socket.socket, deadline: float, trickle: bytes = b"") -> bool:
    """Send `trickle` a byte at a time (if any) until the server closes, or the deadline."""
    sent = 0
    while time.monotonic() < deadline:
        try:
            if sent < len(trickle):
                sock.sendall(trickle[sent : sent + 1])
                sent += 1
            data = sock.recv(65536)
            if data == b"":
                return True
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


@pytest.mark.slow
def test_silent_and_trickling_connections_are_closed(live: ServerProcess) -> None:
    silent = [connect(live) for _ in range(20)]
    trickling = connect(live)
    deadline = time.monotonic() + HEAD_SECONDS + 8
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    try:
        assert closed_by_server(trickling, deadline, head)
        assert all(closed_by_server(sock, deadline) for sock in silent)
        # Meanwhile (and after) the server answers everyone else.
        assert httpx.get(f"{live.url}/healthz", timeout=10).status_code == 200
    finally:
        for sock in [*silent, trickling]:
            sock.close()


@pytest.mark.slow
def test_a_kept_alive_connection_gets_the_same_head_limit(live: ServerProcess) -> None:
    sock = connect(live)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + HEAD_SECONDS + 8
        assert closed_by_server(sock, deadline, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200)
    finally:
        sock.close()


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body) from `sock`, bounded."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data[:100]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the body"
        body += chunk
    return head


def test_the_rest_of_a_refused_body_is_not_counted_as_the_next_head(live: ServerProcess) -> None:
    # 413 goes out from the head alone; the client then sends the body it announced (over the
    # 64 KiB head limit) and its next request on the same connection, as httpx does.
    body = b"x" * (70 * 1024)
    sock = connect(live)
    try:
        sock.sendall(
            b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert read_answer(sock).startswith(b"HTTP/1.1 413")
        sock.sendall(body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
    finally:
        sock.close()


@pytest.mark.slow
def test_protocol_level_refusals_carry_the_security_headers(live: ServerProcess) -> None:
    for request, status in [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (65 * 1024), b"431"),
    ]:
        sock = connect(live)
        try:
            sock.settimeout(5)
            sock.sendall(request)
            answer = sock.recv(65536)
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert b"content-security-policy: default-src 'none'" in head
        assert b"x-content-type-options: nosniff" in head


@pytest.mark.slow
def test_a_head_over_16_kib_is_431_from_the_app(live: ServerProcess) -> None:
    answer = httpx.get(f"{live.url}/api/v1/session", headers={"x-big": "a" * 20_000}, timeout=10)
    assert answer.status_code == 431
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_settings_reach_the_protocol(tmp_path: Path) -> None:
    from signin.app import serve_app
    from signin.web.serverproto import GuardedHttpToolsProtocol

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNIN_DATA_DIR", str(tmp_path / "data"))
        patch.setenv("SIGNIN_HEAD_TIMEOUT_SECONDS", "3")
        patch.setenv("SIGNIN_MAX_CONNECTIONS", "50")
        patch.setattr(GuardedHttpToolsProtocol, "head_seconds", 10.0)
        patch.setattr(GuardedHttpToolsProtocol, "max_connections", 1024)
        serve_app()
        assert GuardedHttpToolsProtocol.head_seconds == 3.0
        assert GuardedHttpToolsProtocol.max_connections == 50
