"""Client text made safe to print: control characters escaped, never read as markup (SPEC 16).

Usernames, paths and user agents come from strangers. Written raw, a newline forges a second log
line, an ESC sequence rewrites the admin's terminal, and a bidi override hides what follows it.
`escape_text` turns every such character into a visible `\\xNN` / `\\uNNNN` escape (and a
backslash into two, so an escape typed by the client cannot pass for one made here).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["escape_text"]

# C0, DEL and C1 controls, plus the Unicode line/paragraph separators, bidi embeddings,
# overrides and isolates, which move or hide the text around them on a terminal.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """`text` with every control or text-direction character written as an escape."""
    if _UNSAFE.search(text) is None:
        return text  # the common case costs one scan and no copy
    return _UNSAFE.sub(_escaped, text)


def has_control(text: str) -> bool:
    """True when `text` holds a character no client text field may carry (NUL, controls)."""
    return any(unicodedata.category(char) == "Cc" for char in text)
