"""`/availability`: whose free slots, over which days, read from every calendar of the rep
(or of the whole team) and written one line per day in the caller's zone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.availability_query import (
    AvailabilityQuery,
    AvailabilityUsageError,
    parse_availability_args,
    query_window,
)
from bot.domain.config import Config, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import display_step, free_slots, team_slots
from bot.messages.availability import render_availability
from bot.services.triage import viewer_profile, zone_or
from integrations.base import IntegrationError
from integrations.bundle import Integrations
from storage.models import utcnow

log = logging.getLogger("frontdesk.availability")

NOT_A_REP = "{who} is not a rep Frontdesk books for. Reps: {reps}"
CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}"
SKIPPED_REPS = "_Not included (calendar unreadable): {reps}_"
REP_TITLE = "Free {minutes}-minute slots of {rep}"
TEAM_TITLE = "The team's free {minutes}-minute slots"
TEAM_LOOKUPS = 8  # reps' calendars read at once


class AvailabilityLookup:
    def __init__(
        self,
        config: Config,
        integrations: Integrations,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.clock = clock

    def answer(self, caller_id: str, text: str) -> str:
        """The ephemeral reply to `/availability <text>` from `caller_id`."""
        profile = viewer_profile(self.integrations.chat, caller_id)
        zone = zone_or(profile.timezone, self.config.zone)
        now = self.clock()
        try:
            query = parse_availability_args(
                text,
                today=now.astimezone(zone).date(),
                default_duration=self.config.booking.default_duration_minutes,
            )
        except AvailabilityUsageError as exc:
            return str(exc)
        start, end = query_window(query, zone)
        named = query.user_id is not None or query.email is not None
        rep = self._rep_for(query, caller_id, profile.email)
        if named and rep is None:
            who = f"<@{query.user_id}>" if query.user_id else query.email
            return NOT_A_REP.format(who=who, reps=", ".join(r.email for r in self.config.reps))
        if rep is not None:
            try:
                busy = self.integrations.calendar_for(rep).busy(rep, start, end)
            except IntegrationError as exc:
                return CALENDAR_UNREADABLE.format(rep=rep.email, error=exc.message)
            slots = free_slots(
                rep,
                busy,
                start=start,
                end=end,
                duration=query.duration,
                now=now,
                booking=self.config.booking,
                step=display_step(query.duration_minutes),
            )
            title = REP_TITLE.format(minutes=query.duration_minutes, rep=rep.email)
            return render_availability(title, slots, zone, days=query.days)
        return self._team(query, start, end, now, zone)

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
        email = caller_email if wanted == caller_id else self._email_of(wanted)
        return self.config.rep(email) if email else None

    def _email_of(self, user_id: str) -> str | None:
        return viewer_profile(self.integrations.chat, user_id).email

    def _team(
        self,
        query: AvailabilityQuery,
        start: datetime,
        end: datetime,
        now: datetime,
        zone: ZoneInfo,
    ) -> str:
        def read(rep: Rep) -> tuple[Rep, list[Interval] | None]:
            try:
                return rep, self.integrations.calendar_for(rep).busy(rep, start, end)
            except IntegrationError as exc:
                log.warning("busy lookup failed", extra={"rep": rep.email, "error": exc.message})
                return rep, None

        with ThreadPoolExecutor(max_workers=TEAM_LOOKUPS) as pool:
            results = list(pool.map(read, self.config.reps))
        readable = [(rep, busy) for rep, busy in results if busy is not None]
        skipped = [rep.email for rep, busy in results if busy is None]
        slots = team_slots(
            readable,
            start,
            end,
            duration_minutes=query.duration_minutes,
            booking=self.config.booking,
            now=now,
            step=display_step(query.duration_minutes),
        )
        title = TEAM_TITLE.format(minutes=query.duration_minutes)
        text = render_availability(title, [slot for slot, _ in slots], zone, days=query.days)
        if skipped:
            text += "\n" + SKIPPED_REPS.format(reps=", ".join(skipped))
        return text
