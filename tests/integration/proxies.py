"""Pieces shared by the tests that put a real proxy (nginx, Caddy) in front of signin."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

NGINX_MAIN = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}
}}
"""


def nginx_conf(tmp: Path, http: str) -> str:
    """A whole nginx.conf that keeps every file under `tmp`, with `http` inside its http {}."""
    # As root, nginx would hand requests to `nobody`, who cannot enter pytest's tmp dir.
    user = "user root root;" if os.geteuid() == 0 else ""
    return NGINX_MAIN.format(user=user, tmp=tmp, http=http)


class EchoHandler(BaseHTTPRequestHandler):
    """The protected app: answers with the identity headers the proxy gave it."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = json.dumps(
            {
                "path": self.path,
                "user": _utf8(self.headers.get("Remote-User")),
                "email": _utf8(self.headers.get("Remote-Email")),
                "groups": _utf8(self.headers.get("Remote-Groups")),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _utf8(value: str | None) -> str | None:
    # http.server reads header bytes as Latin-1; signin sends UTF-8.
    return value.encode("latin-1").decode("utf-8") if value is not None else None


@contextmanager
def echo_app() -> Iterator[int]:
    """The echo app on a free loopback port; yields the port."""
    EchoHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the proxy exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the proxy did not listen on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def self_signed(directory: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate and key for `name` (an IP address) made by openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=IP:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def swap(text: str, old: str, *new: str) -> str:
    """Replace each occurrence of `old` in turn by the next of `new`; exactly that many must exist.

    The documented files are tested as they are: a test changes only what differs between
    machines (addresses, ports, certificate paths), and fails when the file drifts from that.
    """
    parts = text.split(old)
    assert len(parts) == len(new) + 1, f"{old!r} occurs {len(parts) - 1} times, not {len(new)}"
    out = parts[0]
    for replacement, rest in zip(new, parts[1:], strict=True):
        out += replacement + rest
    return out
