"""Signed redirects (SPEC section 6): which targets may be followed, and their signatures.

A target is followed only when it carries a valid signature *and* is safe: a same-origin path, or
an absolute http(s) URL whose host is this service's own or listed in
`SIGNIN_ALLOWED_REDIRECT_HOSTS` (exact host, or `*.domain` for its subdomains). A signature is
never a reason to trust a target that is not safe: keys leak, and links get signed by mistake.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlencode, urlsplit

from signin.crypto.signing import RedirectSigner

MAX_TARGET_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeRedirect(ValueError):
    """The target is not a same-origin path nor an allowed http(s) URL."""


class RedirectPolicy:
    def __init__(self, signer: RedirectSigner, public_url: str, allowed_hosts: list[str]) -> None:
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        own = urlsplit(self.public_url)
        self._own = ((own.hostname or "").lower(), own.port or _DEFAULT_PORTS[own.scheme])
        self._allowed = [host.lower() for host in allowed_hosts]

    def is_safe(self, target: str) -> bool:
        if not target or len(target) > MAX_TARGET_LENGTH or "\\" in target:
            return False
        if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in target):
            return False
        if target.startswith("/"):
            return not target.startswith("//")
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
            return False
        host = (parts.hostname or "").lower()
        if not host or target[len(parts.scheme) : len(parts.scheme) + 3] != "://":
            return False
        if (host, port or _DEFAULT_PORTS[parts.scheme]) == self._own:
            return True
        return self.host_allowed(host, port)

    def host_allowed(self, host: str, port: int | None = None) -> bool:
        host = host.lower().rstrip(".")
        with_port = f"{host}:{port}" if port else host
        for allowed in self._allowed:
            if allowed.startswith("*."):
                domain = allowed[1:]
                if host.endswith(domain) or with_port.endswith(domain):
                    return True
            elif allowed in (host, with_port):
                return True
        return False

    def sign(self, target: str) -> str:
        """The signature for a safe target; `UnsafeRedirect` otherwise."""
        if not self.is_safe(target):
            raise UnsafeRedirect(f"refused redirect target: {target!r}")
        return self.signer.sign(target)

    def verified(self, target: str | None, signature: str | None, default: str) -> str:
        """`target` when signed and safe, else `default`; never an error (SPEC section 6)."""
        if target and signature and self.is_safe(target) and self.signer.verify(target, signature):
            return target
        return default

    def query(self, target: str) -> str:
        """`next=...&sig=...` for a safe target."""
        return urlencode({"next": target, "sig": self.sign(target)})

    def sign_in_link(self, target: str) -> str:
        return f"{self.public_url}/sign-in?{self.query(target)}"
