"""Reps' calendar connections going bad: mark them broken, alert the escalation channel
once, and let the booking path send those reps' requests to people until they reconnect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from bot.domain.config import Config, Rep
from bot.domain.reasons import PROVIDER_NAMES
from bot.messages.connections import BROKEN_ALERT, RECONNECT_GOOGLE, RECONNECT_MICROSOFT
from integrations.base import CalendarProvider, Chat, ConnectionBrokenError
from integrations.credentials import PublicUrlSettings
from storage.repositories import ConnectionRepository

log = logging.getLogger("frontdesk.connections")

# How long another replica's marking or healing may go unseen by this one's bookings.
BROKEN_CACHE_SECONDS = 2.0


def broken_reason_code(rep: Rep) -> str:
    return f"connection_broken:{rep.provider}:{rep.email}"


class ConnectionHealth:
    def __init__(
        self,
        settings: PublicUrlSettings,
        config: Config,
        connections: ConnectionRepository,
        chat: Chat,
    ) -> None:
        self.settings = settings
        self.config = config
        self.connections = connections
        self.chat = chat
        self._broken: tuple[int, float, dict[str, str]] | None = None

    def broken_reps(self) -> dict[str, str]:
        """Reps whose connection is broken: read on every booking, so remembered for
        BROKEN_CACHE_SECONDS. A change made in this process (through the repository)
        is seen at once; one made by another replica within that time.
        """
        now = time.monotonic()
        cached = self._broken
        if cached is not None and cached[0] == self.connections.version and now < cached[1]:
            return dict(cached[2])
        version = self.connections.version  # before the read: a write meanwhile voids it
        broken = self.connections.broken_reps()
        self._broken = (version, now + BROKEN_CACHE_SECONDS, broken)
        return dict(broken)

    def heal(self, calendars: Mapping[str, CalendarProvider]) -> list[str]:
        """Probe the broken connections nobody reconnects by hand (Microsoft's is the app's
        own: an admin grants the permission) and heal those whose probes all pass now.
        Google reps heal by consenting again (the OAuth callback).
        """
        healed = []
        for email in self.connections.broken_reps():
            rep = self.config.rep(email)
            if rep is None or rep.provider == "google":
                continue
            if all(probe.ok for probe in calendars[rep.provider].probe(rep)):
                self.connections.save_connected(
                    rep.email, rep.provider, refresh_token=None, scopes=[]
                )
                log.warning("calendar connection works again", extra={"rep": rep.email})
                healed.append(rep.email)
        return healed

    def record_broken(self, rep: Rep, error: ConnectionBrokenError) -> None:
        """Mark the rep's connection broken; only the call that broke it alerts Slack."""
        if not self.connections.mark_broken(
            rep.email, rep.provider, error.message, connected_at=error.connected_at
        ):
            return
        log.error(
            "calendar connection broken; the rep's requests go to review until reconnected",
            extra={"rep": rep.email, "provider": rep.provider, "error": error.message},
        )
        fix = (
            RECONNECT_GOOGLE.format(
                url=self.settings.frontdesk_public_url.rstrip("/"), rep=rep.email
            )
            if rep.provider == "google"
            else RECONNECT_MICROSOFT
        )
        text = BROKEN_ALERT.format(
            provider=PROVIDER_NAMES.get(rep.provider, rep.provider),
            rep=rep.email,
            error=error.message,
            fix=fix,
        )
        connection = self.connections.get(rep.email, rep.provider)
        broken_at = (
            int(connection.broken_at.timestamp()) if connection and connection.broken_at else 0
        )
        try:
            self.chat.post_message(
                self.config.slack.escalation_channel,
                text,
                [],
                dedupe_key=f"slack:connection-broken:{rep.provider}:{rep.email}:{broken_at}",
            )
        except Exception as exc:  # the break is stored and shown by `frontdesk check`
            log.error(
                "could not alert Slack about a broken connection",
                extra={"rep": rep.email, "error": repr(exc)},
            )
            return
        self.connections.mark_alerted(rep.email, rep.provider)
