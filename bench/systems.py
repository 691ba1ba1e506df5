"""How each system under test is spoken to: sign-up, sign-in and session-check requests.

signin and the Django peer take JSON `{username, password}`; fastapi-users takes an email as the
username and a form body at login, as its cookie backend documents. Every sign-in answers with a
`session` cookie, which is what the session check sends back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    kwargs: dict[str, Any]

    def encoded(self) -> tuple[str, str]:
        """(content type, body) as httpx would send `kwargs` (for wrk, which sends text)."""
        if "json" in self.kwargs:
            return "application/json", json.dumps(self.kwargs["json"])
        return "application/x-www-form-urlencoded", urlencode(self.kwargs["data"])


@dataclass(frozen=True)
class System:
    name: str
    signup_path: str
    signin_path: str
    check_path: str
    form_login: bool = False
    email_names: bool = False

    def login_name(self, username: str) -> str:
        return f"{username}@example.com" if self.email_names else username

    def sign_up(self, username: str, password: str) -> Request:
        if self.email_names:
            body = {"email": self.login_name(username), "password": password}
        else:
            body = {"username": username, "password": password}
        return Request("POST", self.signup_path, {"json": body})

    def sign_in(self, username: str, password: str) -> Request:
        name = self.login_name(username)
        if self.form_login:
            return Request(
                "POST", self.signin_path, {"data": {"username": name, "password": password}}
            )
        return Request("POST", self.signin_path, {"json": {"username": name, "password": password}})


SIGNIN = System("signin", "/api/v1/users", "/api/v1/session", "/api/v1/session")
FLOOR = System("floor", "", "", "/api/v1/session")
FASTAPI_USERS = System(
    "fastapi-users",
    "/auth/register",
    "/auth/cookie/login",
    "/users/me",
    form_login=True,
    email_names=True,
)
DJANGO = System("django", "/signup", "/login", "/me")

PASSWORD = "correct horse battery staple"
WRONG = "not the right password at all"
