"""Property tests (hypothesis) of every parser that takes client text (SPEC section 16).

Usernames, redirect targets, forwarded-header chains and log/CLI escaping: for any input they
answer without raising, and what they accept keeps the promises the rest of signin relies on.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from signin.accounts.lookalikes import is_mixed_script, skeleton
from signin.accounts.redirects import RedirectPolicy
from signin.accounts.usernames import canon, username_problems
from signin.crypto.keys import KeyRing
from signin.crypto.signing import RedirectSigner
from signin.escape import escape_text, has_control
from signin.web.proxy import client_ip

EXAMPLES = settings(max_examples=300, deadline=None)
POLICY = RedirectPolicy(
    RedirectSigner(KeyRing("k" * 40)), "https://auth.example.com", ["app.example.com"]
)
TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
URLISH = st.text(alphabet=st.sampled_from("/\\:@.?#%-_ab0Z[]\t\n\x00é\u202eа"), max_size=60)


@EXAMPLES
@given(st.text(max_size=80))
def test_usernames_are_judged_without_raising(name: str) -> None:
    problems = username_problems(name)
    skeleton(name)
    is_mixed_script(name)
    if not problems:
        text = unicodedata.normalize("NFKC", name)
        assert 3 <= len(text) <= 32
        assert not has_control(name)
        assert not is_mixed_script(name)
        assert canon(name) == canon(name.upper()) or canon(name.upper()) != canon(name)


@EXAMPLES
@given(st.text(max_size=40))
def test_a_skeleton_ignores_compatibility_forms_and_case(name: str) -> None:
    assert skeleton(name) == skeleton(unicodedata.normalize("NFKC", name))
    if name.isascii():
        assert skeleton(name.lower()) == skeleton(name.lower().upper().lower())


@EXAMPLES
@given(st.one_of(st.text(max_size=80), URLISH, URLISH.map(lambda t: "https://" + t)))
def test_a_safe_redirect_stays_home_or_on_an_allowed_host(target: str) -> None:
    if not POLICY.is_safe(target):
        assert POLICY.verified(target, POLICY.signer.sign(target), "/home") == "/home"
        return
    assert not has_control(target)
    assert "\\" not in target
    if target.startswith("/"):
        assert not target.startswith("//")
    else:
        assert urlsplit(target).hostname in ("auth.example.com", "app.example.com")
    assert POLICY.verified(target, POLICY.sign(target), "/home") == target


@EXAMPLES
@given(st.text(max_size=80), st.text(max_size=60))
def test_an_unsigned_target_is_never_followed(target: str, signature: str) -> None:
    if signature != POLICY.signer.sign(target):
        assert POLICY.verified(target, signature, "/home") == "/home"


ADDRESSES = st.one_of(
    st.ip_addresses().map(str), st.text(alphabet="0123456789.:abcdef, ", max_size=40)
)


@EXAMPLES
@given(st.sampled_from(["10.1.2.3", "::1", "203.0.113.5"]), st.lists(ADDRESSES, max_size=4))
def test_the_client_address_is_the_peer_or_a_real_address(peer: str, chain: list[str]) -> None:
    found = client_ip(peer, chain, TRUSTED)
    if peer == "203.0.113.5":
        assert found == peer  # an untrusted peer's forwarded headers are never believed
        return
    assert found is not None
    ipaddress.ip_address(found)  # always one address, never a list or a garbled hop


@EXAMPLES
@given(st.text(max_size=200))
def test_escaped_text_has_no_control_characters_and_reads_back(text: str) -> None:
    shown = escape_text(text)
    assert not has_control(shown)
    assert not any(char in shown for char in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e")
    assert "\n" not in shown
    decoded = shown.encode("latin-1", "backslashreplace").decode("unicode_escape")
    assert decoded == text
