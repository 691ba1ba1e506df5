"""docs/examples/compose*.yaml checked as data, without podman (test_container.py runs them).

What a run with stand-in images cannot show: the signin services run the image of this
Containerfile the way test_container.py runs it (read-only, /data volume, health check), no
secret is written in the files, the proxy is the only way in and trusted by its subnet, and
PostgreSQL and Redis sit on a closed network.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO

EXAMPLES = REPO / "docs" / "examples"
SINGLE = EXAMPLES / "compose.yaml"
SCALE = EXAMPLES / "compose.scale.yaml"
REQUIRED = re.compile(r"^\$\{(\w+):\?[^}]+\}$")  # compose fails when the variable is unset
SECRET_NAMES = ("SECRET", "PASSWORD", "TOKEN")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def signin_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "localhost/signin:latest"
    }


@pytest.mark.parametrize("path", [SINGLE, SCALE], ids=["sqlite", "scale"])
def test_signin_runs_the_containerfile_read_only_with_a_data_volume(path: Path) -> None:
    compose = load(path)
    services = signin_services(compose)
    assert len(services) == (1 if path == SINGLE else 2)
    for service in services.values():
        build = service["build"]
        assert (path.parent / build["context"] / build["dockerfile"]).resolve() == (
            REPO / "Containerfile"
        )
        assert service["read_only"] is True
        (volume,) = service["volumes"]
        source, target = volume.split(":")
        assert target == "/data"
        assert source in compose["volumes"]
        test = " ".join(service["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/healthz" in test
        assert service["stop_grace_period"] == "20s"
    data_volumes = [service["volumes"][0] for service in services.values()]
    assert len(set(data_volumes)) == len(data_volumes)  # one /data per replica


@pytest.mark.parametrize("path", [SINGLE, SCALE], ids=["sqlite", "scale"])
def test_no_secret_is_written_in_the_files(path: Path) -> None:
    for name, service in load(path)["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in SECRET_NAMES):
                assert REQUIRED.match(str(value)), f"{name}: {key} must come from .env"
            assert "CHANGE-ME" not in str(value)
            if key == "SIGNIN_DATABASE_URL":
                password = str(value).split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
                assert REQUIRED.match(password), (
                    f"{name}: the database password must come from .env"
                )


@pytest.mark.parametrize("path", [SINGLE, SCALE], ids=["sqlite", "scale"])
def test_the_proxy_is_the_only_way_in_and_is_trusted(path: Path) -> None:
    compose = load(path)
    services = signin_services(compose)
    proxy = compose["services"]["caddy"]
    assert proxy["ports"] == ["80:80", "443:443"]
    assert all("ports" not in service for service in services.values())
    caddyfile = proxy["volumes"][0].split(":")[0]
    assert (path.parent / caddyfile).is_file()
    upstreams = proxy["environment"]["SIGNIN_UPSTREAMS"].split()
    assert upstreams == [f"{name}:8000" for name in services]
    (network,) = proxy["networks"]
    (subnet,) = compose["networks"][network]["ipam"]["config"]
    for service in services.values():
        trusted = service["environment"]["SIGNIN_TRUSTED_PROXIES"]
        assert ipaddress.ip_network(trusted) == ipaddress.ip_network(subnet["subnet"])
        assert service["environment"]["SIGNIN_PUBLIC_URL"] == (
            "https://" + proxy["environment"]["SIGNIN_SITE"]
        )
        assert set(proxy["depends_on"]) >= set(services)
    assert proxy["depends_on"][next(iter(services))]["condition"] == "service_healthy"


def test_the_replicas_share_one_key_postgresql_and_redis_on_a_closed_network() -> None:
    compose = load(SCALE)
    first, second = signin_services(compose).values()
    assert first["environment"] == second["environment"]
    settings = first["environment"]
    assert REQUIRED.match(settings["SIGNIN_SECRET_KEY"])
    assert settings["SIGNIN_DATABASE_URL"].startswith("postgresql://signin:")
    assert settings["SIGNIN_DATABASE_URL"].endswith("@postgres:5432/signin")
    assert settings["SIGNIN_REDIS_URL"] == "redis://redis:6379/0"
    assert compose["networks"]["back"]["internal"] is True
    for store in ("postgres", "redis"):
        service = compose["services"][store]
        assert service["networks"] == ["back"]
        assert "ports" not in service
        assert "healthcheck" in service
        assert first["depends_on"][store]["condition"] == "service_healthy"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == (
        "${POSTGRES_PASSWORD:?write POSTGRES_PASSWORD into .env}"
    )
