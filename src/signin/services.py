"""Wiring: every store and service built from one `Settings`, shared by the app and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signin.accounts.access.gate import Gate
from signin.accounts.access.groups import Groups
from signin.accounts.access.invites import Invites
from signin.accounts.account import AccountService
from signin.accounts.admin import Administration
from signin.accounts.audit import AuditLog
from signin.accounts.clock import Clock, system_clock
from signin.accounts.devices import Devices
from signin.accounts.factors.challenges import CHALLENGE_SECONDS, Challenges
from signin.accounts.factors.flow import PENDING_SECONDS, SignInFlow
from signin.accounts.factors.manager import TwoFactor
from signin.accounts.factors.passkeys import Passkeys
from signin.accounts.factors.recovery import RecoveryHasher
from signin.accounts.lockout import Lockout
from signin.accounts.newpassword import NewPassword
from signin.accounts.policy import PasswordPolicy
from signin.accounts.redirects import RedirectPolicy
from signin.accounts.reset import PasswordResets
from signin.accounts.sessions import SessionManager
from signin.accounts.signin import Authenticator
from signin.accounts.signup import Registration
from signin.accounts.throttle import Throttle
from signin.accounts.tokens import OneTimeTokens
from signin.accounts.unlock import UnlockLinks
from signin.accounts.verification import EmailVerification
from signin.boot import build_gate, key_ring
from signin.crypto.keys import KeyRing
from signin.crypto.passwords import PasswordHasher
from signin.crypto.sealing import SecretBox
from signin.crypto.signing import CsrfSigner, DeviceSigner, RedirectSigner, StateSigner
from signin.i18n.catalogs import Catalogs
from signin.mail.letters import TemplateLetters
from signin.mail.transport import Mailer, build_mailer
from signin.oidc_services import LazyProvider, build_oidc
from signin.settings import Settings
from signin.stores.base import LockStore, SessionStore, UserStore
from signin.stores.sql.audit import SqlAuditStore
from signin.stores.sql.engine import checkpoint_on_exit, create_engine
from signin.stores.sql.factors import SqlFactorStore
from signin.stores.sql.invites import SqlInviteStore
from signin.stores.sql.locks import SqlLockStore
from signin.stores.sql.passkeys import SqlChallengeStore, SqlPasskeyStore
from signin.stores.sql.reads import point_reads_closer
from signin.stores.sql.sessions import SqlSessionStore
from signin.stores.sql.tokens import SqlTokenStore
from signin.stores.sql.users import SqlUserStore
from signin.telemetry import Metrics

if TYPE_CHECKING:  # the CLI imports this module and needs no web framework
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import HTTPConnection

    from signin.accounts.oidc import OidcProvider

CSRF_MAX_AGE = 86400


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    keys: KeyRing
    users: UserStore
    session_store: SessionStore
    lock_store: LockStore
    hasher: PasswordHasher
    policy: PasswordPolicy
    lockout: Lockout
    sessions: SessionManager
    registration: Registration
    authenticator: Authenticator
    redirects: RedirectPolicy
    csrf: CsrfSigner
    clock: Clock
    mailer: Mailer
    letters: TemplateLetters
    catalogs: Catalogs
    tokens: OneTimeTokens
    resets: PasswordResets
    verification: EmailVerification
    account: AccountService
    audit: AuditLog
    metrics: Metrics
    admin: Administration
    passkeys: Passkeys
    devices: Devices
    unlock: UnlockLinks
    invites: Invites
    groups: Groups
    gate: Gate
    two_factor: TwoFactor
    sign_in_flow: SignInFlow
    oidc_provider: LazyProvider
    # Run by `close`, in order (e.g. the Redis connection pool).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # name → a probe that raises when that backing store does not answer (`/healthz`).
    health: dict[str, Callable[[], Awaitable[Any]]] = field(default_factory=dict)

    async def close(self) -> None:
        await self.unlock.drain()
        await self.oidc_provider.close()
        await self.audit.close()  # before the engine goes: the last events are written
        self.hasher.close()
        for closer in self.closers:
            await closer()
        await self.engine.dispose()
        self.metrics.close()
        await asyncio.to_thread(checkpoint_on_exit, self.engine)

    @property
    def oidc(self) -> OidcProvider:
        """The OpenID Connect provider, built on first use (the CLI rarely needs its JOSE)."""
        return self.oidc_provider.get()


def services_of(request: HTTPConnection) -> Services:
    """The app's services, for a route or an endpoint the edge answers."""
    services: Services = request.app.state.services
    return services


def build_services(
    settings: Settings, *, clock: Clock = system_clock, hasher: PasswordHasher | None = None
) -> Services:
    """Build everything; opens no connection until first use."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds hashes and the key
    keys = key_ring(settings)
    gate = build_gate(settings)
    engine = create_engine(settings.sqlalchemy_url)
    users: UserStore = SqlUserStore(engine)
    session_store: SessionStore = SqlSessionStore(engine)
    lock_store: LockStore = SqlLockStore(engine)
    closers: list[Callable[[], Awaitable[None]]] = []
    end_point_reads = point_reads_closer(engine)  # PostgreSQL: stores/sql/pgread.py
    if end_point_reads is not None:
        closers.append(end_point_reads)
    health: dict[str, Callable[[], Awaitable[Any]]] = {}
    metrics = Metrics()
    audit = AuditLog(
        SqlAuditStore(engine), keep_days=settings.audit_days, clock=clock, listener=metrics.event
    )
    if settings.redis_url:
        from signin.stores.redis import connect_redis_stores

        redis_stores = connect_redis_stores(settings.redis_url, users=users)
        session_store, lock_store = redis_stores.sessions, redis_stores.locks
        users = redis_stores.users  # every write to a user also ends its facts in Redis
        closers.append(redis_stores.close)
        health["redis"] = redis_stores.ping
    hasher = hasher or PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        workers=settings.hash_workers,
        queue=settings.hash_queue,
    )
    hasher.on_hash, hasher.on_queue = metrics.hash_seconds.observe, metrics.hash_queue.set
    policy = PasswordPolicy(settings.password_min_length, offload=hasher.run)
    lockout = Lockout(
        lock_store,
        max_failures=settings.lock_max_failures,
        ip_max_failures=settings.ip_lock_max_failures,
        lock_seconds=settings.lock_seconds,
        clock=clock,
        audit=audit,
    )
    sessions = SessionManager(
        session_store,
        idle_seconds=settings.session_idle_seconds,
        max_seconds=settings.session_max_seconds,
        remember_seconds=settings.remember_seconds,
        clock=clock,
        audit=audit,
    )
    mailer = build_mailer(
        settings.smtp_url,
        data_dir=settings.data_dir,
        sender=settings.mail_from,
        timeout=settings.smtp_timeout_seconds,
    )
    catalogs = Catalogs(default=settings.default_language)
    letters = TemplateLetters(mailer, settings.public_url, catalogs)
    tokens = OneTimeTokens(SqlTokenStore(engine), users, clock=clock)
    devices = Devices(DeviceSigner(keys, settings.device_seconds, clock))
    unlock = UnlockLinks(
        tokens,
        letters,
        Throttle(lock_store, prefix="UNLOCK:", window=settings.lock_seconds, clock=clock),
        token_seconds=settings.reset_token_seconds,
        audit=audit,
    )
    authenticator = Authenticator(users, hasher, lockout, devices, unlock, audit)
    new_password = NewPassword(users, hasher, policy, clock=clock)
    verification = EmailVerification(
        users,
        tokens,
        letters,
        Throttle(lock_store, prefix="VERIFY:", window=settings.lock_seconds, clock=clock),
        token_seconds=settings.verify_token_seconds,
        per_account=settings.reset_limit_per_account,
        clock=clock,
        audit=audit,
    )
    resets = PasswordResets(
        users,
        tokens,
        letters,
        new_password,
        sessions,
        lockout,
        Throttle(lock_store, prefix="RESET:", window=settings.lock_seconds, clock=clock),
        token_seconds=settings.reset_token_seconds,
        per_account=settings.reset_limit_per_account,
        per_ip=settings.reset_limit_per_ip,
        clock=clock,
        audit=audit,
    )
    invites = Invites(SqlInviteStore(engine), clock=clock, audit=audit)
    groups = Groups(users)
    registration = Registration(
        users,
        hasher,
        policy,
        sessions,
        require_email=settings.require_email,
        clock=clock,
        after_sign_up=[verification.after_sign_up],
        mode=settings.signup,
        invites=invites,
        audit=audit,
        per_ip=Throttle(lock_store, prefix="SIGNUP:", window=settings.lock_seconds, clock=clock),
        per_ip_limit=settings.signup_limit_per_ip,
    )
    two_factor = TwoFactor(
        users,
        SqlFactorStore(engine),
        SecretBox(keys, "totp"),
        RecoveryHasher(keys),
        authenticator,
        lockout,
        letters,
        issuer=settings.totp_issuer,
        clock=clock,
        audit=audit,
    )
    passkeys = Passkeys(
        SqlPasskeyStore(engine),
        Challenges(
            SqlChallengeStore(engine),
            StateSigner(keys, "passkey", CHALLENGE_SECONDS),
            clock=clock,
        ),
        users,
        rp_id=settings.passkey_rp_id,
        rp_name=settings.webauthn_rp_name,
        origin=settings.public_origin,
        clock=clock,
        letters=letters,
        audit=audit,
    )
    sign_in_flow = SignInFlow(
        users,
        authenticator,
        lockout,
        two_factor,
        tokens,
        StateSigner(keys, "two-factor", PENDING_SECONDS),
        clock=clock,
        audit=audit,
        passkeys=passkeys,
    )
    oidc = LazyProvider(
        lambda: build_oidc(settings, engine, keys, clock=clock, audit=audit, metrics=metrics)
    )
    sessions.after_end.append(oidc.session_ended)
    return Services(
        settings=settings,
        engine=engine,
        keys=keys,
        users=users,
        session_store=session_store,
        lock_store=lock_store,
        hasher=hasher,
        policy=policy,
        lockout=lockout,
        sessions=sessions,
        registration=registration,
        authenticator=authenticator,
        redirects=RedirectPolicy(
            RedirectSigner(keys), settings.public_url, settings.allowed_redirect_hosts
        ),
        csrf=CsrfSigner(keys, CSRF_MAX_AGE),
        clock=clock,
        mailer=mailer,
        letters=letters,
        catalogs=catalogs,
        tokens=tokens,
        resets=resets,
        verification=verification,
        account=AccountService(users, authenticator, new_password, sessions, letters, audit),
        audit=audit,
        metrics=metrics,
        passkeys=passkeys,
        devices=devices,
        unlock=unlock,
        admin=Administration(
            users,
            registration,
            resets,
            lockout,
            sessions,
            session_store,
            audit,
            groups,
            two_factor,
            clock=clock,
        ),
        invites=invites,
        groups=groups,
        gate=gate,
        two_factor=two_factor,
        sign_in_flow=sign_in_flow,
        oidc_provider=oidc,
        closers=closers,
        health=health,
    )
