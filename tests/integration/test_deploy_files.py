"""The deployment files in docs/examples/, run for real: nginx and Caddy over TLS, systemd's checks.

Each file is used as it is, except for what must differ on a test machine: listen addresses,
ports and certificate paths (`swap` fails when the file no longer has them where expected).
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.proxies import echo_app, nginx_conf, self_signed, stop, swap, wait_for_port
from tests.support import REPO, ServerProcess, csrf_of, free_port, need, run_signin

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

EXAMPLES = REPO / "docs" / "examples"
NGINX = "/usr/sbin/nginx"
PASSWORD = "correct horse battery"
HIDDEN_RE = re.compile(r'<input type="hidden" name="(next|sig)" value="([^"]*)">')


@dataclass
class Site:
    auth: str  # signin behind the proxy, https
    app: str  # the guarded app, https
    http: str | None  # the plain-http port's base URL, where the file has one
    verify: ssl.SSLContext
    env: dict[str, str]  # the signin server's settings, for the CLI


def nginx_config(tmp: Path, site: Path) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(tmp, f"    include {site};"))
    return conf


def nginx_test(tmp: Path, site: Path) -> subprocess.CompletedProcess[str]:
    conf = nginx_config(tmp, site)
    return subprocess.run(
        [NGINX, "-t", "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


def settings_for(tmp: Path, auth_port: int, app_port: int) -> dict[str, str]:
    return {
        "SIGNIN_DATA_DIR": str(tmp / "data"),
        "SIGNIN_PUBLIC_URL": f"https://127.0.0.1:{auth_port}",
        "SIGNIN_TRUSTED_PROXIES": "127.0.0.1",
        "SIGNIN_ALLOWED_REDIRECT_HOSTS": f"127.0.0.1:{app_port}",
    }


def signin_for(tmp: Path, auth_port: int, app_port: int) -> ServerProcess:
    return ServerProcess(
        settings_for(tmp, auth_port, app_port), log_path=tmp / "signin.log"
    ).start()


@pytest.fixture(scope="module")
def nginx_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need(os.access(NGINX, os.X_OK), f"nginx ({NGINX})")
    tmp = tmp_path_factory.mktemp("nginx-site")
    cert, key = self_signed(tmp)
    http_port, auth_port, app_port = free_port(), free_port(), free_port()
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(echo_app())
        signin = signin_for(tmp, auth_port, app_port)
        cleanup.callback(signin.stop)
        text = (EXAMPLES / "nginx.conf").read_text()
        text = swap(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
        text = swap(text, "listen [::]:80;", "")
        text = swap(
            text,
            "listen 443 ssl;",
            f"listen 127.0.0.1:{auth_port} ssl;",
            f"listen 127.0.0.1:{app_port} ssl;",
        )
        text = swap(text, "listen [::]:443 ssl;", "", "")
        text = swap(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{signin.port};")
        text = swap(text, "server 127.0.0.1:9000;", f"server 127.0.0.1:{upstream};")
        for name in ("auth", "app"):
            live = f"/etc/letsencrypt/live/{name}.example.com"
            text = swap(text, f"{live}/fullchain.pem", str(cert))
            text = swap(text, f"{live}/privkey.pem", str(key))
        site = tmp / "signin.conf"
        site.write_text(text)
        conf = nginx_config(tmp, site)
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        cleanup.callback(stop, nginx)
        for port in (http_port, auth_port, app_port):
            wait_for_port(port, nginx, tmp / "error.log")
        yield Site(
            f"https://127.0.0.1:{auth_port}",
            f"https://127.0.0.1:{app_port}",
            f"http://127.0.0.1:{http_port}",
            ssl.create_default_context(cafile=str(cert)),
            settings_for(tmp, auth_port, app_port),
        )


@pytest.fixture(scope="module")
def caddy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    caddy = shutil.which("caddy")
    need(caddy is not None, "caddy (Debian package caddy)")
    assert caddy is not None
    tmp = tmp_path_factory.mktemp("caddy-site")
    auth_port, app_port = free_port(), free_port()
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(echo_app())
        signin = signin_for(tmp, auth_port, app_port)
        cleanup.callback(signin.stop)
        text = (EXAMPLES / "Caddyfile").read_text()
        text = swap(text, "auth.example.com {", f"https://127.0.0.1:{auth_port} {{")
        text = swap(text, "app.example.com {", f"https://127.0.0.1:{app_port} {{")
        text = swap(text, "reverse_proxy 127.0.0.1:8000", f"reverse_proxy 127.0.0.1:{signin.port}")
        text = swap(text, "forward_auth 127.0.0.1:8000", f"forward_auth 127.0.0.1:{signin.port}")
        text = swap(text, "reverse_proxy 127.0.0.1:9000", f"reverse_proxy 127.0.0.1:{upstream}")
        # For the test only: no admin endpoint, no http->https listener on port 80, no changes to
        # the system's trust store; certificates for the IP come from Caddy's own local CA.
        test_options = (
            "{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n"
            "\tdefault_bind 127.0.0.1\n\tlocal_certs\n}\n"
        )
        caddyfile = tmp / "Caddyfile"
        caddyfile.write_text(test_options + text)
        env = {**os.environ, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data-caddy")}
        env["XDG_CONFIG_HOME"] = str(tmp / "config-caddy")
        log = tmp / "caddy.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        cleanup.callback(stop, proc)
        for port in (auth_port, app_port):
            wait_for_port(port, proc, log)
        root = tmp / "data-caddy" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        auth, app = f"https://127.0.0.1:{auth_port}", f"https://127.0.0.1:{app_port}"
        verify = tls_ready(root, (auth, app), proc, log)
        yield Site(auth, app, None, verify, settings_for(tmp, auth_port, app_port))


def tls_ready(
    root: Path, urls: tuple[str, ...], proc: subprocess.Popen[bytes], log: Path
) -> ssl.SSLContext:
    """Caddy listens before its local CA has issued the certificates: wait for good handshakes.

    Returns a context that trusts that CA (and nothing else)."""
    deadline = time.monotonic() + 30
    pending = list(urls)
    while pending:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "Caddy served no certificate in time"
        if root.exists():
            verify = ssl.create_default_context(cafile=str(root))
            try:
                httpx.get(pending[0] + "/healthz", verify=verify, timeout=2)
                pending.pop(0)
                continue
            except httpx.ConnectError:
                pass
        time.sleep(0.2)
    return verify


def sign_in_through(browser: httpx.Client, location: str, username: str) -> httpx.Response:
    """Open the sign-in link a redirect gave, submit the no-JS form, return the 303."""
    page = browser.get(location)
    assert page.status_code == 200
    hidden = dict(HIDDEN_RE.findall(page.text))
    fields = {"csrf_token": csrf_of(page.text), "username": username, "password": PASSWORD}
    return browser.post(location.split("?")[0], data={**fields, **hidden})


def journey(site: Site, username: str) -> None:
    """Anonymous -> sign-in page -> back at the app as the user -> sign out -> anonymous again."""
    with httpx.Client(timeout=15, verify=site.verify) as browser:
        created = browser.post(
            f"{site.auth}/api/v1/users", json={"username": username, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        first = browser.get(f"{site.app}/reports?q=1")
        assert first.status_code == 302
        location = first.headers["location"]
        assert location.startswith(f"{site.auth}/sign-in?")
        assert parse_qs(urlsplit(location).query)["next"] == [f"{site.app}/reports?q=1"]

        signed_in = sign_in_through(browser, location, username)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == f"{site.app}/reports?q=1"
        cookie = signed_in.headers["set-cookie"]
        # https reached signin through the proxy: the cookie is Secure and host-bound.
        assert cookie.startswith("__Host-session=")
        assert "secure" in cookie.lower()
        assert signed_in.headers["strict-transport-security"].startswith("max-age=")

        spoof = {"Remote-User": "admin", "Remote-Email": "a@example.com", "Remote-Groups": "x"}
        app = browser.get(signed_in.headers["location"], headers=spoof)
        assert app.status_code == 200
        assert app.json() == {
            "path": "/reports?q=1",
            "user": username,
            "email": None,
            "groups": None,
        }

        # The app's sign-out link: signin's confirm page, whose form POSTs and ends the session.
        page = browser.get(f"{site.auth}/sign-out")
        assert page.status_code == 200
        out = browser.post(f"{site.auth}/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303
        assert browser.get(f"{site.app}/reports?q=1").status_code == 302


def test_nginx_example_moves_http_to_https(nginx_site: Site) -> None:
    assert nginx_site.http is not None
    response = httpx.get(f"{nginx_site.http}/sign-in?x=1", timeout=10)
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/sign-in?x=1"


def test_nginx_example_guards_the_app_over_tls(nginx_site: Site) -> None:
    journey(nginx_site, "nginxuser")
    with httpx.Client(timeout=10, verify=nginx_site.verify) as client:
        app = client.get(f"{nginx_site.app}/api", headers={"Remote-User": "admin"})
        assert app.status_code == 302  # a client's own header is not a sign-in
        assert app.headers["strict-transport-security"] == "max-age=31536000"


def test_app_links_to_sign_out_and_back(nginx_site: Site) -> None:
    """docs/deploy.md: the app's sign-out link carries the next/sig that `signin sign-url` makes."""
    back = f"{nginx_site.app}/goodbye"
    made = run_signin(nginx_site.env, "sign-url", back)
    assert made.returncode == 0, made.stderr
    query = urlsplit(made.stdout.strip()).query
    with httpx.Client(timeout=15, verify=nginx_site.verify) as browser:
        browser.post(
            f"{nginx_site.auth}/api/v1/users", json={"username": "leaver", "password": PASSWORD}
        )
        browser.post(
            f"{nginx_site.auth}/api/v1/session", json={"username": "leaver", "password": PASSWORD}
        )
        assert browser.get(f"{nginx_site.app}/").status_code == 200
        page = browser.get(f"{nginx_site.auth}/sign-out?{query}")
        assert page.status_code == 200
        hidden = dict(HIDDEN_RE.findall(page.text))
        out = browser.post(
            f"{nginx_site.auth}/sign-out", data={"csrf_token": csrf_of(page.text), **hidden}
        )
        assert out.status_code == 303
        assert out.headers["location"] == back
        assert browser.get(f"{nginx_site.app}/").status_code == 302


def test_caddy_example_guards_the_app_over_tls(caddy_site: Site) -> None:
    journey(caddy_site, "caddyuser")


def test_scale_out_nginx_block_passes_nginx_t(tmp_path: Path) -> None:
    """docs/scale-out.md's nginx block, as printed, inside an http {} block: `nginx -t` is happy."""
    need(os.access(NGINX, os.X_OK), f"nginx ({NGINX})")
    text = (REPO / "docs" / "scale-out.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    cert, key = self_signed(tmp_path)
    block = swap(blocks[0], "/etc/letsencrypt/live/auth.example.com/fullchain.pem", str(cert))
    block = swap(block, "/etc/letsencrypt/live/auth.example.com/privkey.pem", str(key))
    site = tmp_path / "site.conf"
    site.write_text(block)
    done = nginx_test(tmp_path, site)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    need(analyze is not None, "systemd-analyze (Debian package systemd)")
    assert analyze is not None
    signin = str(Path(sys.executable).parent / "signin")
    unit = tmp_path / "signin.service"
    unit.write_text(
        swap((EXAMPLES / "signin.service").read_text(), "/opt/signin/bin/signin", signin)
    )
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # an unknown key is only a warning
    security = subprocess.run(
        [analyze, "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert level, security.stdout + security.stderr
    assert float(level.group(1)) < 2.0  # systemd calls 0-2 "OK"
