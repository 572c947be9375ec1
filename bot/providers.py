"""The integrations a running Frontdesk talks to, chosen once at start-up: the real
client for every service whose credentials are set, the sandbox for the others.
"""

from __future__ import annotations

from bot.domain.config import Config
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender, SmsSender
from integrations.bundle import Integrations
from integrations.google import GoogleCalendar
from integrations.microsoft import MicrosoftCalendar
from integrations.postmark import PostmarkEmail
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail, SandboxSms
from integrations.slack import SlackChat, build_slack_client
from integrations.twilio_sms import TwilioSms
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository


class UnavailableIntegrationError(ValueError):
    """Credentials that cannot be used as given (half set, or missing what they need)."""


# Each service's variables: all of them mean "use the real thing", some of them is a mistake.
_CREDENTIALS = {
    "Slack": ("slack_bot_token", "slack_signing_secret"),
    "Google": ("google_client_id", "google_client_secret"),
    "Microsoft": ("ms_tenant_id", "ms_client_id", "ms_client_secret"),
    "Postmark": ("postmark_server_token", "postmark_from"),
    "Twilio": ("twilio_account_sid", "twilio_auth_token", "twilio_from"),
}


def _refuse_half_configured(settings: Settings) -> None:
    """Sandbox mode is never silently used when credentials are present (SPEC §8), so a
    service with only some of its variables set refuses to start instead.
    """
    for service, names in _CREDENTIALS.items():
        present = [name for name in names if getattr(settings, name)]
        if present and len(present) < len(names):
            missing = [name.upper() for name in names if name not in present]
            raise UnavailableIntegrationError(
                f"{service} is half configured: set {', '.join(missing)} as well, or unset "
                f"{', '.join(name.upper() for name in present)} to run it in sandbox mode"
            )
    if settings.google_configured and not settings.frontdesk_encryption_key:
        raise UnavailableIntegrationError(
            "Google needs FRONTDESK_ENCRYPTION_KEY to keep reps' refresh tokens encrypted; "
            'make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        )


def build_integrations(
    settings: Settings,
    config: Config,
    *,
    outbox: OutboxRepository,
    bookings: BookingRepository,
    connections: ConnectionRepository,
) -> Integrations:
    _refuse_half_configured(settings)
    sandbox = SandboxCalendar(config, outbox, bookings)
    calendars: dict[str, CalendarProvider] = {
        "google": GoogleCalendar(settings, connections) if settings.google_configured else sandbox,
        "microsoft": MicrosoftCalendar(settings) if settings.microsoft_configured else sandbox,
    }
    email: EmailSender = (
        PostmarkEmail(settings, outbox) if settings.postmark_configured else SandboxEmail(outbox)
    )
    slack_client = build_slack_client(settings) if settings.slack_configured else None
    chat: Chat = SlackChat(slack_client, outbox) if slack_client else SandboxChat(outbox)
    sms: SmsSender = TwilioSms(settings) if settings.twilio_configured else SandboxSms(outbox)
    return Integrations(calendars, email, chat, sms, slack_client)
