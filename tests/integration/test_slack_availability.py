"""`/availability` (SPEC §4) through real HTTP: a signed slash command at /slack/events is
acked at once, and the answer arrives ephemerally at the command's response_url (served by
the fake Slack), in the caller's zone as Slack's users.info gives it. Calendars are the
example config's sandbox ones; the clock is Monday 23 Nov 2026, 15:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.availability_query import AVAILABILITY_USAGE, BARE_NUMBER
from bot.services.availability_lookup import NOT_A_REP, SKIPPED_REPS
from storage.migrate import upgrade
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import BOT_TOKEN
from tests.conftest import FixedClock
from tests.slack_requests import SlackHarness, slack_config, wait_for

# The database plays no part in reading calendars: SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")  # not a rep
# Alice is a rep working New York hours, but her Slack profile says Los Angeles: her own
# lookup is shown in Pacific time.
ALICE = FakeUser("U0ALICE", "alice@ourco.example", tz="America/Los_Angeles")


@pytest.fixture
def slack(database_url: str, clock: FixedClock) -> Iterator[SlackHarness]:
    upgrade(database_url)
    with FakeSlack(token=BOT_TOKEN, users=[OMAR, ALICE]) as fake:
        harness = SlackHarness.start(database_url, slack_config(), fake, clock)
        try:
            yield harness
        finally:
            harness.close()


def ask(slack: SlackHarness, user: FakeUser, text: str) -> dict[str, Any]:
    """Run the command; the one reply posted to its response_url."""
    response_id = f"cmd-{user.id}-{len(slack.fake.responses())}"
    acked = slack.command(user.id, text, response_id)
    assert acked.content in (b"", b"null")  # an empty ack: no visible echo in the channel
    [reply] = wait_for(lambda: slack.fake.responses(response_id), what="the command's reply")
    assert reply["response_type"] == "ephemeral"
    return reply


def lines(reply: dict[str, Any]) -> list[str]:
    return str(reply["text"]).splitlines()


@pytest.mark.parametrize("text", ["45", "next month", "tomorrow today"])
def test_bad_arguments_get_the_usage_line(slack: SlackHarness, text: str) -> None:
    reply = ask(slack, OMAR, text)

    assert lines(reply)[-1] == AVAILABILITY_USAGE
    assert len(lines(reply)) == 2  # what was wrong, then how to ask


def test_the_problem_names_the_token(slack: SlackHarness) -> None:
    reply = ask(slack, OMAR, "45")

    assert lines(reply)[0] == BARE_NUMBER.format(token="45")


def test_a_named_rep_is_shown_one_line_per_day_in_the_callers_zone(slack: SlackHarness) -> None:
    reply = ask(slack, OMAR, "<@U0ALICE|alice> tomorrow")

    # Alice works 09:00-17:00 New York = 14:00-22:00 London; room-2 is busy 12:00-13:00 New
    # York (17:00-18:00 here), with 10 minutes of buffer around it.
    assert lines(reply) == [
        "*Free 30-minute slots of alice@ourco.example* (GMT)",
        "*Tue 24 Nov*: 2:00 PM, 2:30 PM, 3:00 PM, 3:30 PM, 4:00 PM, 6:30 PM, 7:00 PM, "
        "7:30 PM, \N{HORIZONTAL ELLIPSIS} (+4 more)",
    ]
    assert [c.params["user"] for c in slack.fake.calls("users.info")] == [OMAR.id]


def test_a_rep_asking_for_themselves_gets_five_working_days_in_their_slack_zone(
    slack: SlackHarness,
) -> None:
    reply = ask(slack, ALICE, "")

    title, *days = lines(reply)
    assert title == "*Free 30-minute slots of alice@ourco.example* (PST)"
    labels = [day.split(":", 1)[0] for day in days]
    assert labels == [
        "*Mon 23 Nov*",
        "*Tue 24 Nov*",
        "*Wed 25 Nov*",
        "*Thu 26 Nov*",
        "*Fri 27 Nov*",
    ]
    assert days[1].startswith("*Tue 24 Nov*: 6:00 AM, 6:30 AM")  # 09:00 in New York


def test_a_caller_who_is_no_rep_and_names_nobody_gets_the_teams_slots(
    slack: SlackHarness,
) -> None:
    reply = ask(slack, OMAR, "tomorrow 60m")

    title, day, skipped = lines(reply)
    assert title == "*The team's free 60-minute slots* (GMT)"
    # Bruno's Berlin day starts at 08:30 CET, 07:30 in London: the team's earliest slot.
    assert day.startswith("*Tue 24 Nov*: 7:30 AM, 8:00 AM")
    assert skipped == SKIPPED_REPS.format(reps="dmitri@ourco.example")  # broken calendar


def test_naming_someone_who_is_no_rep_says_who_the_reps_are(slack: SlackHarness) -> None:
    reply = ask(slack, ALICE, "<@U0OMAR|omar>")

    reps = "alice@ourco.example, bruno@ourco.example, chen@ourco.example, dmitri@ourco.example"
    assert reply["text"] == NOT_A_REP.format(who="<@U0OMAR>", reps=reps)


def test_a_rep_without_a_slack_id_in_the_config_is_found_by_their_slack_email(
    database_url: str, clock: FixedClock
) -> None:
    import tomllib

    from tests.conftest import EXAMPLE_CONFIG

    reps = tomllib.loads(EXAMPLE_CONFIG.read_text())["reps"]
    for rep in reps:
        rep.pop("slack_id", None)  # slack_id is optional: the email ties Slack to the rep
    upgrade(database_url)
    with FakeSlack(token=BOT_TOKEN, users=[OMAR, ALICE]) as fake:
        slack = SlackHarness.start(database_url, slack_config(reps=reps), fake, clock)
        try:
            mine = ask(slack, ALICE, "tomorrow")
            named = ask(slack, OMAR, "<@U0ALICE|alice> tomorrow")
        finally:
            slack.close()

    assert lines(mine)[0] == "*Free 30-minute slots of alice@ourco.example* (PST)"
    assert lines(named)[0] == "*Free 30-minute slots of alice@ourco.example* (GMT)"


def test_a_failing_command_explains_itself_at_its_response_url(slack: SlackHarness) -> None:
    # A slash command may be typed in a channel the bot is not in, where an ephemeral
    # chat.postEphemeral would fail: the failure is told through the command's response_url.
    from handlers.slack_context import tell_user
    from testkit.slack_payloads import slash_command

    body = slash_command(
        ALICE.id, "/availability", "", response_url=slack.fake.response_url("crashed")
    )

    tell_user(slack.components.integrations.chat, body, RuntimeError("boom"))

    [reply] = slack.fake.responses("crashed")
    assert reply["response_type"] == "ephemeral"
    assert "RuntimeError" in reply["text"]
    assert slack.fake.calls("chat.postEphemeral") == []
