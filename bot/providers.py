"""The integrations a running Frontdesk talks to, chosen once at start-up: the real
client for every service whose credentials are set, the sandbox for the others.

A provider's client library is imported only when that provider is configured: the CRM and
calendar libraries cost up to a second of start-up each (a Lambda cold start pays it on
every new instance), and a sandboxed service needs none of them.
"""

from __future__ import annotations

from pathlib import Path

from bot.domain.config import Config
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender, SmsSender
from integrations.bundle import Integrations, mixed_mode_problems
from integrations.sandbox import (
    SandboxCalendar,
    SandboxChat,
    SandboxEmail,
    SandboxSms,
    SandboxTickets,
)
from integrations.slack import SlackChat, build_slack_client
from integrations.tickets import TicketSink
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
    "Salesforce": (
        "salesforce_instance_url",
        "salesforce_client_id",
        "salesforce_username",
        "salesforce_private_key_file",
    ),
}
CRM_LABELS = {"hubspot": "HubSpot", "salesforce": "Salesforce"}


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


def _refuse_mismatched_crm(settings: Settings, config: Config) -> None:
    """CRM credentials and the `[crm]` section must agree: credentials nobody uses, or for
    another CRM than the one named, are a mistake to report, not to ignore.
    """
    present = [
        name
        for name, configured in (
            ("hubspot", settings.hubspot_configured),
            ("salesforce", settings.salesforce_configured),
        )
        if configured
    ]
    if len(present) > 1:
        raise UnavailableIntegrationError(
            "both HubSpot and Salesforce credentials are set: keep only those of the CRM "
            "named in [crm] provider"
        )
    variables = {"hubspot": "HUBSPOT_ACCESS_TOKEN", "salesforce": "SALESFORCE_*"}
    if present and config.crm is None:
        raise UnavailableIntegrationError(
            f"{CRM_LABELS[present[0]]} credentials ({variables[present[0]]}) are set but the "
            f'config has no [crm] section: add [crm] with provider = "{present[0]}", or unset '
            "the variables"
        )
    if present and config.crm is not None and present[0] != config.crm.provider:
        raise UnavailableIntegrationError(
            f'[crm] provider is "{config.crm.provider}" but the credentials set are '
            f"{CRM_LABELS[present[0]]}'s ({variables[present[0]]}): set the "
            f"{CRM_LABELS[config.crm.provider]} ones instead, or change provider"
        )
    if settings.salesforce_configured:
        key = Path(str(settings.salesforce_private_key_file))
        if not key.is_file():
            raise UnavailableIntegrationError(
                f"SALESFORCE_PRIVATE_KEY_FILE {key} is not a readable file: point it at the "
                "PEM private key whose certificate the connected app holds"
            )


def build_tickets(
    settings: Settings, config: Config, outbox: OutboxRepository
) -> TicketSink | None:
    """The CRM of `[crm]`: the real one with credentials, else the sandbox; None without
    the section (no tickets at all).
    """
    if config.crm is None:
        return None
    if config.crm.provider == "hubspot" and settings.hubspot_configured:
        from integrations.hubspot import HubSpotTickets

        return HubSpotTickets(
            settings,
            pipeline=config.crm.hubspot_pipeline,
            stage_open=config.crm.hubspot_stage_open,
            stage_closed=config.crm.hubspot_stage_closed,
        )
    if config.crm.provider == "salesforce" and settings.salesforce_configured:
        from integrations.salesforce import SalesforceTickets

        return SalesforceTickets(settings)
    return SandboxTickets(outbox, CRM_LABELS[config.crm.provider])


def build_integrations(
    settings: Settings,
    config: Config,
    *,
    outbox: OutboxRepository,
    bookings: BookingRepository,
    connections: ConnectionRepository,
) -> Integrations:
    _refuse_half_configured(settings)
    _refuse_mismatched_crm(settings, config)
    slack_client = build_slack_client(settings) if settings.slack_configured else None
    chat: Chat = SlackChat(slack_client, outbox) if slack_client else SandboxChat(outbox)
    return Integrations(
        _calendars(settings, config, outbox, bookings, connections),
        _email(settings, outbox),
        chat,
        _sms(settings, outbox),
        slack_client,
        build_tickets(settings, config, outbox),
    )


def _calendars(
    settings: Settings,
    config: Config,
    outbox: OutboxRepository,
    bookings: BookingRepository,
    connections: ConnectionRepository,
) -> dict[str, CalendarProvider]:
    sandbox = SandboxCalendar(config, outbox, bookings)
    calendars: dict[str, CalendarProvider] = {"google": sandbox, "microsoft": sandbox}
    if settings.google_configured:
        from integrations.google import GoogleCalendar

        calendars["google"] = GoogleCalendar(settings, connections)
    if settings.microsoft_configured:
        from integrations.microsoft import MicrosoftCalendar

        calendars["microsoft"] = MicrosoftCalendar(settings)
    return calendars


def _email(settings: Settings, outbox: OutboxRepository) -> EmailSender:
    if not settings.postmark_configured:
        return SandboxEmail(outbox)
    from integrations.postmark import PostmarkEmail

    return PostmarkEmail(settings, outbox)


def _sms(settings: Settings, outbox: OutboxRepository) -> SmsSender:
    if not settings.twilio_configured:
        return SandboxSms(outbox)
    from integrations.twilio_sms import TwilioSms

    return TwilioSms(settings)


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
