"""The integrations a running Frontdesk talks to, chosen once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.config import Config, Rep
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail
from integrations.slack import SlackChat, build_slack_client
from storage.repositories import BookingRepository, OutboxRepository


class UnavailableIntegrationError(Exception):
    """Credentials are set for a service this build cannot talk to yet."""


@dataclass(frozen=True)
class Integrations:
    calendars: dict[str, CalendarProvider]  # by rep.provider
    email: EmailSender
    chat: Chat
    slack_client: WebClient | None = None  # the real Slack's client, shared with Bolt

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
    _refuse_half_configured(settings)
    calendar = SandboxCalendar(config, outbox, bookings)
    slack_client = build_slack_client(settings) if settings.slack_configured else None
    chat: Chat = SlackChat(slack_client, outbox) if slack_client else SandboxChat(outbox)
    return Integrations(
        calendars={"google": calendar, "microsoft": calendar},
        email=SandboxEmail(outbox),
        chat=chat,
        slack_client=slack_client,
    )


_REQUIRED_TOGETHER = {
    "Slack": ("slack_bot_token", "slack_signing_secret"),
}


def _refuse_half_configured(settings: Settings) -> None:
    """Some but not all of a service's credentials is a mistake to report, not to sandbox."""
    for service, names in _REQUIRED_TOGETHER.items():
        present = [name for name in names if getattr(settings, name)]
        if present and len(present) < len(names):
            missing = [name.upper() for name in names if name not in present]
            raise UnavailableIntegrationError(
                f"{service} is half configured: set {', '.join(missing)} as well, or unset "
                f"{', '.join(name.upper() for name in present)} to run it in sandbox mode"
            )
