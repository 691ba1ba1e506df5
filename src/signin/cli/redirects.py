"""`signin sign-url`: signed sign-in links for integrators (SPEC section 6)."""

from __future__ import annotations

from typing import Annotated

import typer

from signin.cli.common import fail, settings_or_exit


def sign_url(
    target: Annotated[
        str,
        typer.Argument(
            help="Where to go after signing in: a path (/welcome) or an absolute http(s) URL "
            "on this service or a host in SIGNIN_ALLOWED_REDIRECT_HOSTS."
        ),
    ],
) -> None:
    """Print a sign-in link whose signed `next` leads to TARGET afterwards."""
    from signin.accounts.redirects import RedirectPolicy
    from signin.boot import key_ring
    from signin.crypto.keys import SecretKeyError
    from signin.crypto.signing import RedirectSigner

    settings = settings_or_exit()
    try:
        keys = key_ring(settings)
    except SecretKeyError as exc:
        fail(str(exc), 2)
    policy = RedirectPolicy(
        RedirectSigner(keys), settings.public_url, settings.allowed_redirect_hosts
    )
    reason = policy.refusal(target)
    if reason is not None:
        # repr() keeps control characters visible and the message on one line.
        fail(f"refused {target!r}: {reason}")
    print(policy.sign_in_link(target))
