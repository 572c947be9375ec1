"""The terminal tables of `frontdesk check` and `frontdesk report`: columns line up whatever
the row says, and a reason code is printed whole."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.reports.checks import CheckRow, render_rows
from bot.reports.report import render_text
from storage.kpi_queries import AGE_LABELS, DurationStats, EscalationFigures
from tests.unit.kpi_builders import kpis


def test_check_rows_line_up_for_ok_and_fail() -> None:
    rows = [
        CheckRow("config", True, "examples/frontdesk.toml"),
        CheckRow("calendar:google alice@ourco.example", False, "403 insufficientPermissions"),
        CheckRow("database", True, "sqlite"),
    ]
    lines = render_rows(rows).splitlines()
    subjects = [line.index(row.subject) for line, row in zip(lines, rows, strict=True)]
    details = [line.index(row.detail) for line, row in zip(lines, rows, strict=True)]
    assert len(set(subjects)) == 1 and len(set(details)) == 1
    assert lines[1].startswith("FAIL") and lines[0].startswith("ok ")


def test_a_multi_line_detail_stays_in_its_column() -> None:
    lines = render_rows([CheckRow("slack:token", False, "refused\nset SLACK_BOT_TOKEN")]).split(
        "\n"
    )
    assert lines[1].index("set SLACK_BOT_TOKEN") == lines[0].index("refused")


def _figures(count: int) -> EscalationFigures:
    stats = DurationStats(count=count, open=0, p50=600.0, p90=600.0, max=600.0)
    empty = (0,) * len(AGE_LABELS)
    return EscalationFigures(count, stats, stats, 0, 0, 0, empty, empty)


def test_report_prints_long_reason_codes_whole_and_aligned() -> None:
    long_code = "api_error:google:403:insufficientPermissions"
    other = "api_error:microsoft:403:ErrorAccessDenied:mailbox"
    text = render_text(
        kpis(
            8,
            review=2,
            escalations={"reason:" + long_code: _figures(1), "reason:" + other: _figures(1)},
        ),
        ZoneInfo("America/New_York"),
    )
    table = text.split("reason code", 1)[1].splitlines()[1:]
    assert [line.split()[0] for line in table] == [long_code, other]
    assert len({line.index(" 1 ") for line in table}) == 1  # the count column lines up
