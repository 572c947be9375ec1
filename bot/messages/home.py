"""The App Home tab as Block Kit (slack_sdk.models): the KPIs of the last 7 and 30 days,
the viewer's open escalations, the queue's size and every rep's calendar connection. Pure.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.reasons import PROVIDER_NAMES
from bot.messages.blocks import HEADERS, SECTION_LIMIT, escape, slack_date, truncate
from bot.messages.connections import RECONNECT_MICROSOFT
from bot.messages.crm_blocks import deal_conversion_blocks
from bot.messages.kpi_blocks import period_blocks
from bot.reports.dashboard import ConnectionState, Period, RepConnection
from bot.reports.kpis import HEALTHY_BAND_LABEL
from storage.crm_kpi_queries import RouteConversion
from storage.models import EscalationKind, StoredEscalation

TITLE = "Frontdesk"


QUEUE = "*{open}* open escalations, *{unclaimed}* not claimed yet."


KPI_NOTE = (
    "Requests received in each period, as of {as_of}. A healthy intervention rate is "
    "{band}: above it the rules send too much to people, below it too little."
)


HOME_CONVERSION_PERIOD = "last 30 days"
KPIS_UNAVAILABLE = ":warning: KPIs unavailable right now (see the logs)."


YOURS = "*Yours*"


YOURS_LINE = "• {label}: {client} — {where}"


NOTHING_FOR_YOU = "Nothing assigned to or claimed by you. :tada:"


MORE_YOURS = "… and {count} more: the escalation channel has them all."


# A line is at most ~1.2k characters (a 200-character client name, escaped, and a link),
# so packed_sections never clips one; ten sections hold well over a hundred.
MAX_YOURS_SECTIONS = 10


CONNECTIONS = "*Calendar connections*"


NO_REPS = "No reps configured."


CONNECTION_LINES = {
    ConnectionState.CONNECTED: "• :white_check_mark: {rep} — {provider}: connected",
    ConnectionState.BROKEN: "• :warning: {rep} — {provider}: *broken*: {reason}.{fix}",
    ConnectionState.NOT_CONNECTED: (
        "• :heavy_minus_sign: {rep} — {provider}: not connected yet.{fix}"
    ),
}


CONNECT_LINK = " <{url}|Connect the calendar>"


RECONNECT_LINK = " <{url}|Reconnect>"


MORE_REPS = "… and {count} more: `frontdesk check` lists them all."


MAX_CONNECTION_SECTIONS = 20  # with the rest of the tab, well inside 100 blocks


def connection_line(connection: RepConnection) -> str:
    if connection.state == ConnectionState.NOT_CONNECTED:
        fix = CONNECT_LINK.format(url=connection.connect_url) if connection.connect_url else ""
    elif connection.connect_url:
        fix = RECONNECT_LINK.format(url=connection.connect_url)
    else:
        fix = " " + RECONNECT_MICROSOFT
    return CONNECTION_LINES[connection.state].format(
        rep=escape(connection.rep_email),
        provider=PROVIDER_NAMES.get(connection.provider, connection.provider),
        reason=escape((connection.reason or "connection broken").rstrip(".")),
        fix=fix,
    )


def packed_sections(heading: str, lines: list[str], max_sections: int, more: str) -> list[Block]:
    """`lines` under `heading`, in as few sections as Slack's 3000 characters allow; what
    does not fit in `max_sections` is counted in a last line (`more`, with {count}).
    """
    budget = SECTION_LIMIT - 100  # room for the `more` line
    chunks: list[list[str]] = [[heading]]
    for index, line in enumerate(lines):
        line = truncate(line, budget // 2)
        if sum(len(text) + 1 for text in chunks[-1]) + len(line) > budget:
            if len(chunks) == max_sections:
                chunks[-1].append(more.format(count=len(lines) - index))
                break
            chunks.append([])
        chunks[-1].append(line)
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))) for chunk in chunks]


def yours_line(escalation: StoredEscalation, client: str, link: str | None) -> str:
    return YOURS_LINE.format(
        label=HEADERS.get(EscalationKind(escalation.kind), escalation.kind),
        client=escape(client),
        where=f"<{link}|open>" if link else f"`{escalation.request_id}`",
    )


def home_view(
    mine: list[tuple[StoredEscalation, str, str | None]],
    open_count: int,
    unclaimed: int,
    periods: list[Period] | None,
    connections: list[RepConnection],
    conversion: dict[str, RouteConversion] | None = None,
) -> View:
    """`mine`: (escalation, client name, permalink or None); `periods` None: the KPIs
    could not be computed, and the tab says so instead.
    """
    blocks: list[Block] = [
        HeaderBlock(text=TITLE),
        SectionBlock(
            text=MarkdownTextObject(text=QUEUE.format(open=open_count, unclaimed=unclaimed))
        ),
    ]
    if periods is None:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=KPIS_UNAVAILABLE)))
    for period in periods or []:
        blocks.append(DividerBlock())
        blocks += period_blocks(period.label, period.kpis)
    if conversion is not None:  # with a CRM: won deals per route (SPEC §12)
        blocks += deal_conversion_blocks(HOME_CONVERSION_PERIOD, conversion)
    if periods:
        as_of = slack_date(periods[0].kpis.as_of, "UTC")
        note = KPI_NOTE.format(as_of=as_of, band=HEALTHY_BAND_LABEL)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    blocks.append(DividerBlock())
    blocks += packed_sections(
        YOURS,
        [yours_line(*mine_one) for mine_one in mine] or [NOTHING_FOR_YOU],
        MAX_YOURS_SECTIONS,
        MORE_YOURS,
    )
    blocks.append(DividerBlock())
    blocks += packed_sections(
        CONNECTIONS,
        [connection_line(c) for c in connections] or [NO_REPS],
        MAX_CONNECTION_SECTIONS,
        MORE_REPS,
    )
    return View(type="home", blocks=blocks)
