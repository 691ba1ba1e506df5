"""Reading an authorization request (OIDC Core 3.1.2.1) into one checked `AuthRequest`.

The order matters: until the client and its redirect URI are known to be registered, every
problem is a `ClientUnknown` (an error page); from then on problems are `OAuthError`s that go
back to that redirect URI, in the response mode asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from signin.accounts.oidc.clients import SCOPES, Client
from signin.accounts.oidc.errors import ClientUnknown, OAuthError, _, invalid_request
from signin.escape import has_control

# select_account is accepted and means nothing here: a browser has one session, one account.
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
PKCE_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1 and 4.2; use with fullmatch
MAX_PARAM = 2048
MAX_NONCE = 512
AUTH_AFTER = "auth_after"  # ours: the signed mark of a sign-in made for the request (fresh.py)


@dataclass(frozen=True)
class AuthRequest:
    client: Client
    redirect_uri: str
    response_mode: str  # "query" | "form_post"
    state: str | None
    scope: tuple[str, ...] = ()
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    auth_after: str | None = None  # as sent: only fresh.SignInMarks says whether it counts
    id_token_hint: str | None = None
    wants_two_factor: bool = False
    params: dict[str, str] = field(default_factory=dict)

    @property
    def wants_fresh_sign_in(self) -> bool:
        """Does the request ask for a sign-in newer than the session may be?"""
        return "login" in self.prompt or self.max_age is not None

    def resume_url(self, *, mark: str | None = None) -> str:
        """This request again (where a sign-in leads back to); with `mark`, carrying that
        mark of the sign-in made for it (fresh.py), so the request after the sign-in is
        satisfied rather than sending the browser round again."""
        params = dict(self.params)
        if mark is not None:
            params[AUTH_AFTER] = mark
        return "/oidc/authorize?" + urlencode(params)


class RedirectError(OAuthError):
    """An `OAuthError` to send to the client's redirect URI (`request` says how)."""

    def __init__(self, error: OAuthError, request: AuthRequest) -> None:
        super().__init__(error.error, error.description)
        self.request = request


def _one(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_PARAM:
        raise invalid_request(f"{name} is too long.")
    return value


def read_client(params: dict[str, str], clients: dict[str, Client]) -> tuple[Client, str]:
    """The registered client and redirect URI, or `ClientUnknown` (never redirect)."""
    client_id = params.get("client_id") or ""
    client = clients.get(client_id)
    if client is None:
        raise ClientUnknown(_("This application is not registered with this sign-in service."))
    redirect_uri = params.get("redirect_uri") or ""
    if redirect_uri not in client.redirect_uris:
        raise ClientUnknown(
            _("This application asked to return to an address it did not register.")
        )
    return client, redirect_uri


def read_request(
    params: dict[str, str], clients: dict[str, Client], repeated: frozenset[str] = frozenset()
) -> AuthRequest:
    """The checked request; `ClientUnknown`, or `RedirectError` carrying where to send it.

    `repeated`: the names that came more than once (RFC 6749 3.1: each at most once).
    """
    if repeated & {"client_id", "redirect_uri"}:
        raise ClientUnknown(_("The request names its application or return address twice."))
    client, redirect_uri = read_client(params, clients)
    mode = params.get("response_mode") or "query"
    base = AuthRequest(client, redirect_uri, mode if mode == "form_post" else "query", None)
    try:
        state = _one(params, "state")
        base = AuthRequest(client, redirect_uri, base.response_mode, state)
        if repeated:
            raise invalid_request(f"{sorted(repeated)[0]} is given more than once.")
        if any(has_control(value) for value in params.values()):
            raise invalid_request("A parameter holds a control character.")
        return _checked(params, base)
    except OAuthError as exc:
        raise RedirectError(exc, base) from None


def _checked(params: dict[str, str], base: AuthRequest) -> AuthRequest:
    client = base.client
    if params.get("response_mode", "query") not in ("query", "form_post"):
        raise invalid_request("response_mode must be query or form_post.")
    if "request" in params:
        raise OAuthError("request_not_supported", "Request objects are not supported.")
    if "request_uri" in params:
        raise OAuthError("request_uri_not_supported", "request_uri is not supported.")
    response_type = params.get("response_type")
    if not response_type:
        raise invalid_request("response_type is missing.")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
    asked = (_one(params, "scope") or "").split()
    if "openid" not in asked:
        raise OAuthError("invalid_scope", "The scope must include openid.")
    known = [scope for scope in dict.fromkeys(asked) if scope in SCOPES]  # unknown ones: ignored
    refused = [scope for scope in known if scope not in client.scopes]
    if refused:
        raise OAuthError("invalid_scope", f"This client may not ask for {refused[0]}.")
    challenge = _one(params, "code_challenge")
    method = _one(params, "code_challenge_method")
    if challenge is None:
        if method is not None:
            raise invalid_request("code_challenge_method without code_challenge.")
        if not client.confidential:
            raise invalid_request("Public clients must use PKCE (code_challenge, S256).")
    else:
        if (method or "plain") != "S256":
            raise invalid_request("code_challenge_method must be S256.")
        if not PKCE_RE.fullmatch(challenge):
            raise invalid_request("code_challenge is not a valid S256 challenge.")
    nonce = _one(params, "nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise invalid_request("nonce is too long.")
    prompt = frozenset((_one(params, "prompt") or "").split())
    if not prompt <= PROMPTS:
        raise invalid_request("prompt holds an unknown value.")
    if "none" in prompt and len(prompt) > 1:
        raise invalid_request("prompt=none cannot be combined with other values.")
    return AuthRequest(
        client=client,
        redirect_uri=base.redirect_uri,
        response_mode=base.response_mode,
        state=base.state,
        scope=tuple(known),
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method="S256" if challenge else None,
        prompt=prompt,
        max_age=_number(params, "max_age"),
        auth_after=_one(params, AUTH_AFTER),
        id_token_hint=params.get("id_token_hint") or None,  # ours? the provider checks
        wants_two_factor="mfa" in (_one(params, "acr_values") or "").split(),
        params={key: value for key, value in params.items() if value != ""},
    )


def _number(params: dict[str, str], name: str) -> int | None:
    text = _one(params, name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise invalid_request(f"{name} must be a non-negative whole number of seconds.")
    return int(text)
