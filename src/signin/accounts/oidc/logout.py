"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where to go afterwards, and
whether the request may end the session without asking.

`post_logout_redirect_uri` is followed only when it exactly matches one the client registered,
the client being named by `id_token_hint` (a token we signed, expired or not) or `client_id`;
anything else is an error page, never a redirect. Without a valid `id_token_hint` naming the
signed-in user, the browser is asked to confirm first (a third-party page cannot sign anyone
out by linking here).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from signin.accounts.oidc.claims import issued_id_token
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.errors import ClientUnknown, _
from signin.accounts.oidc.keys import ProviderKeys


@dataclass(frozen=True)
class LogoutPlan:
    client: Client | None
    redirect: str | None  # the registered URI with `state`, or None: show our page
    hint_sub: str | None  # the `sub` of a valid id_token_hint


def plan_logout(
    params: dict[str, str], keys: ProviderKeys, clients: dict[str, Client], issuer: str
) -> LogoutPlan:
    """What the logout request asks; `ClientUnknown` (an error page) when it cannot be trusted."""
    hint = params.get("id_token_hint") or ""
    claims = None
    if hint:
        claims = issued_id_token(hint, keys, issuer)
        if claims is None:
            message = _("The sign-out request carries a token this service did not issue.")
            raise ClientUnknown(message)
    audience = claims.get("aud") if claims else None
    if isinstance(audience, list):
        audience = audience[0] if len(audience) == 1 else None
    client_id = params.get("client_id") or audience
    if audience is not None and client_id != audience:
        raise ClientUnknown(_("The sign-out request names two different applications."))
    client = clients.get(client_id) if isinstance(client_id, str) else None
    if client_id and client is None:
        raise ClientUnknown(_("This application is not registered with this sign-in service."))
    target = params.get("post_logout_redirect_uri") or ""
    redirect = None
    if target:
        if client is None or target not in client.post_logout_redirect_uris:
            raise ClientUnknown(
                _("The application asked to return to an address it did not register.")
            )
        state = params.get("state")
        redirect = target
        if state:
            redirect += ("&" if "?" in target else "?") + urlencode({"state": state[:1024]})
    sub = claims.get("sub") if claims else None
    return LogoutPlan(client, redirect, sub if isinstance(sub, str) else None)
