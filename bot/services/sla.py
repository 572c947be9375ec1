"""SLA re-pings (SPEC §6): an escalation nobody has claimed gets a reply in its thread
mentioning the ops group at 1x, 2x and 4x `slack.sla_minutes`, counted from when it was
opened, and never once it is claimed or closed. A ping is posted first and recorded after,
so a process dying in between loses none: the outbox key makes the next tick's post a
look-up of the one already made.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.config import Config
from bot.messages.blocks import sla_ping_text
from bot.services.telemetry import count_integration_error
from integrations.base import Chat, IntegrationError
from storage.models import OutboxMessage, OutboxStatus, StoredEscalation, utcnow
from storage.repositories import EscalationRepository, OutboxRepository

log = logging.getLogger("frontdesk.sla")

SLA_MULTIPLES = (1, 2, 4)  # ping n+1 falls due at SLA_MULTIPLES[n] * sla_minutes
BATCH = 50  # pings per tick at most; the rest wait for the next one
# A post that keeps failing is given up after this many tries. The outbox counts a failed
# try twice (its claim and its failure), hence the doubling where it is read.
MAX_POST_TRIES = 3


def failed_tries(message: OutboxMessage | None) -> int:
    """How many times the post of an outbox row has failed so far (0 unless it is FAILED
    now: a later success or a claim in progress ends the count).
    """
    if message is None or message.status != OutboxStatus.FAILED:
        return 0
    return message.attempts // 2


def out_of_tries(outbox: OutboxRepository, dedupe_key: str, tries: int = MAX_POST_TRIES) -> bool:
    """True when the post under `dedupe_key` has failed `tries` times already."""
    return failed_tries(outbox.get(dedupe_key)) >= tries


def level_reached(waited: timedelta, sla: timedelta) -> int:
    """How many pings are due after `waited`: 0 before 1x the SLA, up to 3 from 4x."""
    return sum(1 for multiple in SLA_MULTIPLES if waited >= sla * multiple)


class SlaPinger:
    def __init__(
        self,
        config: Config,
        escalations: EscalationRepository,
        chat: Chat,
        outbox: OutboxRepository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.escalations = escalations
        self.chat = chat
        self.outbox = outbox
        self.clock = clock

    def tick(self, stop: threading.Event | None = None) -> dict[str, int]:
        """Ping every escalation owed one: {"pinged": n, "failed": m}. A set `stop` (a
        shutdown) ends the tick between pings; the rest wait for the next process.
        """
        now = self.clock()
        sla = timedelta(minutes=self.config.slack.sla_minutes)
        due = self.escalations.sla_due([now - sla * m for m in SLA_MULTIPLES], limit=BATCH)
        counts = {"pinged": 0, "failed": 0}
        for escalation in due:
            if stop is not None and stop.is_set():
                break
            level = level_reached(now - escalation.created_at, sla)
            if level <= escalation.sla_pings:
                continue
            # Late (the process was down, Slack got it late): one ping, for the highest
            # level reached, so a thread never gets a burst of them.
            result = self._ping(escalation, level, now)
            if result is not None:
                counts[result] += 1
        return counts

    def _ping(self, escalation: StoredEscalation, level: int, now: datetime) -> str | None:
        """Post ping `level`, then record it: "pinged", "failed", or None when another
        replica has it in hand.

        The outbox key is the claim. Of several replicas one posts; the others get the
        stored message (or "in progress"), and the compare-and-set records the level once.
        Killed before the post, nothing is recorded and the next tick posts; killed after
        it, the next tick gets the stored message and only records it; killed during it,
        the outbox hands the post on once its claim is stale. A failed post records
        nothing, so the next tick tries again; after MAX_POST_TRIES the level is recorded
        without a post, and the next level still comes.
        """
        escalation_id, seen = escalation.id or 0, escalation.sla_pings
        key = f"slack:sla:{escalation.request_id}:{level}"
        extra = {"request_id": escalation.request_id, "level": level}
        if out_of_tries(self.outbox, key):
            log.error("gave up an SLA re-ping Slack keeps refusing", extra=extra)
            given_up = self.escalations.advance_sla(
                escalation_id, seen, level, escalation.sla_pinged_at
            )
            return "failed" if given_up else None
        if not self._still_owed(escalation):
            return None  # claimed, closed or pinged since the batch was read
        channel, thread_ts = self._thread(escalation)
        text = sla_ping_text(
            self.config.slack.ops_usergroup, escalation.assignee, now - escalation.created_at
        )
        try:
            self.chat.post_message(
                channel,
                text,
                [],
                dedupe_key=key,
                request_id=escalation.request_id,
                thread_ts=thread_ts,
            )
        except IntegrationError as exc:
            if exc.posting_elsewhere:
                return None
            count_integration_error(exc)
            log.error("SLA re-ping NOT posted to Slack", extra={**extra, "error": exc.message})
            return "failed"
        except Exception as exc:  # any failure: log it, and let the next tick try again
            log.error("SLA re-ping NOT posted to Slack", extra={**extra, "error": repr(exc)})
            return "failed"
        if not self.escalations.advance_sla(escalation_id, seen, level, now):
            return None  # another replica recorded it, or someone claimed it meanwhile
        log.info("escalation still unclaimed: re-pinged", extra=extra)
        return "pinged"

    def _still_owed(self, escalation: StoredEscalation) -> bool:
        """Read again right before posting: a batch can take a while to post (Slack paces
        a channel at one message a second), and a person may claim meanwhile.
        """
        current = self.escalations.get_by_request(escalation.request_id)
        return (
            current is not None
            and current.claimed_at is None
            and current.resolved_at is None
            and current.sla_pings == escalation.sla_pings
        )

    def _thread(self, escalation: StoredEscalation) -> tuple[str, str | None]:
        """Where the ping goes: the escalation's thread, or for a VIP ticket in its owner's
        DM the thread of its notice in the channel, where the ops group can see it.
        """
        channel, ts = escalation.channel or "", escalation.message_ts
        if channel.startswith("D"):
            notice = self.outbox.get(f"slack:vip-notice:{escalation.request_id}")
            posted = (notice.result or {}) if notice is not None else {}
            if posted.get("channel") and posted.get("ts"):
                return str(posted["channel"]), str(posted["ts"])
        return channel, ts
