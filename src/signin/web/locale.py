"""The reader's language: the `lang` cookie, else Accept-Language, else SIGNIN_DEFAULT_LANGUAGE.

Pages, form errors and problem+json titles and details are translated here at the edge (the
domain raises English catalogue entries with their parameters). The session check and
forward-auth answer without negotiating: only an error they return is translated.
`POST /language` is the footer's picker: it sets the cookie and, when signed in, the account's
language, which its mails then use.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import Problem, SigninError
from signin.escape import has_control
from signin.i18n import LANGUAGES
from signin.i18n.catalogs import Translator
from signin.services import services_of
from signin.stores.base import UserRecord
from signin.web.cookies import read_cookie, set_cookie

LANG_COOKIE = "lang"
LANG_COOKIE_SECONDS = 365 * 86400
MAX_HEADER = 512  # an Accept-Language longer than this is read only this far
MAX_RANGES = 16
_BY_LOWER = {code.lower(): code for code in LANGUAGES}
# A bare or regional tag reaches the one catalogue of its language (`de-AT` -> de, `pt` -> pt_BR).
# Chinese is matched only for the Simplified script: zh-TW/zh-HK readers get the next choice.
_BY_PRIMARY = {code.split("_")[0].lower(): code for code in LANGUAGES if not code.startswith("zh")}
_SIMPLIFIED_CHINESE = {"zh", "zh-cn", "zh-sg", "zh-hans", "zh-hans-cn", "zh-hans-sg", "zh-my"}

router = APIRouter(include_in_schema=False)


def supported(code: str | None) -> str | None:
    """The catalogue code for `code` written as a code or a BCP 47 tag, or None."""
    if not code or len(code) > 35:
        return None
    return _BY_LOWER.get(code.strip().replace("-", "_").lower())


def from_accept_language(header: str) -> str | None:
    """The supported language the header prefers most (q-values, then order), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:MAX_HEADER].split(",")[:MAX_RANGES]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and 0.0 < quality <= 1.0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        found = _match(tag)
        if found:
            return found
    return None


def _match(tag: str) -> str | None:
    exact = supported(tag)
    if exact:
        return exact
    if tag.startswith("zh"):
        return "zh_CN" if tag in _SIMPLIFIED_CHINESE else None
    return _BY_PRIMARY.get(tag.split("-")[0])


def negotiate(cookie: str | None, accept_language: str | None, default: str) -> str:
    return supported(cookie) or from_accept_language(accept_language or "") or default


def translator(request: Request) -> Translator:
    """This request's translator, negotiated once and kept on the request."""
    found: Translator | None = getattr(request.state, "translator", None)
    if found is None:
        services = services_of(request)
        code = negotiate(
            read_cookie(request, services.settings, LANG_COOKIE),
            request.headers.get("accept-language"),
            services.settings.default_language,
        )
        found = services.catalogs.get(code)
        request.state.translator = found
    return found


def requested_language(request: Request) -> str | None:
    """The language the request names (cookie or Accept-Language), or None if it names none."""
    settings = services_of(request).settings
    return supported(read_cookie(request, settings, LANG_COOKIE)) or from_accept_language(
        request.headers.get("accept-language", "")
    )


def error_text(request: Request, exc: SigninError) -> str:
    """The error's message in the reader's language (an InvalidInput: its problems joined)."""
    speak = translator(request)
    if hasattr(exc, "problems"):
        return " ".join(problem_text(speak, problem) for problem in exc.problems)
    return speak.text(exc.text, exc.params)


def problem_text(speak: Translator, problem: Problem) -> str:
    return speak.text(problem.text, problem.params, problem.count)


def gettext(request: Request, message: str, **params: object) -> str:
    return translator(request).text(message, params)


async def remember_language(request: Request, user: UserRecord) -> None:
    """After a sign-in on a page: the page's language becomes the account's (its mails')."""
    code = translator(request).language
    if user.language != code:
        await services_of(request).users.set_language(user.id, code)


def same_origin_path(target: str) -> str:
    """`target` when it is a path on this site (`/x`, not `//host` or `/\\host`), else `/`."""
    if (
        not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or has_control(target)
        or len(target) > 2048
    ):
        return "/"
    return target


@router.post("/language")
async def choose_language(request: Request) -> Response:
    from signin.web.auth import current_session
    from signin.web.forms import read_form, see_other

    fields = await read_form(request)
    code = supported(fields.get("lang"))
    response = see_other(same_origin_path(fields.get("back", "/")))
    if code is None:  # a tampered form: nothing changes
        return response
    services = services_of(request)
    set_cookie(response, request, services.settings, LANG_COOKIE, code, max_age=LANG_COOKIE_SECONDS)
    found = await current_session(request)
    if found is not None:
        await services.users.set_language(found.session.user_id, code)
    return response
