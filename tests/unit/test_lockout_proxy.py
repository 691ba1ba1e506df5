"""Which address the IP lock counts: web/proxy.py `client_ip` (SPEC sections 1 and 5)."""

from __future__ import annotations

import ipaddress

import pytest

from signin.web.proxy import client_ip

TRUSTED = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # An untrusted peer: its forged header changes nothing.
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
        ("203.0.113.5", ["198.51.100.1, 10.0.0.2"], "203.0.113.5"),
        # A trusted proxy: the right-most address that is not itself a trusted proxy.
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left part is client-made
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1, 10.1.2.3"], "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # two headers
        ("127.0.0.1", ["[2001:db8::7]:4711"], "2001:db8::7"),
        ("127.0.0.1", ["198.51.100.1:8080"], "198.51.100.1"),
        # No header, or only proxies in it: the best address known.
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["10.0.0.9, 10.0.0.8"], "10.0.0.9"),
        # A garbled hop right of the client: fall back to the peer rather than guess.
        ("127.0.0.1", ["198.51.100.1, not-an-ip"], "127.0.0.1"),
    ],
)
def test_client_ip(peer: str, headers: list[str], expected: str) -> None:
    assert client_ip(peer, headers, TRUSTED) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_ip("127.0.0.1", ["198.51.100.1"], []) == "127.0.0.1"
    assert client_ip(None, ["198.51.100.1"], TRUSTED) is None
