"""Real nginx `auth_request` in front of an app, with a real `signin serve` (docs/deploy.md recipe).

Two nginx servers on loopback: AUTH proxies everything to signin (its SIGNIN_PUBLIC_URL), APP
guards a tiny upstream that echoes the `Remote-User` / `Remote-Email` headers it receives. The
cookie set by AUTH reaches APP because cookies ignore ports, as a `SIGNIN_COOKIE_DOMAIN` cookie
reaches sibling subdomains.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.proxies import EchoHandler, echo_app, nginx_conf, stop, wait_for_port
from tests.support import ServerProcess, csrf_of, free_port, need, run_signin

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

NGINX = "/usr/sbin/nginx"
PASSWORD = "correct horse battery"
HIDDEN_RE = re.compile(r'<input type="hidden" name="(next|sig)" value="([^"]*)">')

# Inside nginx's http {} (tests/integration/proxies.nginx_conf has the rest).
SITE = """
    upstream signin {{ server 127.0.0.1:{signin}; }}
    upstream app {{ server 127.0.0.1:{upstream}; }}

    # The sign-in service itself (SIGNIN_PUBLIC_URL), behind the same proxy.
    server {{
        listen 127.0.0.1:{auth};
        location / {{
            proxy_pass http://signin;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}

    # A protected app.
    server {{
        listen 127.0.0.1:{app};

        location = /_signin/verify {{
            internal;
            proxy_pass http://signin/api/v1/verify;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
        }}

        location = /_signin/sign-in {{
            internal;
            proxy_pass http://signin/api/v1/verify;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Uri $request_uri;
        }}

        location / {{
            auth_request /_signin/verify;
            auth_request_set $signin_user $upstream_http_remote_user;
            auth_request_set $signin_email $upstream_http_remote_email;
            auth_request_set $signin_groups $upstream_http_remote_groups;
            error_page 401 = /_signin/sign-in;
            proxy_set_header Remote-User $signin_user;
            proxy_set_header Remote-Email $signin_email;
            proxy_set_header Remote-Groups $signin_groups;
            proxy_pass http://app;
        }}
    }}
"""


# The group-protected location: /team/ only for members of `team`, /health for everyone.
RULES = """
[[rule]]
hosts = ["127.0.0.1:{app}"]
paths = ["^/health(/|$)"]
policy = "bypass"

[[rule]]
hosts = ["127.0.0.1:{app}"]
paths = ["^/team(/|$)"]
policy = "signed_in"
groups = ["team"]
"""


@dataclass
class Stack:
    auth: str
    app: str
    seen: list[str]
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    need(os.access(NGINX, os.X_OK), f"nginx ({NGINX})")
    tmp = tmp_path_factory.mktemp("nginx")
    auth_port, app_port = free_port(), free_port()

    (tmp / "rules.toml").write_text(RULES.format(app=app_port), encoding="utf-8")
    env = {
        "SIGNIN_DATA_DIR": str(tmp / "data"),
        "SIGNIN_PUBLIC_URL": f"http://127.0.0.1:{auth_port}",
        "SIGNIN_TRUSTED_PROXIES": "127.0.0.1",
        "SIGNIN_ALLOWED_REDIRECT_HOSTS": f"127.0.0.1:{app_port}",
        "SIGNIN_ACCESS_RULES": str(tmp / "rules.toml"),
    }
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(echo_app())
        signin = ServerProcess(env, log_path=tmp / "signin.log").start()
        cleanup.callback(signin.stop)
        conf = tmp / "nginx.conf"
        site = SITE.format(signin=signin.port, upstream=upstream, auth=auth_port, app=app_port)
        conf.write_text(nginx_conf(tmp, site))
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        cleanup.callback(stop, nginx)
        wait_for_port(auth_port, nginx, tmp / "error.log")
        wait_for_port(app_port, nginx, tmp / "error.log")
        yield Stack(
            f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{app_port}", EchoHandler.seen, env
        )


def create_user(stack: Stack, username: str) -> None:
    response = httpx.post(
        f"{stack.auth}/api/v1/users", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text


def sign_in_through(browser: httpx.Client, location: str, username: str) -> httpx.Response:
    """Open the sign-in link a redirect gave, submit the no-JS form, return the 303."""
    page = browser.get(location)
    assert page.status_code == 200
    hidden = dict(HIDDEN_RE.findall(page.text))
    fields = {"csrf_token": csrf_of(page.text), "username": username, "password": PASSWORD}
    return browser.post(location.split("?")[0], data={**fields, **hidden})


def test_anonymous_is_sent_to_sign_in_with_a_signed_next(stack: Stack) -> None:
    before = len(stack.seen)
    with httpx.Client(timeout=10) as browser:
        response = browser.get(f"{stack.app}/private/page?x=1&y=%2F")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{stack.auth}/sign-in"
    query = parse_qs(location.query)
    assert query["next"] == [f"{stack.app}/private/page?x=1&y=%2F"]
    assert query["sig"][0]
    assert len(stack.seen) == before, "the app must not see anonymous requests"


def test_sign_in_through_the_redirect_then_sign_out_locks_out(stack: Stack) -> None:
    create_user(stack, "Zoë")
    with httpx.Client(timeout=10) as browser:
        first = browser.get(f"{stack.app}/reports?q=1")
        assert first.status_code == 302
        signed_in = sign_in_through(browser, first.headers["location"], "ZOË")
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == f"{stack.app}/reports?q=1"

        # Back at the app: nginx asked signin, and the upstream sees who it is, not who the
        # client claims to be.
        spoof = {"Remote-User": "admin", "Remote-Email": "admin@example.com"}
        app = browser.get(signed_in.headers["location"], headers=spoof)
        assert app.status_code == 200
        assert app.json() == {
            "path": "/reports?q=1",
            "user": "Zoë",
            "email": None,
            "groups": None,
        }
        cookies = dict(browser.cookies)

        page = browser.get(f"{stack.auth}/sign-out")
        signed_out = browser.post(f"{stack.auth}/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/sign-in"

        again = browser.get(f"{stack.app}/reports?q=1")
        assert again.status_code == 302
        assert again.headers["location"].startswith(f"{stack.auth}/sign-in?next=")

    # The old cookie, replayed after sign-out, is anonymous: the session ended on the server.
    with httpx.Client(timeout=10, cookies=cookies) as replay:
        assert replay.get(f"{stack.app}/reports?q=1").status_code == 302


def test_bearer_token_passes_and_spoofed_headers_do_not(stack: Stack) -> None:
    create_user(stack, "bot")
    token = httpx.post(
        f"{stack.auth}/api/v1/session", json={"username": "bot", "password": PASSWORD}
    ).json()["token"]
    with httpx.Client(timeout=10) as client:
        ok = client.get(f"{stack.app}/api", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert ok.json()["user"] == "bot"
        spoofed = client.get(f"{stack.app}/api", headers={"Remote-User": "bot"})
        assert spoofed.status_code == 302
        posted = client.post(f"{stack.app}/form", data={"a": "1"})
        assert posted.status_code == 302
        assert parse_qs(urlsplit(posted.headers["location"]).query)["next"] == [f"{stack.app}/form"]


def test_group_protected_location(stack: Stack) -> None:
    create_user(stack, "teamie")
    token = httpx.post(
        f"{stack.auth}/api/v1/session", json={"username": "teamie", "password": PASSWORD}
    ).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{stack.app}/health").json()["user"] is None  # bypass: anyone
        anonymous = client.get(f"{stack.app}/team/board")
        assert anonymous.status_code == 302  # not signed in: sign in first
        before = len(stack.seen)
        refused = client.get(f"{stack.app}/team/board", headers=bearer)
        assert refused.status_code == 403  # signed in, not in the group
        assert len(stack.seen) == before, "the app must not see refused requests"
        other = client.get(f"{stack.app}/elsewhere", headers=bearer)
        assert other.status_code == 200  # the default policy: signed in

        added = run_signin(stack.env, "users", "groups", "teamie", "--add", "team")
        assert added.returncode == 0, added.stderr
        member = client.get(f"{stack.app}/team/board", headers=bearer)  # the next check
        assert member.status_code == 200
        assert member.json() == {
            "path": "/team/board",
            "user": "teamie",
            "email": None,
            "groups": "team",
        }
        # nginx hands the app /team/board; the rules see the same path, not a bypassed /health/.
        sneaky = client.get(f"{stack.app}/health/%2e%2e/team/board")
        assert sneaky.status_code == 302
