"""One reminder dispatch tick (SPEC §6, issue #5) with 100,000 reminders pending in the
table, against the same tick with only the due ones in it, in the same run.

Run it from the repository root:

    make bench                                   # also runs this
    .venv/bin/python -m bench.reminders
    .venv/bin/python -m bench.reminders --database sqlite --runs 3

What it does, on SQLite (a file in a temporary directory) and on PostgreSQL (a fresh schema
of the `test` database at the address tests/conftest.py uses, dropped afterwards; skipped
with the reason printed when it does not answer):

* seeds two databases with confirmed bookings that have a pending SMS reminder each
  (tests/integration/reminder_seed.py): the baseline holds only the `--due` reminders that
  are due now; the big one holds the same due ones plus `--pending` minus `--due` due
  tomorrow. On PostgreSQL both are ANALYZEd, as autovacuum would do after such a load;
* times `ReminderDispatcher.tick()` on each: it claims the due reminders in batches
  (`ReminderRepository.claim_due`) and sends every one through the sandbox SMS, which
  records it in the outbox, so the time is Frontdesk's own cost, with no network. After
  each run the due reminders are made pending again and the outbox emptied; the two
  databases take turns, a warm-up run first, and the median of `--runs` is reported, with
  the time spent in `claim_due` alone (the part that reads the table);
* prints both times and their ratio, which must stay near 1 (at most `TARGET_RATIO`): a
  tick's cost follows what is due, not what is pending; then the plan the database makes
  for the claim statements the tick really ran (captured from the engine), which should
  name the index `ix_reminder_status_due`.

Only 127.0.0.1 is contacted (PostgreSQL), and nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text, update

from bench._databases import (
    add_database_option,
    captured_statements,
    database_kinds,
    plan_lines,
    reachable,
    scratch_databases,
)
from bench._machine import OtherLoad, interrupt_on_sigterm, machine_summary, print_other_load
from bot.config import load_config
from bot.domain.config import Config
from bot.services.reminder_dispatch import ReminderDispatcher, TwilioCallbacks
from integrations.sandbox import SandboxChat, SandboxEmail, SandboxSms
from storage.db import Database
from storage.migrate import upgrade
from storage.models import OutboxMessage, ReminderStatus
from storage.repositories import (
    EscalationRepository,
    OptOutRepository,
    OutboxRepository,
    ReminderRepository,
)
from storage.repositories._sql import table
from storage.repositories.reminders import REMINDERS, DueReminder
from testkit.reminder_seed import seed_sms_reminders

ROOT = Path(__file__).resolve().parent.parent

CONFIG = ROOT / "examples" / "frontdesk.toml"
INDEX = "ix_reminder_status_due"
OUTBOX = table(OutboxMessage)

DEFAULT_PENDING = 100_000
DEFAULT_DUE = 1_000
DEFAULT_RUNS = 5
TARGET_RATIO = 1.5  # tick with the big table / tick with the due ones only

# Whatever the run's clock says, the due reminders are a minute late, the others due in a
# day, and every meeting two days away (so none is skipped as started).
DUE_AGO = timedelta(minutes=1)
NOT_DUE_IN = timedelta(days=1)
MEETING_IN = timedelta(days=2)


# -- the dispatcher under test -------------------------------------------------------------


class TimedReminders(ReminderRepository):
    """The real repository, adding up the time its claims take."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.claim_seconds = 0.0

    def claim_due(self, *args: Any, **kwargs: Any) -> list[DueReminder]:
        began = time.perf_counter()
        try:
            return super().claim_due(*args, **kwargs)
        finally:
            self.claim_seconds += time.perf_counter() - began


@dataclass
class Table:
    """One seeded database, its dispatcher on sandbox integrations, and its readings."""

    label: str
    db: Database
    rows: int
    due_ids: list[int]
    due_at: datetime
    reminders: TimedReminders
    dispatcher: ReminderDispatcher
    ticks: list[float] = field(default_factory=list)
    claims: list[float] = field(default_factory=list)

    @classmethod
    def seed(cls, label: str, url: str, config: Config, *, due: int, not_due: int) -> Table:
        upgrade(url)
        db = Database(url)
        now = datetime.now(UTC)
        meeting = now + MEETING_IN
        seed_sms_reminders(db, not_due, due_at=now + NOT_DUE_IN, meeting_start=meeting)
        due_ids = seed_sms_reminders(
            db, due, due_at=now - DUE_AGO, meeting_start=meeting, first=not_due
        )
        if db.is_postgres:
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        outbox = OutboxRepository(db)
        reminders = TimedReminders(db)
        dispatcher = ReminderDispatcher(
            config,
            reminders,
            OptOutRepository(db),
            EscalationRepository(db),
            SandboxSms(outbox),
            SandboxEmail(outbox),
            SandboxChat(outbox),
            callbacks=TwilioCallbacks("http://127.0.0.1:3000"),
        )
        return cls(label, db, due + not_due, due_ids, now - DUE_AGO, reminders, dispatcher)

    def reset(self) -> None:
        """The due reminders pending again, as before the first tick; the outbox empty (the
        sandbox records each message key once, so a second send would cost less)."""
        with self.db.transaction() as conn:
            conn.execute(
                update(REMINDERS)
                .where(REMINDERS.c.id.between(self.due_ids[0], self.due_ids[-1]))
                .values(
                    status=ReminderStatus.PENDING,
                    due_at=self.due_at,
                    lease_until=None,
                    attempts=0,
                    check_before_send=False,
                    provider_id=None,
                    error_code=None,
                    error_detail=None,
                    sent_at=None,
                )
            )
            conn.execute(delete(OUTBOX))

    def tick(self, *, record: bool) -> None:
        self.reset()
        self.reminders.claim_seconds = 0.0
        began = time.perf_counter()
        counts = self.dispatcher.tick()
        seconds = time.perf_counter() - began
        if counts != Counter(sent=len(self.due_ids)):
            raise RuntimeError(
                f"{self.label}: the tick did {dict(counts)}, not {len(self.due_ids)} sent"
            )
        if record:
            self.ticks.append(seconds)
            self.claims.append(self.reminders.claim_seconds)

    def close(self) -> None:
        self.db.dispose()


# -- what the database plans for the claim -------------------------------------------------


def is_claim(statement: str) -> bool:
    """A claim UPDATE: the reminders it takes are picked by a sub-select."""
    return statement.lstrip().upper().startswith("UPDATE REMINDER") and " IN (SELECT" in statement


def claim_kind(statement: str) -> str:
    """Which of the two claims: reminders due now, or claims whose lease ran out."""
    picked = statement.split(" IN (SELECT", 1)[1]
    return "due" if re.search(r"due_at\s*<=", picked) else "lease ran out"


def explain(db: Database, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        lines = plan_lines(conn, statement, parameters)
        conn.rollback()
    return lines


def print_plans(table: Table) -> bool:
    """Print the plan of each claim statement; True when the due claim uses INDEX."""
    table.reset()
    with captured_statements(table.db.engine, is_claim) as seen:
        table.dispatcher.tick()
    plans = {claim_kind(statement): (statement, parameters) for statement, parameters in seen}
    uses_index = False
    for kind in ("due", "lease ran out"):
        if kind not in plans:
            print(f"  claim of reminders {kind}: not captured")
            continue
        lines = explain(table.db, *plans[kind])
        if kind == "due":
            uses_index = any(INDEX in line for line in lines)
        print(f"  claim of reminders {kind}:")
        for line in lines:
            print(f"      {line}")
    return uses_index


# -- one database kind ---------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    kind: str
    ratio: float
    uses_index: bool


def bench(kind: str, config: Config, args: argparse.Namespace, workdir: Path) -> Result:
    with scratch_databases(kind, workdir, ["baseline", "big"]) as (baseline_url, big_url):
        began = time.perf_counter()
        baseline = Table.seed("baseline", baseline_url, config, due=args.due, not_due=0)
        big = Table.seed("big", big_url, config, due=args.due, not_due=args.pending - args.due)
        print(
            f"\n{kind}: seeded {baseline.rows:,} and {big.rows:,} reminders in "
            f"{time.perf_counter() - began:.1f} s; {args.due:,} due in each; "
            f"{args.runs} runs each after a warm-up, taking turns",
            flush=True,
        )
        try:
            for run in range(args.runs + 1):
                for table in (baseline, big):
                    table.tick(record=run > 0)
            print_table(kind, args.due, [baseline, big])
            ratio = statistics.median(big.ticks) / statistics.median(baseline.ticks)
            claim_ratio = statistics.median(big.claims) / statistics.median(baseline.claims)
            print(
                f"  ratio {big.rows:,} / {baseline.rows:,} pending: tick {ratio:.2f}x "
                f"(of the fastest runs {min(big.ticks) / min(baseline.ticks):.2f}x), "
                f"claims alone {claim_ratio:.2f}x"
            )
            print(f"  plans on the {big.rows:,}-row table:")
            uses_index = print_plans(big)
            print(f"  the claim of due reminders uses {INDEX}: {'yes' if uses_index else 'NO'}")
        finally:
            baseline.close()
            big.close()
    return Result(kind, ratio, uses_index)


# -- reporting -----------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:>9.1f}"


def print_table(kind: str, due: int, tables: list[Table]) -> None:
    print(
        f"  {'table':<10} {'reminders':>10} {'due':>6} {'tick ms':>9} {'min ms':>9} "
        f"{'max ms':>9} {'claims ms':>10} {'per due ms':>11}"
    )
    for seeded in tables:
        print(
            f"  {seeded.label:<10} {seeded.rows:>10,} {due:>6,} {_ms(seeded.ticks)} "
            f"{min(seeded.ticks) * 1000:>9.1f} {max(seeded.ticks) * 1000:>9.1f} "
            f"{_ms(seeded.claims):>10} {statistics.median(seeded.ticks) * 1000 / due:>11.3f}"
        )
    print("  (tick and claims: medians; claims = time inside claim_due, part of the tick)")


def print_verdict(results: list[Result]) -> None:
    for result in results:
        passed = result.ratio <= TARGET_RATIO and result.uses_index
        print(
            f"VERDICT {result.kind}: {'PASS' if passed else 'FAIL'} - tick ratio "
            f"{result.ratio:.2f}x (target <= {TARGET_RATIO}x), claim uses {INDEX}: "
            f"{'yes' if result.uses_index else 'NO'}"
        )


def print_caveat(load: OtherLoad, kinds: list[str]) -> None:
    postgres = "postgres" in kinds
    print(
        f"\nCaveat: {machine_summary()}. The tick runs in this process"
        + (", PostgreSQL on the same machine" if postgres else "")
        + "; read the ratio, not the milliseconds."
    )
    print_other_load(load, postgres=postgres)


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time one reminder dispatch tick with many reminders pending against one with "
            "only the due ones, on SQLite and PostgreSQL."
        ),
        epilog=f"Target: ratio <= {TARGET_RATIO}x and the claim uses {INDEX}.",
    )
    parser.add_argument(
        "--pending",
        type=int,
        default=DEFAULT_PENDING,
        help="rows in the big table; default 100,000",
    )
    parser.add_argument(
        "--due", type=int, default=DEFAULT_DUE, help="of which due now; default 1,000"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"measured ticks each; default {DEFAULT_RUNS}",
    )
    add_database_option(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.due <= args.pending:
        parser.error("--due must be between 1 and --pending")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()  # so that the schemas are dropped
    config = load_config(CONFIG)
    kinds = database_kinds(args.database)
    print(
        f"Reminder dispatch tick: {args.pending:,} reminders pending of which {args.due:,} due, "
        f"against {args.due:,} pending (all due); sandbox SMS"
    )
    load = OtherLoad.start()
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-reminders-") as workdir:
            for kind in reachable(kinds):
                results.append(bench(kind, config, args, Path(workdir)))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print()
    print_verdict(results)
    print_caveat(load, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
