"""`signin access check URL`: which rule decides a forward-auth check, and how (SPEC section 12)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from signin.cli.common import command_group, fail, run_with_services, shown

if TYPE_CHECKING:
    from signin.services import Services
    from signin.stores.base import UserRecord

# What forward-auth answers for each `gate.Outcome`, by its value.
ANSWERS = {
    "allow": "200 with Remote-User",
    "bypass": "200 without identity headers",
    "sign_in": "401, or 302 to the sign-in page",
    "step_up": "step-up: a session with a second factor is needed (302 to the second step)",
    "forbidden": "403",
}
access_app = command_group("Forward-auth access rules.")


@access_app.command("check")
def access_check(
    url: str,
    user: Annotated[str, typer.Option(help="Check as this user (default: anonymous).")] = "",
    method: Annotated[str, typer.Option(help="HTTP method of the request.")] = "GET",
) -> None:
    """Print the rule that matches URL and the decision for USER."""
    from signin.accounts.access.gate import Target

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"not an absolute http(s) URL: {url!r}")
    if not re.fullmatch(r"[A-Za-z]{1,20}", method):  # a method is one word (RFC 9110 token)
        fail(f"not an HTTP method: {method!r}")

    async def work(services: Services) -> None:
        found: UserRecord | None = None
        if user:
            found = await services.registration.find(user)
            if found.disabled:
                print(f"{shown(found.username)} is disabled: checked as anonymous")
                found = None
        target = Target(parts.netloc.rpartition("@")[2].lower(), parts.path or "/", method.upper())
        decision = services.gate.decide(target, found, two_factor=False)
        rule = decision.rule
        print(rule.describe() if rule else f"no rule matched: default {decision.policy}")
        print(f"decision: {decision.outcome.value} ({ANSWERS[decision.outcome.value]})")

    run_with_services(work)
