"""Signed redirects (SPEC section 6): which targets may be followed, and their signatures.

A target is followed only when it carries a valid signature *and* is safe: a same-origin path, or
an absolute http(s) URL whose host is this service's own or listed in
`SIGNIN_ALLOWED_REDIRECT_HOSTS` (exact host, or `*.domain` for its subdomains). A signature is
never a reason to trust a target that is not safe: keys leak, and links get signed by mistake.

"Safe" is judged the way the most lenient party down the line could read the target: browsers
drop tabs and newlines anywhere in a URL and turn `\\` into `/`; servers and frameworks behind
the proxy decode `%2F`, sometimes twice, and some fold Unicode look-alikes (`／`, `。`) into
ASCII. So a target is refused when *any* of those readings would leave this origin or the
allowed hosts, or would put a control character where a header or a log line could meet it.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import quote, unquote, unquote_to_bytes, urlencode, urlsplit

from signin.crypto.signing import RedirectSigner

MAX_TARGET_LENGTH = 2048
DECODE_ROUNDS = 4
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no URL should carry raw: controls (CR, LF, TAB, NUL...), invisible formatting
# (zero-width, bidi overrides), separators, surrogates, private use and unassigned code points.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cs", "Co", "Cn"})
# Once decoded, a path may hold spaces (`/My%20File.pdf`), but nothing a browser would strip.
_BAD_DECODED = _BAD_CATEGORIES - {"Zs"}
_SCHEME_RE = re.compile(r"^(?i:https?)://")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Host names as ASCII letter-digit-hyphen labels (IDNs in their xn-- form), or a bracketed IPv6
# literal; an optional port. Anything else (userinfo, `%`, Unicode dots, empty labels) is refused.
_NETLOC_RE = re.compile(
    rf"^(?P<host>{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?$"
)


class UnsafeRedirect(ValueError):
    """The target is not a same-origin path nor an allowed http(s) URL; `reason` says why."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"refused redirect target {target!r}: {reason}")
        self.target = target
        self.reason = reason


class RedirectPolicy:
    def __init__(self, signer: RedirectSigner, public_url: str, allowed_hosts: list[str]) -> None:
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        own = urlsplit(self.public_url)
        self._own = (
            (own.hostname or "").lower().rstrip("."),
            own.port or _DEFAULT_PORTS[own.scheme],
        )
        self._allowed = [host.lower() for host in allowed_hosts]

    # -- judging a target -----------------------------------------------------------------

    def refusal(self, target: str) -> str | None:
        """Why `target` may not be followed, or None when it is safe."""
        if not target:
            return "empty target"
        if len(target) > MAX_TARGET_LENGTH:
            return f"longer than {MAX_TARGET_LENGTH} characters"
        if _has_bad_characters(target):
            return "contains whitespace, control or invisible characters"
        if "\\" in target:
            return "contains a backslash"
        if target.startswith("/"):
            if target.startswith("//"):
                return "starts with // (another host)"
            return _path_refusal(target)
        if not _SCHEME_RE.match(target):
            return "not a path starting with / nor an absolute http(s) URL"
        return self._absolute_refusal(target)

    def is_safe(self, target: str) -> bool:
        return self.refusal(target) is None

    def _absolute_refusal(self, target: str) -> str | None:
        try:
            parts = urlsplit(target)
        except ValueError:
            return "not a valid URL"
        netloc = parts.netloc.lower()
        if "@" in netloc:
            return "contains user information (@) before the host"
        match = _NETLOC_RE.match(netloc)
        if match is None:
            return "the host is not a plain ASCII host name or IP address"
        host = match["host"]
        if host.startswith("["):
            host = host[1:-1]
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                return "the host is not a valid IPv6 address"
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 0 < port < 65536:
            return "the port is out of range"
        effective = port or _DEFAULT_PORTS[parts.scheme]
        if (host.rstrip("."), effective) != self._own and not self.host_allowed(host, port):
            return f"host {host} is not this service nor in SIGNIN_ALLOWED_REDIRECT_HOSTS"
        return _path_refusal(target, parts.path, f"{parts.query}#{parts.fragment}")

    def host_allowed(self, host: str, port: int | None = None) -> bool:
        """Is `host` (with `port`, if the URL named one) listed in the allowed hosts?

        An entry without a port admits the host on any port; `host:port` only that port;
        `*.domain` every subdomain of `domain` (not `domain` itself).
        """
        host = host.lower().rstrip(".")
        for allowed in self._allowed:
            name, _, allowed_port = allowed.partition(":")
            if allowed_port and (port is None or int(allowed_port) != port):
                continue
            if name.startswith("*."):
                if host.endswith(name[1:]):
                    return True
            elif host == name:
                return True
        return False

    # -- signing and following ------------------------------------------------------------

    def sign(self, target: str) -> str:
        """The signature for a safe target; `UnsafeRedirect` otherwise."""
        reason = self.refusal(target)
        if reason is not None:
            raise UnsafeRedirect(target, reason)
        return self.signer.sign(target)

    def verified(self, target: str | None, signature: str | None, default: str) -> str:
        """`target` when signed and safe, else `default`; never an error (SPEC section 6)."""
        if target and signature and self.is_safe(target) and self.signer.verify(target, signature):
            return target
        return default

    def query(self, target: str) -> str:
        """`next=...&sig=...` for a safe target (`/` and `:` left readable, as in the SPEC)."""
        return urlencode({"next": target, "sig": self.sign(target)}, safe="/:", quote_via=quote)

    def sign_in_link(self, target: str, path: str = "/sign-in") -> str:
        """A link to `path` on this service (sign-in, or its second step) that leads to target."""
        return f"{self.public_url}{path}?{self.query(target)}"

    def csp_sources(self) -> list[str]:
        """CSP source expressions for the allowed hosts (the sign-in form's `form-action`).

        Browsers check `form-action` against the redirect that follows a form post, so the hosts
        a sign-in may send people to must be listed; a portless entry admits any port, as above.
        """
        sources = []
        for allowed in self._allowed:
            with_port = allowed if ":" in allowed else f"{allowed}:*"
            sources += [f"https://{with_port}", f"http://{with_port}"]
        return sources


def _has_bad_characters(text: str, bad: frozenset[str] = _BAD_CATEGORIES) -> bool:
    return any(unicodedata.category(char) in bad for char in text)


def _path_refusal(target: str, path: str | None = None, rest: str | None = None) -> str | None:
    """Refuse a path that decoding or Unicode folding would turn into `//host` or `/\\host`.

    Paths like `/%2F%2Fevil` are harmless to a browser but not to an app that decodes its path
    and redirects to it; after up to `DECODE_ROUNDS` rounds of percent-decoding and NFKC
    folding, the path must hold no `//`, no backslash and no control character.
    """
    if path is None:
        try:
            parts = urlsplit(target)
        except ValueError:
            return "not a valid URL"
        path, rest = parts.path, f"{parts.query}#{parts.fragment}"
    decoded = _fully_decoded(path)
    if decoded is None:
        return "the path is percent-encoded too many times or is not UTF-8"
    folded = unicodedata.normalize("NFKC", decoded)
    for form in (path, decoded, folded):
        if "//" in form:
            return "the path contains // (literally, percent-encoded or as a look-alike)"
        if "\\" in form:
            return "the path contains a backslash (percent-encoded or as a look-alike)"
        if _has_bad_characters(form, _BAD_DECODED):
            return "the path contains encoded control or invisible characters"
    # Query and fragment may carry anything encoded, except characters that split headers.
    decoded_rest = rest or ""
    for _ in range(DECODE_ROUNDS):
        decoded_rest = unquote(decoded_rest, errors="replace")
    if any(unicodedata.category(char) == "Cc" for char in decoded_rest):
        return "the query or fragment contains encoded control characters (CR, LF, NUL...)"
    return None


def _fully_decoded(path: str) -> str | None:
    """`path` percent-decoded until it stops changing, or None (too deep, or not UTF-8)."""
    current = path
    for _ in range(DECODE_ROUNDS):
        if "%" not in current:
            return current
        try:
            decoded = unquote_to_bytes(current).decode("utf-8")
        except UnicodeDecodeError:
            return None
        if decoded == current:
            return current
        current = decoded
    return current if "%" not in current or unquote(current) == current else None
