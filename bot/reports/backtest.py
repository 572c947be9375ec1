"""Replay the gate over historical requests without side effects (`frontdesk backtest`).

This is how ops tune VIP lists and keywords: the predicted intervention rate under the
current rules, the reasons that drive it, and which requests another config would route
differently. Only the gate is replayed: busy slots and API failures depend on calendars
at the time and cannot be predicted from history.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain.gate import GateDecision, GateInput, GateRules, Route, decide


@dataclass(frozen=True)
class RouteChange:
    submission_id: str
    before: GateDecision
    after: GateDecision


@dataclass
class BacktestResult:
    total: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    changes: list[RouteChange] = field(default_factory=list)
    invalid_lines: list[int] = field(default_factory=list)

    @property
    def intervention_rate(self) -> float:
        escalated = self.routes[Route.VIP] + self.routes[Route.REVIEW]
        return escalated / self.total if self.total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "predicted_human_intervention_rate": round(self.intervention_rate, 4),
            "routes": dict(self.routes),
            "reasons": dict(self.reasons.most_common()),
            "invalid_lines": self.invalid_lines,
            "changes": [
                {
                    "submission_id": change.submission_id,
                    "before": {"route": change.before.route, "reasons": change.before.reasons},
                    "after": {"route": change.after.route, "reasons": change.after.reasons},
                }
                for change in self.changes
            ],
        }


def gate_input(row: dict[str, Any]) -> GateInput:
    return GateInput(
        email=str(row["email"]),
        notes=str(row.get("notes") or ""),
        has_requested_time=bool(row.get("requested_start")),
    )


def backtest(path: Path, rules: GateRules, against: GateRules | None = None) -> BacktestResult:
    result = BacktestResult()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                request = gate_input(row)
            except (json.JSONDecodeError, KeyError, TypeError):
                result.invalid_lines.append(number)
                continue
            decision = decide(request, rules)
            result.total += 1
            result.routes[decision.route] += 1
            result.reasons.update(decision.reasons)
            if against is not None:
                other = decide(request, against)
                if other.route != decision.route:
                    submission = str(row.get("submission_id") or f"line {number}")
                    result.changes.append(RouteChange(submission, decision, other))
    return result


def render(result: BacktestResult) -> str:
    lines = [
        f"requests: {result.total}",
        f"predicted human intervention rate: {result.intervention_rate:.1%} "
        "(gate only; busy slots and API failures add to it)",
        "",
        "route      count  share",
    ]
    for route in Route:
        count = result.routes[route]
        share = count / result.total if result.total else 0.0
        lines.append(f"{route.value:<9} {count:>6}  {share:6.1%}")
    lines += ["", "reason                         count"]
    lines += [f"{reason:<30} {count:>6}" for reason, count in result.reasons.most_common()]
    if result.invalid_lines:
        lines += ["", f"skipped unreadable lines: {result.invalid_lines[:20]}"]
    return "\n".join(lines)


def render_changes(result: BacktestResult) -> str:
    if not result.changes:
        return "no request would change route"
    lines = [f"{len(result.changes)} requests would change route:"]
    for change in result.changes:
        before = f"{change.before.route.value} ({', '.join(change.before.reasons) or '-'})"
        after = f"{change.after.route.value} ({', '.join(change.after.reasons) or '-'})"
        lines.append(f"  {change.submission_id}: {before} -> {after}")
    return "\n".join(lines)
