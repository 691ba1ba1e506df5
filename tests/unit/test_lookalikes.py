"""Look-alike usernames: UTS #39 skeletons and mixed scripts (SPEC section 16)."""

from __future__ import annotations

import pytest

from signin.accounts.lookalikes import is_mixed_script, skeleton
from signin.accounts.usernames import username_problems


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("admin", "Admin"),  # case, as the canon
        ("coco", "сосо"),  # all Cyrillic с and о
        ("paypal", "раураl"),  # Cyrillic р, а, у
        ("admin1", "adminl"),  # digit one and small L
        ("ADMlN", "ADMIN"),  # small L and capital I
        ("modern", "rnodern"),  # m and r-n
        ("bob", "ｂｏｂ"),  # fullwidth (NFKC)
    ],
)
def test_look_alikes_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("alice", "alicia"), ("Zoë", "Zoe"), ("bob", "bab")])
def test_different_names_keep_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


@pytest.mark.parametrize("name", ["аdmin", "раураl", "paypаl", "αlpha"])
def test_latin_mixed_with_another_alphabet_is_mixed(name: str) -> None:
    assert is_mixed_script(name)
    assert [p.code for p in username_problems(name)] == ["username_mixed_script"]


ONE_SCRIPT = ["admin", "Zoë", "Straße", "сосо", "αβγ", "देवनागरी", "b_1.x-2"]
ONE_SCRIPT += ["山田たろう", "田中タロウ"]  # Han with kana: Japanese names


@pytest.mark.parametrize("name", ONE_SCRIPT)
def test_one_script_or_a_han_set_is_not_mixed(name: str) -> None:
    assert not is_mixed_script(name)
    assert username_problems(name) == []


# Issue 27: a name written wholly in one script is never "mixed", even when every letter of
# it is drawn like a Latin one; its skeleton decides whether it is taken.
SINGLE_SCRIPT_LOOK_ALIKES = [
    ("scope", "ѕсоре"),  # Cyrillic ѕ U+0455, с, о, р, е
    ("aaa", "ааа"),  # Cyrillic а U+0430 alone, three times
    ("ABE", "ΑΒΕ"),  # Greek capitals
    ("TOKIO", "ΤΟΚΙΟ"),  # Greek, with Ι for I
    ("kopa", "КОРА"),  # Cyrillic capitals
    ("ΚΟΡΑ", "КОРА"),  # Greek beside Cyrillic
]


@pytest.mark.parametrize(("one", "other"), SINGLE_SCRIPT_LOOK_ALIKES)
def test_a_single_script_look_alike_is_not_mixed_but_shares_the_skeleton(
    one: str, other: str
) -> None:
    for name in (one, other):
        assert not is_mixed_script(name)
        assert username_problems(name) == []
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize("name", ["Αlpha", "pаypal", "ѕcope", "abc١"])
def test_a_letter_or_digit_of_another_script_makes_a_name_mixed(name: str) -> None:
    """Greek Α, Cyrillic а or ѕ among Latin letters; an Arabic-Indic digit after Latin."""
    assert is_mixed_script(name)
    assert [p.code for p in username_problems(name)] == ["username_mixed_script"]


# Legitimate names in other scripts that look like no Latin name.
OTHER_SCRIPTS = ["Ελένη", "Дмитрий", "Привет", "مرحبا", "山田太郎", "김민수", "ひらがな", "עברית"]


@pytest.mark.parametrize("name", OTHER_SCRIPTS)
def test_names_in_other_scripts_are_accepted_with_their_own_skeleton(name: str) -> None:
    assert not is_mixed_script(name)
    assert username_problems(name) == []
    assert all(skeleton(name) != skeleton(latin) for latin in ("admin", "scope", "alice"))
