"""The integrations a running Frontdesk talks to, one implementation per capability,
chosen once at start-up (`bot/providers.py`): the real client for every service whose
credentials are set, the sandbox for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.domain.config import Config, Rep
from integrations.base import CalendarProvider, Chat, EmailSender, SmsSender
from integrations.tickets import TicketSink


@dataclass(frozen=True)
class Integrations:
    calendars: dict[str, CalendarProvider]  # by rep.provider
    email: EmailSender
    chat: Chat
    sms: SmsSender
    slack_client: WebClient | None = None  # the real Slack's client, shared with Bolt
    tickets: TicketSink | None = None  # the CRM of `[crm]`; None without that section

    def calendar_for(self, rep: Rep) -> CalendarProvider:
        return self.calendars[rep.provider]

    def modes(self) -> dict[str, str]:
        """Service -> implementation name, for the start-up log line and `frontdesk check`."""
        modes = {f"calendar:{key}": provider.name for key, provider in self.calendars.items()}
        modes["email"] = self.email.name
        modes["slack"] = self.chat.name
        modes["sms"] = self.sms.name
        if self.tickets is not None:
            modes["crm"] = self.tickets.name
        return modes


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
