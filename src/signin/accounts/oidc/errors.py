"""OAuth 2.0 / OpenID Connect errors: a code from the RFCs and a description for developers.

Where an error goes is the web layer's choice, by the kind of error: `ClientUnknown` (a bad
`client_id` or `redirect_uri`) is an error page and never a redirect; an `OAuthError` at the
authorization endpoint goes back to the client's registered redirect URI; at the other
endpoints it is a JSON body with `status`.
"""

from __future__ import annotations

from signin.accounts.errors import SigninError


def _(text: str) -> str:
    """Marks a message people read (pages, not OAuth `error_description`) for the catalogue
    without translating it (like `N_`): the web edge translates it when it renders the page."""
    return text


class OAuthError(SigninError):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class ClientUnknown(SigninError):
    """The client or its redirect address is not registered here (shown, never redirected)."""

    code = "oidc_client_unknown"


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_client(description: str = "Client authentication failed.") -> OAuthError:
    return OAuthError("invalid_client", description, 401)
