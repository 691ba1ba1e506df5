"""The browser's pre-hash equals Python's, with WebCrypto and with the bundled SHA-512.

SPEC section 2: `password.js` must compute `canon` exactly as Python does (NFKC, then full case
folding from the generated table, not `toLowerCase`) and SHA-512 either way. Each check runs in a
page opened as http://127.0.0.1 (a secure context: `crypto.subtle` is there) and as
http://signin.test (not a secure context: `crypto.subtle` is undefined, the fallback runs).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import TYPE_CHECKING

import pytest

from signin.crypto.prehash import canon, prehash_v1
from tests.browser.helpers import insecure_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.support import ServerProcess

pytestmark = pytest.mark.browser

PAIRS = [
    ("alice", "correct horse battery"),
    ("Straße", "Grüße aus Köln"),  # ß folds to "ss" (toLowerCase keeps ß)
    ("STRASSE", "ß"),
    ("ΣΟΦΟΣ", "σοφός ΣΟΦΟΣ"),  # capital sigma folds to σ, final ς too (toLowerCase: ς at the end)
    ("σοφος", "ς"),
    ("ſtar", "ſ"),  # long s folds to s
    ("ᏣᎳᎩ", "ꮳꮃꭹ"),  # Cherokee: small letters fold to capitals (toLowerCase goes the other way)
    ("ꮳꮃꭹ", "ᏣᎳᎩ"),
    ("ﬁsh", "ﬁ ligature ﬂ"),  # NFKC turns ﬁ into "fi"
    ("ＡＬＩＣＥ", "ｐａｓｓｗｏｒｄ１２３"),  # full-width letters and digits
    ("emoji", "🔑🙂👩🏽‍💻 key"),  # astral code points, skin tone, ZWJ sequence
    ("Zoe\u0308", "e\u0301\u0323 combining"),  # composes to ë; marks reordered and composed
    ("İstanbul", "İ"),  # dotted capital I folds to "i" + U+0307
    ("Ǆemal", "ǅ ǆ"),  # titlecase digraphs
    ("㍻", "㍻ ℌ ① ¹"),  # NFKC compatibility: square era name, fraktur H, circled one, superscript
    ("Ångström", "Å Å"),  # angstrom sign vs A with ring, NFKC makes them equal
    ("ＭＡßＥ", "\u1e9e"),  # capital sharp s
    ("x" * 32, "p" * 1024),  # longest username, longest password: several SHA-512 blocks
    ("ab\U0001ccd6", "\U0001ccd6\u0301"),  # Unicode 16 outlined A: unassigned for Python 3.11
]


@pytest.fixture(params=["webcrypto", "fallback"])
def prehash_page(request: pytest.FixtureRequest, page: Page, signin_server: ServerProcess) -> Page:
    """A page with password.js loaded, in each mode, checked to really be in that mode."""
    secure = request.param == "webcrypto"
    page.goto((signin_server.url if secure else insecure_url(signin_server)) + "/sign-in")
    assert page.evaluate("typeof crypto.subtle") == ("object" if secure else "undefined")
    assert page.evaluate("window.signinPrehash.usesWebCrypto()") is secure
    return page


def test_prehash_matches_python(prehash_page: Page) -> None:
    got = prehash_page.evaluate(
        "pairs => Promise.all(pairs.map(([u, p]) => window.signinPrehash.prehashV1(u, p)))",
        [list(pair) for pair in PAIRS],
    )
    want = [prehash_v1(username, password) for username, password in PAIRS]
    mismatches = [(pair, js, py) for pair, js, py in zip(PAIRS, got, want, strict=True) if js != py]
    assert mismatches == []


def test_sha512_matches_hashlib(prehash_page: Page) -> None:
    """The mode's SHA-512 and the bundled one, at lengths around the padding edges (111/112/128)."""
    lengths = [*range(0, 20), *range(100, 140), *range(230, 260), 1000, 4096]
    messages = [bytes((7 * n + i) % 256 for i in range(n)) for n in lengths]
    script = """async messages => {
      const hex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
      const out = [];
      for (const m of messages) {
        const bytes = new Uint8Array(m);
        out.push([hex(await window.signinPrehash.sha512(bytes)), hex(window.signinSha512(bytes))]);
      }
      return out;
    }"""
    got = prehash_page.evaluate(script, [list(m) for m in messages])
    for message, (mode_hex, bundled_hex) in zip(messages, got, strict=True):
        want = hashlib.sha512(message).hexdigest()
        assert (len(message), mode_hex, bundled_hex) == (len(message), want, want)


def test_canon_matches_python_on_every_folded_code_point(
    page: Page, signin_server: ServerProcess
) -> None:
    """Every code point the table covers, alone and after a letter, against Python's canon."""
    page.goto(signin_server.url + "/sign-in")
    codes = [c for c in range(0x110000) if chr(c).casefold() != chr(c)]
    assert len(codes) > 1400  # the table is about 1,500 entries; an empty one must not pass
    texts = [chr(c) for c in codes] + ["a" + chr(c) + "\u0301" for c in codes]
    got = page.evaluate("texts => texts.map(t => window.signinPrehash.canon(t))", texts)
    want = [canon(text) for text in texts]
    mismatches = [
        (f"U+{ord(text[0] if len(text) == 1 else text[1]):04X}", js, py)
        for text, js, py in zip(texts, got, want, strict=True)
        if js != py
    ]
    assert mismatches == []


def test_casefold_is_not_to_lower_case(page: Page, signin_server: ServerProcess) -> None:
    """The table is really used: where toLowerCase and casefold differ, canon follows Python."""
    page.goto(signin_server.url + "/sign-in")
    got = page.evaluate(
        "() => ['ß', 'ΣΑΣ', 'ſ', 'ꮳ'].map(t => [t.toLowerCase(), window.signinPrehash.canon(t)])"
    )
    assert got == [["ß", "ss"], ["σας", "σασ"], ["ſ", "s"], ["ꮳ", "Ꮳ"]]


def test_nfkc_matches_python_on_every_code_point(page: Page, signin_server: ServerProcess) -> None:
    """Every code point NFKC changes, in the browser (newer Unicode) and in Python, agree."""
    page.goto(signin_server.url + "/sign-in")
    changed = page.evaluate(
        """() => {
          const out = [];
          for (let c = 0; c < 0x110000; c++) {
            if (c >= 0xd800 && c <= 0xdfff) continue;
            const text = String.fromCodePoint(c);
            const normal = window.signinPrehash.nfkc(text);
            if (normal !== text) out.push([c, normal]);
          }
          return out;
        }"""
    )
    want = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        normal = unicodedata.normalize("NFKC", chr(code))
        if normal != chr(code):
            want.append([code, normal])
    assert len(want) > 4000
    assert changed == want


def test_typed_name_is_stripped_as_python_strips(page: Page, signin_server: ServerProcess) -> None:
    """Sign-in strips the name with str.strip() on the server; the page must strip the same set."""
    page.goto(signin_server.url + "/sign-in")
    texts = [chr(c) + "a b" + chr(c) for c in [*range(0x3001), 0xFEFF, 0x180E, 0x200B]]
    got = page.evaluate("texts => texts.map(t => window.signinPrehash.stripName(t))", texts)
    want = [text.strip() for text in texts]
    assert [(hex(ord(t[0])), g) for t, g, w in zip(texts, got, want, strict=True) if g != w] == []
