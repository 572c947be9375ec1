"""The integrations a running Frontdesk talks to, chosen once at start-up: the real
client for every service whose credentials are set, the sandbox for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.config import Config, Rep
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender, SmsSender
from integrations.google import GoogleCalendar
from integrations.microsoft import MicrosoftCalendar
from integrations.postmark import PostmarkEmail
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail, SandboxSms
from integrations.slack import SlackChat, build_slack_client
from integrations.twilio_sms import TwilioSms
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository


class UnavailableIntegrationError(Exception):
    """Credentials that cannot be used as given (half set, or missing what they need)."""


@dataclass(frozen=True)
class Integrations:
    calendars: dict[str, CalendarProvider]  # by rep.provider
    email: EmailSender
    chat: Chat
    sms: SmsSender
    slack_client: WebClient | None = None  # the real Slack's client, shared with Bolt

    def calendar_for(self, rep: Rep) -> CalendarProvider:
        return self.calendars[rep.provider]

    def modes(self) -> dict[str, str]:
        """Service -> implementation name, for the start-up log line and `frontdesk check`."""
        modes = {f"calendar:{key}": provider.name for key, provider in self.calendars.items()}
        modes["email"] = self.email.name
        modes["slack"] = self.chat.name
        modes["sms"] = self.sms.name
        return modes


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


_PROVIDER_VARIABLES = {
    "google": "GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET",
    "microsoft": "MS_TENANT_ID, MS_CLIENT_ID, MS_CLIENT_SECRET",
}


def mixed_mode_problems(config: Config, integrations: Integrations) -> list[str]:
    """Real and sandboxed services that would not add up for a client: a real confirmation
    of a meeting booked only in the sandbox, or a real meeting the client never hears of.
    """
    email_real = integrations.email.name != "sandbox"
    problems = []
    calendars_real = any(integrations.calendar_for(rep).name != "sandbox" for rep in config.reps)
    if integrations.chat.name == "sandbox" and (email_real or calendars_real):
        problems.append(
            "Slack is in sandbox mode while a calendar or email is real: escalations of real "
            "clients' requests would reach nobody; set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
        )
    for rep in config.reps:
        calendar_real = integrations.calendar_for(rep).name != "sandbox"
        if email_real and not calendar_real:
            problems.append(
                f"{rep.email}'s {rep.provider} calendar is in sandbox mode but emails are real: "
                "clients would be confirmed for meetings that exist nowhere; configure "
                f"{rep.provider} ({_PROVIDER_VARIABLES[rep.provider]}) or remove the rep"
            )
        elif calendar_real and not email_real:
            problems.append(
                f"{rep.email}'s meetings are booked on the real {rep.provider} calendar but "
                "emails are in sandbox mode: clients would never be confirmed; set "
                "POSTMARK_SERVER_TOKEN and POSTMARK_FROM"
            )
    return problems


MIXED_MODE_REFUSAL = (
    "refusing to start: real and sandboxed services do not add up (SPEC §9):\n{problems}\n"
    "Configure the missing services, or set FRONTDESK_ALLOW_MIXED=1 if the mix is deliberate."
)


def refuse_mixed_mode(settings: Settings, config: Config, integrations: Integrations) -> None:
    """Raise UnavailableIntegrationError in mixed real/sandbox mode unless it is allowed."""
    problems = mixed_mode_problems(config, integrations)
    if problems and not settings.frontdesk_allow_mixed:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise UnavailableIntegrationError(MIXED_MODE_REFUSAL.format(problems=listed))
