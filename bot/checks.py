"""`frontdesk check`: is the configuration usable, and does every configured integration
answer (token valid, scopes granted, each rep's calendars reachable)? The API-drift detector.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect

from bot.config import Config
from bot.services import Integrations, UnavailableIntegrationError, build_integrations
from bot.settings import Settings
from integrations.base import Probe
from integrations.postmark import PostmarkEmail
from integrations.slack import SlackChat
from storage.crypto import TokenCipher, TokenCipherError
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository

SANDBOXED = "sandbox mode (no credentials): nothing leaves this machine"


@dataclass(frozen=True)
class CheckRow:
    subject: str
    ok: bool
    detail: str


def _row(probe: Probe) -> CheckRow:
    subject = f"{probe.service}:{probe.check}" + (
        f" {probe.subject}" if probe.subject != "-" else ""
    )
    return CheckRow(subject, probe.ok, probe.detail)


def run_checks(settings: Settings, config: Config) -> list[CheckRow]:
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
                settings,
                config,
                outbox=OutboxRepository(db),
                bookings=BookingRepository(db),
                connections=connections,
            )
        except (UnavailableIntegrationError, ValueError) as exc:
            rows.append(CheckRow("integrations", False, str(exc)))
            return rows
        rows += _probe_services(config, integrations)
        if reachable and inspect(db.engine).has_table("calendar_connection"):
            rows += _broken_connections(connections)
    finally:
        db.dispose()
    return rows


def _probe_services(config: Config, integrations: Integrations) -> list[CheckRow]:
    rows = []
    for service, mode in integrations.modes().items():
        if mode == "sandbox":
            rows.append(CheckRow(service, True, SANDBOXED))
    if isinstance(integrations.chat, SlackChat):
        rows += [_row(p) for p in integrations.chat.probe(config.slack.ops_usergroup)]
    if isinstance(integrations.email, PostmarkEmail):
        rows += [_row(p) for p in integrations.email.probe()]
    for rep in config.reps:
        calendar = integrations.calendar_for(rep)
        if calendar.name != "sandbox":
            rows += [_row(p) for p in calendar.probe(rep)]
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
