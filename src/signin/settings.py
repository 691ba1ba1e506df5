"""Configuration: every `SIGNIN_*` environment variable, validated once, in one object.

Nothing here runs at import time; `Settings()` reads the environment (and an optional `.env`
file) when the app factory or the CLI asks for it.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Ten years at most: longer is a typo, and dates that far out overflow datetime on the way.
MAX_SECONDS = 10 * 366 * 86400
PositiveSeconds = Annotated[int, Field(gt=0, le=MAX_SECONDS)]
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_HOST_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$")

SECRET_FIELDS = frozenset(
    {"secret_key", "secret_key_fallbacks", "smtp_url", "database_url", "redis_url"}
    | {"metrics_token"}
)


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """The effective configuration. Field `x` is read from `SIGNIN_X`."""

    model_config = SettingsConfigDict(
        env_prefix="SIGNIN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = Field(default=None, min_length=32)
    secret_key_fallbacks: Annotated[list[str], NoDecode] = []
    public_url: str = "http://127.0.0.1:8000"
    cookie_secure: Literal["true", "false", "auto"] = "auto"
    cookie_domain: str | None = None
    trusted_proxies: Annotated[list[Network], NoDecode] = []

    lock_max_failures: Annotated[int, Field(gt=0)] = 3
    lock_seconds: PositiveSeconds = 600
    ip_lock_max_failures: Annotated[int, Field(gt=0)] = 20
    device_seconds: PositiveSeconds = 15552000  # life of a device proof (SPEC 5a): 180 days

    session_idle_seconds: PositiveSeconds = 7200
    session_max_seconds: PositiveSeconds = 43200
    remember_seconds: PositiveSeconds = 2592000

    argon2_time_cost: Annotated[int, Field(ge=1, le=100)] = 2
    argon2_memory_kib: Annotated[int, Field(ge=8, le=4 * 1024 * 1024)] = 19456
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = 1
    hash_workers: Annotated[int, Field(ge=0, le=256)] = 0
    hash_queue: Annotated[int, Field(ge=64, le=100_000)] = 64

    smtp_url: str | None = None
    smtp_timeout_seconds: PositiveSeconds = 10
    mail_from: str = "signin@localhost"

    password_min_length: Annotated[int, Field(ge=1, le=1024)] = 8
    allowed_redirect_hosts: Annotated[list[str], NoDecode] = []
    require_email: bool = False
    reset_token_seconds: PositiveSeconds = 1800
    verify_token_seconds: PositiveSeconds = 7 * 86400
    reset_limit_per_account: Annotated[int, Field(ge=1, le=1000)] = 3
    reset_limit_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 20
    signup_limit_per_ip: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    head_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    max_connections: Annotated[int, Field(ge=8, le=1_000_000)] = 1024
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Audit log, metrics and admin pages (SPEC section 15).
    audit_days: Annotated[int, Field(ge=1, le=36500)] = 90
    metrics_allow: Annotated[list[Network], NoDecode] = [
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    ]
    metrics_token: str | None = Field(default=None, min_length=16)
    admin_require_2fa: bool = True
    totp_issuer: Annotated[str, Field(min_length=1, max_length=64)] = "signin"
    webauthn_rp_id: str | None = None
    webauthn_rp_name: Annotated[str, Field(min_length=1, max_length=64)] = "signin"

    # Who may sign up and who may pass forward-auth (SPEC section 12).
    signup: Literal["open", "invite", "closed"] = "open"
    access_rules: Path | None = None
    access_default: Literal["bypass", "signed_in", "two_factor", "deny"] = "signed_in"

    # The language of pages when neither the `lang` cookie nor Accept-Language names a supported
    # one, and of mails to accounts that never chose one (docs/i18n.md).
    default_language: str = "en"

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        from signin.i18n import LANGUAGES

        wanted = value.strip().replace("-", "_")
        for code in LANGUAGES:
            if code.lower() == wanted.lower():
                return code
        raise ValueError(f"not a supported language ({', '.join(LANGUAGES)}): {value!r}")

    # OpenID Connect provider (README "OpenID Connect"): clients file, key file, token lives.
    oidc_clients: Path | None = None
    oidc_keys_file: Path | None = None  # unset: DATA_DIR/oidc-keys.json
    oidc_code_seconds: Annotated[int, Field(gt=0, le=600)] = 60
    oidc_access_token_seconds: PositiveSeconds = 3600
    oidc_refresh_token_seconds: PositiveSeconds = 30 * 86400

    @field_validator("secret_key", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `SIGNIN_SECRET_KEY=` (as compose files write it) means "use secret.key", not "too short".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cookie_secure", "log_level", "signup", "access_default", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # `SIGNIN_COOKIE_SECURE=True` and `SIGNIN_LOG_LEVEL=DEBUG` mean what they say.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secret_key_fallbacks", "allowed_redirect_hosts", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("secret_key_fallbacks")
    @classmethod
    def _fallback_length(cls, value: list[str]) -> list[str]:
        if any(len(key) < 32 for key in value):
            raise ValueError("every fallback key must be at least 32 characters")
        return value

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        items = _split_commas(value)
        if not isinstance(items, list):
            return items
        try:
            return [ipaddress.ip_network(str(item), strict=False) for item in items]
        except ValueError as exc:
            raise ValueError(f"not an IP address or CIDR: {exc}") from None

    @field_validator("allowed_redirect_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        hosts = [host.lower() for host in value]
        for host in hosts:
            if not _HOST_RE.match(host):
                raise ValueError(f"not a host name or *.domain: {host!r}")
        return hosts

    @field_validator("cookie_domain")
    @classmethod
    def _cookie_domain(cls, value: str | None) -> str | None:
        if not value:
            return None
        domain = value.strip().lower().removeprefix(".")
        if not _HOST_RE.match(domain) or domain.startswith("*.") or ":" in domain:
            raise ValueError(f"not a domain name such as example.com: {value!r}")
        return domain

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if "?" in value or "#" in value or "@" in parts.netloc:
            # It is the OIDC issuer too, which may carry neither (OIDC Discovery 4.3).
            raise ValueError("must be a plain URL, without a query, a fragment or a user name")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0]
        if scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:// or postgresql://")
        if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
            _need_driver("asyncpg", "PostgreSQL", "postgres")
        return value

    @field_validator("access_rules", "oidc_clients", "oidc_keys_file", mode="before")
    @classmethod
    def _no_rules_file(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", "smtp_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or (
            parts.scheme != "unix" and not parts.hostname
        ):
            raise ValueError("must look like redis://[:password@]host[:port][/db] or rediss://...")
        database = parts.path.strip("/")
        if parts.scheme != "unix" and database and not database.isdigit():
            raise ValueError("the database after the host must be a number, e.g. redis://host/0")
        _need_driver("redis", "Redis", "redis")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is not None:
            from signin.mail.transport import parse_smtp_url

            parse_smtp_url(value)  # raises ValueError with the reason
        return value

    @model_validator(mode="after")
    def _session_limits(self) -> Settings:
        if self.session_idle_seconds > self.session_max_seconds:
            raise ValueError(
                "SIGNIN_SESSION_IDLE_SECONDS must not exceed SIGNIN_SESSION_MAX_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _argon2_memory(self) -> Settings:
        # argon2 needs 8 KiB per lane; caught here, it is a start-up line, not a 500 at sign-up.
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError(
                "SIGNIN_ARGON2_MEMORY_KIB must be at least 8 x SIGNIN_ARGON2_PARALLELISM "
                f"({8 * self.argon2_parallelism})"
            )
        return self

    @model_validator(mode="after")
    def _cookie_domain_covers_public_url(self) -> Settings:
        # Browsers silently drop a cookie whose Domain does not cover the host that sets it.
        host = (urlsplit(self.public_url).hostname or "").lower()
        domain = self.cookie_domain
        if domain and host != domain and not host.endswith("." + domain):
            raise ValueError(
                f"SIGNIN_COOKIE_DOMAIN ({domain}) must be the host of SIGNIN_PUBLIC_URL ({host}) "
                "or a parent domain of it"
            )
        return self

    @field_validator("webauthn_rp_id")
    @classmethod
    def _rp_id(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        rp_id = value.strip().lower()
        if not _HOST_RE.match(rp_id) or rp_id.startswith("*.") or ":" in rp_id:
            raise ValueError(f"not a domain name such as example.com: {value!r}")
        return rp_id

    @model_validator(mode="after")
    def _rp_id_covers_public_url(self) -> Settings:
        # Browsers refuse a relying party id that is not the page's host or a parent of it.
        host = (urlsplit(self.public_url).hostname or "").lower()
        rp_id = self.webauthn_rp_id
        if rp_id and host != rp_id and not host.endswith("." + rp_id):
            raise ValueError(
                f"SIGNIN_WEBAUTHN_RP_ID ({rp_id}) must be the host of SIGNIN_PUBLIC_URL ({host}) "
                "or a parent domain of it"
            )
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def passkey_rp_id(self) -> str:
        """The WebAuthn relying party id: `SIGNIN_WEBAUTHN_RP_ID`, else the public URL's host."""
        return self.webauthn_rp_id or (urlsplit(self.public_url).hostname or "").lower()

    @property
    def public_origin(self) -> str:
        """`scheme://host[:port]` of `SIGNIN_PUBLIC_URL`, the origin WebAuthn answers name."""
        parts = urlsplit(self.public_url)
        host = (parts.hostname or "").lower()
        host = f"[{host}]" if ":" in host else host
        default = {"http": 80, "https": 443}[parts.scheme]
        port = "" if parts.port in (None, default) else f":{parts.port}"
        return f"{parts.scheme}://{host}{port}"

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the async driver chosen for each dialect."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'signin.db').resolve()}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url

    @property
    def oidc_keys_path(self) -> Path:
        return self.oidc_keys_file or self.data_dir / "oidc-keys.json"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def masked(self) -> dict[str, str]:
        """Every setting as its environment variable, secrets masked (for `signin config`)."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                text = ",".join(str(item) for item in value)
            elif value is None:
                text = ""
            elif isinstance(value, bool):
                text = "true" if value else "false"  # as the README and SPEC spell them
            else:
                text = str(value)
            if name in SECRET_FIELDS and text:
                text = _mask(name, text)
            shown[f"SIGNIN_{name.upper()}"] = text
        return shown


def _need_driver(module: str, server: str, extra: str) -> None:
    """Fail at start, in one line, when the optional driver for a configured server is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{server} needs the {module} package: pip install 'signin[{extra}]'")


def _mask(name: str, text: str) -> str:
    if name in ("secret_key", "secret_key_fallbacks"):
        return "********"
    # URLs: keep scheme, host and path, hide credentials.
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


class SettingsError(Exception):
    """A bad setting, described in one line that names the environment variable."""


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise `SettingsError` with one readable line on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = " ".join(first["msg"].removeprefix("Value error, ").split())
        if not first["loc"]:
            # A check across fields (model validator): its message names the variables itself.
            raise SettingsError(message) from None
        variable = "SIGNIN_" + str(first["loc"][0]).upper()
        raise SettingsError(f"{variable}: {message}") from None
