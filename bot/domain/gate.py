"""Routing rules for incoming booking requests (SPEC §3.2): VIP, manual review or automated.
Pure functions over plain values: no I/O, no settings, no other project modules."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Route(StrEnum):
    VIP = "vip"
    REVIEW = "review"
    AUTO = "auto"


@dataclass(frozen=True)
class GateRules:
    vip_domains: tuple[str, ...]
    escalation_keywords: tuple[str, ...]
    group_size_threshold: int


@dataclass(frozen=True)
class GateInput:
    email: str
    notes: str
    has_requested_time: bool


@dataclass(frozen=True)
class GateDecision:
    route: Route
    reasons: tuple[str, ...]


def _require_collection(values: Iterable[str], name: str) -> tuple[str, ...]:
    # A bare string is iterable too, and would silently become one rule per character.
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of strings, not the single string {values!r}")
    return tuple(values)


def _normalize_domain(domain: str) -> str:
    return domain.strip().lower().removesuffix(".")


def vip_domain_for(email: str, vip_domains: Iterable[str]) -> str | None:
    """The most specific VIP domain the email's domain equals or is a true subdomain of."""
    configured = _require_collection(vip_domains, "vip_domains")
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return None
    domain = _normalize_domain(domain)
    # Empty labels ("x@.majorclient.com", "x@a..majorclient.com") are not real subdomains.
    if not domain or "" in domain.split("."):
        return None
    best: str | None = None
    for vip in map(_normalize_domain, configured):
        if not vip:
            continue
        if (domain == vip or domain.endswith("." + vip)) and (best is None or len(vip) > len(best)):
            best = vip
    return best


_SUFFIXES = ("s", "es", "d", "ed", "ing", "ly")
_E_DROP_SUFFIXES = ("ing", "ed")
# Lookarounds rather than \b so that a keyword starting or ending in punctuation still works.
_WORD_START = r"(?<!\w)"
_WORD_END = r"(?!\w)"


def _normalize_keyword(keyword: str) -> str:
    return " ".join(keyword.split()).lower()


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    *head, last = keyword.split(" ")
    forms = [re.escape(last) + "(?:" + "|".join(_SUFFIXES) + ")?"]
    if last.endswith("e") and len(last) > 1:
        # "reschedule" -> "rescheduling", "rescheduled"
        forms.append(re.escape(last[:-1]) + "(?:" + "|".join(_E_DROP_SUFFIXES) + ")")
    words = [re.escape(word) for word in head] + ["(?:" + "|".join(forms) + ")"]
    return re.compile(_WORD_START + r"\s+".join(words) + _WORD_END, re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _keyword_patterns(keywords: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    patterns: dict[str, re.Pattern[str]] = {}
    for keyword in map(_normalize_keyword, keywords):
        # A blank keyword would match every text; duplicates would repeat a reason.
        if keyword and keyword not in patterns:
            patterns[keyword] = _keyword_pattern(keyword)
    return tuple(patterns.items())


def matched_keywords(text: str, keywords: Iterable[str]) -> list[str]:
    """The configured keywords (lower-cased) found in text as whole words, in config order."""
    configured = _require_collection(keywords, "keywords")
    return [keyword for keyword, pattern in _keyword_patterns(configured) if pattern.search(text)]


# fmt: off
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        (
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
            "eighteen", "nineteen", "twenty",
        ),
        start=1,
    )
}
# fmt: on

# Guards keep phone numbers, dates, times, prices, decimals and percentages out:
# "+1 212", "$12", "12/8", "10:30", "3.5", "1,200", "20%", "555-0143", "2026-11-26".
# A "." "," or ":" after the number only disqualifies it when a digit follows, so a
# sentence may still end right after it ("a team of 12."); "-" likewise ("12-person").
_DIGIT_NUMBER = r"(?<![\w+$€£.,/:])(?<!\d-)[1-9][0-9]{0,2}(?![\w/%])(?![.,:]\d)(?!-\d)"
# ASCII-only case folding for the number words: under Unicode IGNORECASE a long s (U+017F)
# matches "s" and a dotless i (U+0131) "i", and such a look-alike is no number word.
_WORD_NUMBER = r"(?<![\w-])(?a:" + "|".join(_NUMBER_WORDS) + r")(?!\w)"
_NUMBER = rf"(?P<number>{_DIGIT_NUMBER}|{_WORD_NUMBER})"
_PEOPLE = r"(?:people|persons?|attendees?|participants?|guests?|colleagues?)(?!\w)"
# Separate patterns so that overlapping phrases ("team of 12 people") are all seen.
_GROUP_SIZE_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"(?<!\w)(?:team|group|party)\s+of\s+{_NUMBER}",
        rf"{_NUMBER}\s+of\s+us(?!\w)",
        rf"{_NUMBER}(?:\s+|-){_PEOPLE}",
    )
)


def _number_value(token: str) -> int:
    # The digit pattern is [0-9] only, and the word pattern folds ASCII case only, so the
    # token is ASCII digits or an ASCII-lower-cased number word.
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def group_size(text: str) -> int | None:
    """The largest group size the text states ("team of 12", "8 people"), or None."""
    sizes = [
        _number_value(match["number"])
        for pattern in _GROUP_SIZE_PATTERNS
        for match in pattern.finditer(text)
    ]
    return max(sizes, default=None)


def decide(request: GateInput, rules: GateRules) -> GateDecision:
    """Route a request; reasons are ordered vip, keywords (config order), group size, no time."""
    reasons: list[str] = []
    vip = vip_domain_for(request.email, rules.vip_domains)
    if vip is not None:
        reasons.append(f"vip_domain:{vip}")
    reasons.extend(
        f"keyword:{keyword}"
        for keyword in matched_keywords(request.notes, rules.escalation_keywords)
    )
    size = group_size(request.notes)
    if size is not None and size >= rules.group_size_threshold:
        reasons.append(f"group_size:{size}")
    if not request.has_requested_time:
        reasons.append("no_time_selected")

    if vip is not None:
        route = Route.VIP
    elif reasons:
        route = Route.REVIEW
    else:
        route = Route.AUTO
    return GateDecision(route=route, reasons=tuple(reasons))
