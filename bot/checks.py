"""`frontdesk check`: is the configuration usable and is every integration reachable?"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.services import UnavailableIntegrationError, build_integrations
from bot.settings import Settings
from storage.db import Database
from storage.repositories import BookingRepository, OutboxRepository


@dataclass(frozen=True)
class CheckRow:
    subject: str
    ok: bool
    detail: str


def run_checks(settings: Settings, config: Config) -> list[CheckRow]:
    rows = [CheckRow("config", True, f"{len(config.reps)} reps, {len(config.vip)} VIP domains")]
    db = Database(settings.database_url)
    try:
        reachable = db.ping()
    finally:
        db.dispose()
    rows.append(
        CheckRow("database", reachable, db.dialect + (" answers" if reachable else " unreachable"))
    )
    rows.append(
        CheckRow(
            "webhook secret",
            settings.frontdesk_webhook_secret is not None,
            "set" if settings.frontdesk_webhook_secret else "FRONTDESK_WEBHOOK_SECRET is not set",
        )
    )
    try:
        integrations = build_integrations(
            settings, config, OutboxRepository(db), BookingRepository(db)
        )
    except UnavailableIntegrationError as exc:
        rows.append(CheckRow("integrations", False, str(exc)))
        return rows
    for service, mode in integrations.modes().items():
        detail = "sandbox mode (no credentials): nothing leaves this machine"
        rows.append(CheckRow(service, True, detail if mode == "sandbox" else mode))
    return rows
