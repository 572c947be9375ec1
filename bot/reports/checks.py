"""`frontdesk check`: is the configuration usable, and does every configured integration
answer (token valid, scopes granted, each rep's calendars reachable)? The API-drift detector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import inspect

from bot.domain.config import Config
from integrations.base import Probe
from integrations.bundle import Integrations, mixed_mode_problems
from integrations.credentials import PublicUrlSettings
from integrations.postmark import PostmarkEmail
from integrations.slack import SlackChat
from storage.crypto import TokenCipher, TokenCipherError
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository

SANDBOXED = "sandbox mode (no credentials): nothing leaves this machine"
CALENDARS_NOT_PROBED = (
    "not probed: reps' calendar connections are kept in the database, which is unreachable "
    "or not migrated (run `frontdesk db upgrade`)"
)
NOT_A_URL = (
    "FRONTDESK_PUBLIC_URL is {url!r}, not an absolute URL: Twilio needs one to report SMS "
    "delivery; set it to this server's public https URL"
)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
LOCAL_PUBLIC_URL = (
    "FRONTDESK_PUBLIC_URL is {url}, which Twilio cannot reach: SMS delivery reports would "
    "never arrive; set it to this server's public https URL"
)


@dataclass(frozen=True)
class CheckRow:
    subject: str
    ok: bool
    detail: str


def render_rows(rows: list[CheckRow]) -> str:
    """The table `frontdesk check` prints: the mark, subject and detail columns line up
    whatever the mark ("ok" or "FAIL"), and a multi-line detail stays in its column."""
    width = max((len(row.subject) for row in rows), default=0)
    indent = " " * (len("FAIL") + 2 + width + 2)
    lines = []
    for row in rows:
        first, *rest = row.detail.splitlines() or [""]
        mark = "ok" if row.ok else "FAIL"
        lines.append(f"{mark:<4}  {row.subject:<{width}}  {first}".rstrip())
        lines += [indent + more for more in rest]
    return "\n".join(lines)


MIXED_ALLOWED = "allowed by FRONTDESK_ALLOW_MIXED=1"


def _row(probe: Probe) -> CheckRow:
    subject = f"{probe.service}:{probe.check}" + (
        f" {probe.subject}" if probe.subject != "-" else ""
    )
    return CheckRow(subject, probe.ok, probe.detail)


class CheckSettings(PublicUrlSettings, Protocol):
    """The settings `frontdesk check` reads itself (each integration reads its own)."""

    @property
    def database_url(self) -> str: ...

    @property
    def frontdesk_webhook_secret(self) -> SecretStr | None: ...

    @property
    def frontdesk_encryption_key(self) -> SecretStr | None: ...

    @property
    def frontdesk_allow_mixed(self) -> bool: ...


# How the integrations are built from the stores they use (the wiring's own function):
# check builds them the way serve does, over the database it just pinged.
IntegrationsFactory = Callable[
    [OutboxRepository, BookingRepository, ConnectionRepository], Integrations
]


def run_checks(
    settings: CheckSettings, config: Config, build_integrations: IntegrationsFactory
) -> list[CheckRow]:
    """Every row of `frontdesk check`. `build_integrations` raises ValueError for
    credentials that cannot be used as given.
    """
    rows = [CheckRow("config", True, f"{len(config.reps)} reps, {len(config.vip)} VIP domains")]
    db = Database(settings.database_url)
    try:
        reachable = db.ping()
        rows.append(
            CheckRow(
                "database", reachable, db.dialect + (" answers" if reachable else " unreachable")
            )
        )
        rows.append(
            CheckRow(
                "webhook secret",
                settings.frontdesk_webhook_secret is not None,
                "set"
                if settings.frontdesk_webhook_secret
                else "FRONTDESK_WEBHOOK_SECRET is not set",
            )
        )
        cipher = None
        if settings.frontdesk_encryption_key:
            try:
                cipher = TokenCipher(settings.frontdesk_encryption_key.get_secret_value())
            except TokenCipherError as exc:
                rows.append(CheckRow("encryption key", False, str(exc)))
                return rows
        connections = ConnectionRepository(db, cipher)
        try:
            integrations = build_integrations(
                OutboxRepository(db), BookingRepository(db), connections
            )
        except ValueError as exc:
            rows.append(CheckRow("integrations", False, str(exc)))
            return rows
        migrated = reachable and inspect(db.engine).has_table("calendar_connection")
        # `serve` refuses these unless FRONTDESK_ALLOW_MIXED=1 says the mix is deliberate.
        allowed = settings.frontdesk_allow_mixed
        rows += [
            CheckRow("integrations", allowed, f"{p} ({MIXED_ALLOWED})" if allowed else p)
            for p in mixed_mode_problems(config, integrations)
        ]
        rows += _probe_services(
            config,
            integrations,
            connections_readable=migrated,
            public_url=settings.frontdesk_public_url,
        )
        if migrated:
            rows += _broken_connections(connections)
    finally:
        db.dispose()
    return rows


def _public_url_row(public_url: str) -> CheckRow:
    """Twilio reports delivery to FRONTDESK_PUBLIC_URL: it must be reachable from outside."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return CheckRow("twilio:status_callback", False, NOT_A_URL.format(url=public_url))
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return CheckRow("twilio:status_callback", False, LOCAL_PUBLIC_URL.format(url=public_url))
    callback = public_url.rstrip("/") + "/webhooks/twilio/status"
    return CheckRow("twilio:status_callback", True, callback)


def _probe_services(
    config: Config,
    integrations: Integrations,
    *,
    connections_readable: bool,
    public_url: str,
) -> list[CheckRow]:
    """Probe every real service; reps' calendars only when their stored connections can be
    read (Google's tokens live in the database).
    """
    rows = [
        CheckRow(service, True, SANDBOXED)
        for service, mode in integrations.modes().items()
        if mode == "sandbox"
    ]
    rows += _probe_messaging(config, integrations, public_url)
    if integrations.tickets is not None and integrations.tickets.name != "sandbox":
        # VIP tickets are assigned to the account owner: each must be a user of the CRM.
        owners = sorted({vip.owner_email for vip in config.vip})
        rows += [_row(p) for p in integrations.tickets.probe(owners)]
    real_reps = [rep for rep in config.reps if integrations.calendar_for(rep).name != "sandbox"]
    if real_reps and not connections_readable:
        rows.append(CheckRow("calendars", False, CALENDARS_NOT_PROBED))
        return rows
    for rep in real_reps:
        for probe in integrations.calendar_for(rep).probe(rep):
            row = _row(probe)
            if row not in rows:  # app-wide rows (Microsoft's credentials) once, not per rep
                rows.append(row)
    return rows


def _probe_messaging(config: Config, integrations: Integrations, public_url: str) -> list[CheckRow]:
    """Slack, Postmark and Twilio, when real."""
    rows: list[CheckRow] = []
    if isinstance(integrations.chat, SlackChat):
        rows += [_row(p) for p in integrations.chat.probe(config.slack.ops_usergroup)]
    if isinstance(integrations.email, PostmarkEmail):
        rows += [_row(p) for p in integrations.email.probe()]
    if integrations.sms.name != "sandbox":
        rows += [_row(p) for p in integrations.sms.probe()]
        rows.append(_public_url_row(public_url))
    return rows


def _broken_connections(connections: ConnectionRepository) -> list[CheckRow]:
    """Connections marked broken by the booking path stay failing until reconnected."""
    return [
        CheckRow(
            f"{connection.provider}:connection {connection.rep_email}",
            False,
            f"marked broken: {connection.broken_reason}",
        )
        for connection in connections.all()
        if connection.broken
    ]
