"""Look-alike usernames: the UTS #39 confusable skeleton and the mixed-script test (SPEC 16).

`аdmin` (Cyrillic а) must not sign up beside `admin`. Two names are taken as the same account
when their skeletons are equal; the skeleton is stored in a unique, indexed column, so the check
is one lookup and concurrent sign-ups of two look-alikes cannot both win (like the canon).

The confusables data comes from the `confusable_homoglyphs` package (Unicode's confusables.txt).
It stores each line `source -> prototype` as links both ways, so every prototype is the centre
of a star of sources; `_prototypes` finds the centres again. Where a prototype has one source
the two cannot be told apart, and either serves: equal skeletons need only a shared centre.

Mixed scripts follow the "highly restrictive" level of UTS #39: one script (Common and
Inherited characters go with any), or Latin with the Han-based sets that Japanese, Chinese and
Korean names really use.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["is_mixed_script", "skeleton"]

_IGNORED = {"COMMON", "INHERITED"}
_HAN_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_MARKS = str.maketrans("", "", "\u200e\u200f")  # the package wraps right-to-left glyphs in these


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the prototype it is drawn like."""
    # Imported on first use: the package loads its data files when imported (the CLI starts
    # without them).
    from confusable_homoglyphs import confusables

    links = {
        key.translate(_MARKS): [entry["c"].translate(_MARKS) for entry in entries]
        for key, entries in confusables.confusables_data.items()
    }
    mapping: dict[str, str] = {}
    for char, others in links.items():
        if len(char) != 1 or len(others) != 1:
            continue  # sequences are only ever prototypes; a char with many links is a centre
        other = others[0]
        if len(links.get(other, ())) > 1 or len(other) > 1:
            mapping[char] = other  # `other` is a centre (or a sequence): char is its source
        elif other < char:
            mapping[char] = other  # a pair: the lower code point stands for both
    return mapping


def _map(text: str) -> str:
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in decomposed))


def skeleton(username: str) -> str:
    """The UTS #39 skeleton of the NFKC form, taken before and after case folding.

    Mapping before folding keeps `I` (capital i) beside `l`; mapping again after it makes case
    variants meet, as the canon does.
    """
    return _map(_map(unicodedata.normalize("NFKC", username)).casefold())


def is_mixed_script(username: str) -> bool:
    """True for a name mixing scripts that no one writes together (Latin with Cyrillic...)."""
    from confusable_homoglyphs import categories

    scripts = categories.unique_aliases(unicodedata.normalize("NFKC", username)) - _IGNORED
    if len(scripts) <= 1:
        return False
    return not any(scripts <= allowed for allowed in _HAN_SETS)
