"""Checks `signin serve` makes before it hands over to uvicorn, so that a mistake is one line."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Any

from signin.cli.common import fail

if TYPE_CHECKING:
    from pathlib import Path


def check_tls(certfile: Path | None, keyfile: Path | None) -> dict[str, Any]:
    """uvicorn's TLS arguments, after loading the pair once here (a bad file is one line)."""
    import ssl

    if certfile is None:
        if keyfile is not None:
            fail("--keyfile needs --certfile")
        return {}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except FileNotFoundError as exc:
        fail(f"cannot read {exc.filename or certfile}: no such file")
    except PermissionError as exc:
        fail(f"cannot read {exc.filename or certfile}: permission denied")
    except (ssl.SSLError, OSError) as exc:
        detail = getattr(exc, "reason", None) or exc.strerror or str(exc)
        fail(f"cannot use the TLS certificate {certfile} (key {keyfile or certfile}): {detail}")
    tls: dict[str, Any] = {"ssl_certfile": str(certfile)}
    if keyfile is not None:
        tls["ssl_keyfile"] = str(keyfile)
    return tls


def check_port(host: str, port: int) -> None:
    """Fail in one line when HOST:PORT cannot be listened on (in use, not ours, no such address).

    uvicorn would say so too, but in several log lines after the schema migration; the socket is
    closed again at once, and uvicorn binds it with the same SO_REUSEADDR.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            fail(f"cannot listen on {host}:{port}: {reason}")
