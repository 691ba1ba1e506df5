"""The JSON API's schema errors (pydantic's) as sentences in the reader's language.

pydantic's own `msg` is English and may quote the schema ("String should match pattern
'^[^\\x00-\\x1f\\x7f]*$'"): each error type the API models produce gets a catalogue message
instead, and the error `type` stays the stable `code` programs match on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from signin.i18n import N_, Nn_, Plural
from signin.i18n.catalogs import Translator

# (message, the `ctx` value that fills it and counts for the plural form, or "")
MESSAGES: dict[str, tuple[str | Plural, str]] = {
    "missing": (N_("This field is missing."), ""),
    "string_type": (N_("This field must be a string."), ""),
    "string_too_short": (
        Nn_("At least %(min_length)d character.", "At least %(min_length)d characters."),
        "min_length",
    ),
    "string_too_long": (
        Nn_("At most %(max_length)d character.", "At most %(max_length)d characters."),
        "max_length",
    ),
    "string_pattern_mismatch": (N_("This field holds characters that are not allowed."), ""),
    "bool_type": (N_("This field must be true or false."), ""),
    "bool_parsing": (N_("This field must be true or false."), ""),
    "int_type": (N_("This must be a whole number."), ""),
    "int_parsing": (N_("This must be a whole number."), ""),
    "dict_type": (N_("This must be a JSON object."), ""),
    "model_attributes_type": (N_("This must be a JSON object."), ""),
    "extra_forbidden": (N_("This field is not accepted here."), ""),
}
OTHER = (N_("This value is not valid."), "")


def schema_errors(speak: Translator, errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Each pydantic error as `{code, field, detail}`: its type, the body path, a sentence."""
    found = []
    for error in errors:
        code = str(error.get("type", "invalid"))
        text, count = MESSAGES.get(code, OTHER)
        number = (error.get("ctx") or {}).get(count)
        if count and not isinstance(number, int):
            text, count = OTHER
        params = {count: number} if count else {}
        found.append(
            {
                "code": code,
                "field": ".".join(str(part) for part in error.get("loc", ())[1:]),
                "detail": speak.text(text, params, count),
            }
        )
    return found
