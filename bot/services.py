"""The integrations a running Frontdesk talks to, chosen once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config, Rep
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail
from storage.repositories import BookingRepository, OutboxRepository


class UnavailableIntegrationError(Exception):
    """Credentials are set for a service this build cannot talk to yet."""


@dataclass(frozen=True)
class Integrations:
    calendars: dict[str, CalendarProvider]  # by rep.provider
    email: EmailSender
    chat: Chat

    def calendar_for(self, rep: Rep) -> CalendarProvider:
        return self.calendars[rep.provider]

    def modes(self) -> dict[str, str]:
        """Service -> implementation name, for the start-up log line and `frontdesk check`."""
        modes = {f"calendar:{key}": provider.name for key, provider in self.calendars.items()}
        modes["email"] = self.email.name
        modes["slack"] = self.chat.name
        return modes


# Each service: the settings that, when present, mean "use the real thing".
_CREDENTIALS = {
    "slack": ("slack_bot_token", "slack_signing_secret"),
    "google": ("google_client_id", "google_client_secret"),
    "microsoft": ("ms_tenant_id", "ms_client_id", "ms_client_secret"),
    "postmark": ("postmark_server_token", "postmark_from"),
}


def _refuse_silent_sandbox(settings: Settings) -> None:
    """Sandbox mode is never silently used when credentials are present (SPEC §8)."""
    present = [
        service
        for service, names in _CREDENTIALS.items()
        if any(getattr(settings, name) for name in names)
    ]
    if present:
        raise UnavailableIntegrationError(
            "credentials are set for "
            + ", ".join(present)
            + " but this version of Frontdesk only has sandbox implementations of them; "
            "unset those variables to run in sandbox mode"
        )


def build_integrations(
    settings: Settings, config: Config, outbox: OutboxRepository, bookings: BookingRepository
) -> Integrations:
    _refuse_silent_sandbox(settings)
    calendar = SandboxCalendar(config, outbox, bookings)
    return Integrations(
        calendars={"google": calendar, "microsoft": calendar},
        email=SandboxEmail(outbox),
        chat=SandboxChat(outbox),
    )
