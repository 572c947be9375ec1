"""Pure Block Kit builders (slack_sdk.models) for KPI summaries: a period's figures for the
Home tab, and the weekly digest with its week-over-week change. Times and rates are the
short strings of bot/report.py; "-" stands for a figure the period has nothing for.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.messages.blocks import FIELD_LIMIT, escape, truncate
from bot.reports.kpis import HEALTHY_BAND_LABEL, NO_REQUESTS, TOO_PERMISSIVE, TOO_RESTRICTIVE, Kpis
from bot.reports.report import duration, percent

VERDICT_EMOJI = {
    TOO_RESTRICTIVE: ":large_orange_circle:",
    TOO_PERMISSIVE: ":large_yellow_circle:",
    NO_REQUESTS: ":white_circle:",
}
HEALTHY_EMOJI = ":large_green_circle:"
OUTSIDE_BAND = (TOO_RESTRICTIVE, TOO_PERMISSIVE)

RATE_FIELD = "*Intervention rate*\n{emoji} {rate} — {verdict}"
REQUESTS_FIELD = "*Requests*\n{requests} finished, {escalated} escalated"
IN_PROGRESS = " ({count} in progress)"
CLAIM_FIELD = "*Time to claim*\np50 {p50} · p90 {p90}"
RESOLUTION_FIELD = "*Time to resolution*\np50 {p50} · p90 {p90} ({open} still open)"
NO_SHOW_FIELD = "*No-show rate*\nauto-booked {auto} · human-handled {human}"
VIP_FIELD = "*VIP conversion*\n{rate} ({booked} of {escalated} booked)"
SLA_FIELD = "*SLA breaches*\n{breaches} of {escalations} (claimed after {minutes} min)"
CHANGES_FIELD = "*Client changes*\n{cancellations} cancelled · {reschedules} rescheduled{detail}"
CHANGES_DETAIL = " (auto-booked {auto_cancelled} · {auto_moved})"
DRIVERS_HEADING = "*What drives it*"
DRIVER_LINE = "• `{reason}`: {escalations} ({share} of requests) — {advice}"

DIGEST_HEADER = "Frontdesk weekly digest"
DIGEST_PERIOD = (
    "Requests received {first} to {last} ({zone}), against the week before. Healthy band {band}."
)
DIGEST_RATE = "{emoji} Human intervention rate *{rate}*{change} — *{verdict}*\n{summary}"
DIGEST_ESCALATIONS = "*Escalations*\n{escalated} of {requests} requests{change}"
DIGEST_CLAIM = "*Time to claim*\np50 {p50}{p50_change} · p90 {p90}{p90_change}"
DIGEST_RESOLUTION = "*Time to resolution*\np50 {p50}{change}, {open} still open"
DIGEST_SLA = "*SLA breaches*\n{breaches}{change} of {escalations}"
DIGEST_TEXT = (
    "Frontdesk weekly digest ({first} to {last}): human intervention rate {rate}{change}, "
    "{verdict}. {escalated} escalations; time to claim p50 {claim}; SLA breaches {breaches}."
)
RATE_CHANGE = "({points} vs {before} the week before)"
NO_EARLIER_RATE = "(no requests the week before)"
NO_CHANGE = "±0"


def verdict_emoji(words: str) -> str:
    return VERDICT_EMOJI.get(words, HEALTHY_EMOJI)


def _field(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, FIELD_LIMIT))


def _outcome_fields(kpis: Kpis) -> list[str]:
    """Whether meetings happen and VIPs convert: the same two fields in both summaries."""
    vip = kpis.route("vip")
    return [
        NO_SHOW_FIELD.format(
            auto=percent(kpis.meeting("auto").no_show_rate),
            human=percent(kpis.meeting("human").no_show_rate),
        ),
        VIP_FIELD.format(
            rate=percent(kpis.vip_conversion, 0), booked=vip.booked, escalated=vip.escalations
        ),
    ]


def changes_field(kpis: Kpis) -> str:
    """What clients changed through their manage link, and how much of it was auto-booked."""
    cancelled, moved = sum(kpis.cancellations.values()), sum(kpis.reschedules.values())
    detail = (
        CHANGES_DETAIL.format(
            auto_cancelled=kpis.cancellations.get("auto", 0),
            auto_moved=kpis.reschedules.get("auto", 0),
        )
        if cancelled or moved
        else ""
    )
    return CHANGES_FIELD.format(cancellations=cancelled, reschedules=moved, detail=detail)


def _drivers(kpis: Kpis) -> SectionBlock | None:
    """The reason codes behind a rate outside the healthy band, with what to change."""
    verdict = kpis.verdict
    if verdict.words not in OUTSIDE_BAND or not verdict.drivers:
        return None
    lines = [
        DRIVER_LINE.format(
            reason=escape(driver.reason),
            escalations=driver.escalations,
            share=percent(driver.share),
            advice=escape(driver.advice),
        )
        for driver in verdict.drivers
    ]
    return SectionBlock(
        text=MarkdownTextObject(text=truncate("\n".join([DRIVERS_HEADING, *lines])))
    )


def period_blocks(label: str, kpis: Kpis) -> list[Block]:
    """One period's KPIs (the Home tab shows two): a section of fields, and the driving
    reason codes when the intervention rate is outside the healthy band.
    """
    overall = kpis.overall
    requests = REQUESTS_FIELD.format(requests=kpis.requests, escalated=kpis.escalated)
    if kpis.in_progress:
        requests += IN_PROGRESS.format(count=kpis.in_progress)
    fields = [
        RATE_FIELD.format(
            emoji=verdict_emoji(kpis.verdict.words),
            rate=percent(kpis.rate),
            verdict=kpis.verdict.words,
        ),
        requests,
        CLAIM_FIELD.format(p50=duration(overall.to_claim.p50), p90=duration(overall.to_claim.p90)),
        RESOLUTION_FIELD.format(
            p50=duration(overall.to_resolution.p50),
            p90=duration(overall.to_resolution.p90),
            open=overall.to_resolution.open,
        ),
        *_outcome_fields(kpis),
        SLA_FIELD.format(
            breaches=overall.sla_breaches,
            escalations=overall.escalations,
            minutes=kpis.sla_minutes,
        ),
        changes_field(kpis),
    ]
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=f"*{escape(label)}*"),
            fields=[_field(text) for text in fields],
        )
    ]
    drivers = _drivers(kpis)
    if drivers is not None:
        blocks.append(drivers)
    return blocks


# ------------------------------------------------------------------ week over week


def points_change(rate: float | None, before: float | None) -> str:
    """The change of a rate in percentage points: "+2.5 pts"; "" without both rates."""
    if rate is None or before is None:
        return ""
    return f"{(rate - before) * 100:+.1f} pts"


def count_change(count: int, before: int) -> str:
    """ " (+2)", " (-1)", " (±0)": appended to the figure it qualifies."""
    delta = count - before
    return f" ({'+' if delta > 0 else '-'}{abs(delta)})" if delta else f" ({NO_CHANGE})"


def duration_change(seconds: float | None, before: float | None) -> str:
    """ " (+5 min)", " (-1.5 h)", " (±0)"; "" when either week has no figure."""
    if seconds is None or before is None:
        return ""
    delta = seconds - before
    if delta == 0:
        return f" ({NO_CHANGE})"
    return f" ({'+' if delta > 0 else '-'}{duration(abs(delta))})"


def _rate_change(week: Kpis, before: Kpis) -> str:
    if before.rate is None:
        return " " + NO_EARLIER_RATE
    if week.rate is None:
        return ""
    return " " + RATE_CHANGE.format(
        points=points_change(week.rate, before.rate), before=percent(before.rate)
    )


def _days(kpis: Kpis, zone: ZoneInfo) -> tuple[str, str]:
    first = kpis.since.astimezone(zone)
    last = kpis.until.astimezone(zone) - timedelta(days=1)
    return f"{first:%a} {first.day} {first:%b}", f"{last:%a} {last.day} {last:%b %Y}"


def digest_text(week: Kpis, before: Kpis, zone: ZoneInfo) -> str:
    """The notification fallback: the rate, its change and the verdict in one line."""
    first, last = _days(week, zone)
    return DIGEST_TEXT.format(
        first=first,
        last=last,
        rate=percent(week.rate),
        change=_rate_change(week, before),
        verdict=week.verdict.words,
        escalated=week.escalated,
        claim=duration(week.overall.to_claim.p50),
        breaches=week.overall.sla_breaches,
    )


def digest_blocks(week: Kpis, before: Kpis, zone: ZoneInfo) -> list[Block]:
    """Last week's KPIs against the week before: the rate and its verdict, what drives it
    when it is outside the band, and the figures people act on, each with its change.
    """
    first, last = _days(week, zone)
    now, then = week.overall, before.overall
    fields = [
        DIGEST_ESCALATIONS.format(
            escalated=week.escalated,
            requests=week.requests,
            change=count_change(week.escalated, before.escalated),
        ),
        DIGEST_CLAIM.format(
            p50=duration(now.to_claim.p50),
            p50_change=duration_change(now.to_claim.p50, then.to_claim.p50),
            p90=duration(now.to_claim.p90),
            p90_change=duration_change(now.to_claim.p90, then.to_claim.p90),
        ),
        DIGEST_RESOLUTION.format(
            p50=duration(now.to_resolution.p50),
            change=duration_change(now.to_resolution.p50, then.to_resolution.p50),
            open=now.to_resolution.open,
        ),
        DIGEST_SLA.format(
            breaches=now.sla_breaches,
            escalations=now.escalations,
            change=count_change(now.sla_breaches, then.sla_breaches),
        ),
        *_outcome_fields(week),
        changes_field(week),
    ]
    rate = DIGEST_RATE.format(
        emoji=verdict_emoji(week.verdict.words),
        rate=percent(week.rate),
        change=_rate_change(week, before),
        verdict=week.verdict.words,
        summary=escape(week.verdict.summary),
    )
    blocks: list[Block] = [
        HeaderBlock(text=DIGEST_HEADER),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=DIGEST_PERIOD.format(
                        first=first, last=last, zone=zone.key, band=HEALTHY_BAND_LABEL
                    )
                )
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text=truncate(rate))),
    ]
    drivers = _drivers(week)
    if drivers is not None:
        blocks.append(drivers)
    blocks.append(SectionBlock(fields=[_field(text) for text in fields]))
    return blocks
