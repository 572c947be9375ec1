"""`/availability`: whose free slots, over which days (read through the availability
service, every calendar of the rep or of the whole team), written one line per day in the
caller's zone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.availability_query import (
    AvailabilityQuery,
    AvailabilityUsageError,
    parse_availability_args,
    query_window,
)
from bot.domain.config import Config, Rep
from bot.domain.slots import display_step
from bot.messages.availability import render_availability
from bot.services.availability import AvailabilityService
from bot.services.triage import viewer_profile, zone_or
from integrations.base import Chat, IntegrationError
from storage.types import utcnow

log = logging.getLogger("frontdesk.availability")

NOT_A_REP = "{who} is not a rep Frontdesk books for. Reps: {reps}"
CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}"
SKIPPED_REPS = "_Not included (calendar unreadable): {reps}_"
REP_TITLE = "Free {minutes}-minute slots of {rep}"
TEAM_TITLE = "The team's free {minutes}-minute slots"


class AvailabilityLookup:
    def __init__(
        self,
        config: Config,
        availability: AvailabilityService,
        chat: Chat,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.availability = availability
        self.chat = chat
        self.clock = clock

    def answer(self, caller_id: str, text: str) -> str:
        """The ephemeral reply to `/availability <text>` from `caller_id`."""
        profile = viewer_profile(self.chat, caller_id)
        zone = zone_or(profile.timezone, self.config.zone)
        try:
            query = parse_availability_args(
                text,
                today=self.clock().astimezone(zone).date(),
                default_duration=self.config.booking.default_duration_minutes,
            )
        except AvailabilityUsageError as exc:
            return str(exc)
        named = query.user_id is not None or query.email is not None
        rep = self._rep_for(query, caller_id, profile.email)
        if named and rep is None:
            who = f"<@{query.user_id}>" if query.user_id else query.email
            return NOT_A_REP.format(who=who, reps=", ".join(r.email for r in self.config.reps))
        if rep is not None:
            return self._rep(rep, query, zone)
        return self._team(query, zone)

    def _rep_for(
        self, query: AvailabilityQuery, caller_id: str, caller_email: str | None
    ) -> Rep | None:
        """The rep named by email or mention, else the caller. A rep's Slack id is optional
        in the config, so a mention or the caller is also matched by their Slack email.
        """
        if query.email is not None:
            return self.config.rep(query.email)
        wanted = query.user_id or caller_id
        rep = next((rep for rep in self.config.reps if rep.slack_id == wanted), None)
        if rep is not None:
            return rep
        email = caller_email if wanted == caller_id else viewer_profile(self.chat, wanted).email
        return self.config.rep(email) if email else None

    def _rep(self, rep: Rep, query: AvailabilityQuery, zone: ZoneInfo) -> str:
        start, end = query_window(query, zone)
        try:
            slots = self.availability.rep_slots(
                rep, start, end, query.duration, step=display_step(query.duration_minutes)
            )
        except IntegrationError as exc:
            return CALENDAR_UNREADABLE.format(rep=rep.email, error=exc.message)
        title = REP_TITLE.format(minutes=query.duration_minutes, rep=rep.email)
        return render_availability(title, slots, zone, days=query.days)

    def _team(self, query: AvailabilityQuery, zone: ZoneInfo) -> str:
        start, end = query_window(query, zone)
        team = self.availability.team_slots(
            start, end, query.duration, step=display_step(query.duration_minutes)
        )
        title = TEAM_TITLE.format(minutes=query.duration_minutes)
        text = render_availability(title, [slot for slot, _ in team.slots], zone, days=query.days)
        if team.unreadable:
            text += "\n" + SKIPPED_REPS.format(reps=", ".join(rep.email for rep in team.unreadable))
        return text
