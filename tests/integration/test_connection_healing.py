"""A Microsoft connection is the app's own: once an admin fixes its permission, the upkeep
job's probe heals the reps it had marked broken (Google reps heal by consenting again)."""

from __future__ import annotations

from integrations.base import Probe
from tests.integration.doubles import CalendarDouble

BRUNO, ALICE = "bruno@ourco.example", "alice@ourco.example"


class ProbedCalendar(CalendarDouble):
    """A calendar whose probe passes or fails on demand."""

    def __init__(self, inner, healthy: bool) -> None:
        super().__init__(inner)
        self.healthy = healthy
        self.probed: list[str] = []

    def probe(self, rep):
        self.probed.append(rep.email)
        return [Probe("microsoft", rep.email, "credentials", self.healthy, "")]


def test_a_broken_microsoft_rep_heals_when_its_probe_passes(make_app, sandbox_calendar) -> None:
    calendar = ProbedCalendar(sandbox_calendar, healthy=False)
    _, components = make_app(calendar=calendar)
    components.connections.mark_broken(BRUNO, "microsoft", "ErrorAccessDenied")
    components.connections.mark_broken(ALICE, "google", "invalid_grant")

    assert components.health.heal(components.integrations.calendars) == []
    assert set(components.connections.broken_reps()) == {BRUNO, ALICE}

    calendar.healthy = True
    assert components.health.heal(components.integrations.calendars) == [BRUNO]
    assert set(components.connections.broken_reps()) == {ALICE}  # Google waits for consent
    assert calendar.probed == [BRUNO, BRUNO]
