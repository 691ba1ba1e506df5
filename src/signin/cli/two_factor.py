"""`signin users two-factor ...`: an operator's help for a user who lost their second factor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from signin.cli.common import command_group, out, run_with_services, shown

if TYPE_CHECKING:
    from signin.services import Services

two_factor_app = command_group("Second factors (TOTP, recovery codes).")


@two_factor_app.command("reset")
def two_factor_reset(username: str) -> None:
    """Remove USERNAME's second factor and recovery codes (a lost phone); mails a verified
    address. The password alone signs in afterwards; sessions are kept."""

    async def work(services: Services) -> None:
        user = await services.two_factor.reset_by_name(username)
        out.print(f"two-factor sign-in turned off for {shown(user.username)}")

    run_with_services(work)
