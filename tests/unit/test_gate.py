"""Unit tests of the routing gate (SPEC §3.2), one table per rule."""

from __future__ import annotations

import pytest

from bot.domain.gate import (
    GateDecision,
    GateInput,
    GateRules,
    Route,
    decide,
    group_size,
    matched_keywords,
    vip_domain_for,
)

VIP_DOMAINS = ("majorclient.com", "bigcorp.net")
KEYWORDS = ("group", "urgent", "custom", "reschedule", "custom request")
RULES = GateRules(vip_domains=VIP_DOMAINS, escalation_keywords=KEYWORDS, group_size_threshold=5)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("x@majorclient.com", "majorclient.com"),
        ("x@MajorClient.com", "majorclient.com"),
        ("X.Y@MAJORCLIENT.COM", "majorclient.com"),
        ("x@eu.majorclient.com", "majorclient.com"),
        ("x@a.b.eu.MajorClient.com", "majorclient.com"),
        ("x@majorclient.com.", "majorclient.com"),
        ("  x@majorclient.com  ", "majorclient.com"),
        ("x@bigcorp.net", "bigcorp.net"),
        ("x@labs.bigcorp.net", "bigcorp.net"),
        ("odd@name@bigcorp.net", "bigcorp.net"),
        ("x@notmajorclient.com", None),
        ("x@majorclient.com.evil.io", None),
        ("majorclient.com@gmail.com", None),
        ("x@mybigcorp.net", None),
        ("x@bigcorp.network", None),
        ("x@majorclient.co", None),
        ("x@majorclient-com.io", None),
        ("x@.majorclient.com", None),
        ("x@eu..majorclient.com", None),
        ("majorclient.com", None),
        ("@majorclient.com", None),
        ("x@", None),
        ("", None),
    ],
)
def test_vip_domain_for(email: str, expected: str | None) -> None:
    assert vip_domain_for(email, VIP_DOMAINS) == expected


def test_vip_domain_for_prefers_the_most_specific_domain() -> None:
    domains = ("majorclient.com", "eu.majorclient.com", "com")
    assert vip_domain_for("x@eu.majorclient.com", domains) == "eu.majorclient.com"
    assert vip_domain_for("x@de.eu.majorclient.com", domains) == "eu.majorclient.com"
    assert vip_domain_for("x@us.majorclient.com", domains) == "majorclient.com"
    assert vip_domain_for("x@other.com", domains) == "com"


def test_vip_domain_for_normalizes_configured_domains_and_ignores_blank_ones() -> None:
    assert vip_domain_for("x@majorclient.com", ["MajorClient.com."]) == "majorclient.com"
    assert vip_domain_for("x@majorclient.com", ["", " "]) is None
    assert vip_domain_for("x@majorclient.com", []) is None


def test_a_single_string_is_rejected_instead_of_split_into_characters() -> None:
    with pytest.raises(TypeError, match="vip_domains"):
        vip_domain_for("x@m.com", "m.com")
    with pytest.raises(TypeError, match="keywords"):
        matched_keywords("group", "group")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("group", ["group"]),
        ("GROUP", ["group"]),
        ("Group session", ["group"]),
        ("groups", ["group"]),
        ("groupes", ["group"]),
        ("grouped", ["group"]),
        ("grouping", ["group"]),
        ("urgently", ["urgent"]),
        ("customs", ["custom"]),
        ("rescheduled", ["reschedule"]),
        ("reschedules", ["reschedule"]),
        ("rescheduling", ["reschedule"]),
        ("RESCHEDULING", ["reschedule"]),
        ("group-based pricing", ["group"]),
        ("the group's plan", ["group"]),
        ("(urgent)", ["urgent"]),
        ("urgent!", ["urgent"]),
        ('"custom"', ["custom"]),
        ("URGENT: our contract renews", ["urgent"]),
        ("Groupon", []),
        ("customer", []),
        ("customized", []),
        ("insurgent", []),
        ("regroup", []),
        ("subgroups", []),
        ("group_1", []),
        ("group2", []),
        ("2group", []),
        ("groupsy", []),
        ("urgentness", []),
        ("reschedulement", []),
        ("", []),
    ],
)
def test_matched_keywords_single_words(text: str, expected: list[str]) -> None:
    assert matched_keywords(text, ("group", "urgent", "custom", "reschedule")) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a custom request", ["custom", "custom request"]),
        ("Custom   Request", ["custom", "custom request"]),
        ("custom\n\trequests", ["custom", "custom request"]),
        ("custom requesting", ["custom", "custom request"]),
        ("customer request", []),
        ("custom-request", ["custom"]),
        ("custom requester", ["custom"]),
        ("request custom", ["custom"]),
    ],
)
def test_matched_keywords_phrase(text: str, expected: list[str]) -> None:
    assert matched_keywords(text, ("custom", "custom request")) == expected


def test_matched_keywords_follow_config_order_and_report_each_keyword_once() -> None:
    text = "Urgent: reschedule our group, it's urgent, the groups are urgently waiting"
    assert matched_keywords(text, KEYWORDS) == ["group", "urgent", "reschedule"]
    assert matched_keywords(text, ("reschedule", "urgent", "group")) == [
        "reschedule",
        "urgent",
        "group",
    ]


def test_matched_keywords_lower_cases_and_deduplicates_configured_keywords() -> None:
    assert matched_keywords("an urgent group", ("Group", "URGENT", "group", " ")) == [
        "group",
        "urgent",
    ]


def test_matched_keywords_treats_regex_characters_literally() -> None:
    assert matched_keywords("we use c++ daily", ("c++",)) == ["c++"]
    assert matched_keywords("we use c daily", ("c++",)) == []
    assert matched_keywords("a.b", ("a.b",)) == ["a.b"]
    assert matched_keywords("axb", ("a.b",)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team of 12", 12),
        ("Need to book a demo for our team of 12", 12),
        ("group of 8", 8),
        ("party of 6", 6),
        ("TEAM  OF\n9", 9),
        ("12 of us", 12),
        ("8 people", 8),
        ("Demo for 8 people from procurement and IT", 8),
        ("1 person", 1),
        ("3 persons", 3),
        ("7 attendees", 7),
        ("1 attendee", 1),
        ("for 6 attendees", 6),
        ("9 participants", 9),
        ("1 participant", 1),
        ("4 guests", 4),
        ("1 guest", 1),
        ("10 colleagues", 10),
        ("1 colleague", 1),
        ("a 12-person team", 12),
        ("a 6-guest dinner", 6),
        ("team of twelve", 12),
        ("Team Of Twelve", 12),
        ("twenty people", 20),
        ("one of us", 1),
        ("three-person team", 3),
        ("999 attendees", 999),
        ("We are a group of 12.", 12),
        ("team of 12, please", 12),
        ("team of 3 and later 15 people", 15),
        ("team of 12 people", 12),
        ("(8 people)", 8),
        ("", None),
        ("hello there", None),
        ("team of", None),
        ("people", None),
        ("12", None),
        ("20 locations", None),
        ("5 offices and 3 teams", None),
        ("0 people", None),
        ("1000 people", None),
        ("someone people", None),
        ("steam of 12", None),
        ("12 of users", None),
        ("12 peoples", None),
        ("12 more people", None),
        ("twenty-one people", None),
    ],
)
def test_group_size(text: str, expected: int | None) -> None:
    assert group_size(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "call +1 212 555 0143",
        "+1 212 555 0143 people",
        "(212) 555-0143 people",
        "team of 212-555-0143",
        "team of +12",
        "12/8 people",
        "team of 12/8",
        "2026-11-26 people",
        "team of 26.11.2026",
        "$12 people",
        "€12 people",
        "£12 people",
        "$1,200 people",
        "$12.50 guests",
        "10:30 people",
        "team of 10:30",
        "3.5 people",
        "team of 3.5",
        "20% guests",
        "team of 20%",
        "12th people",
        "a12 people",
        "20 locations",
    ],
)
def test_numbers_that_are_not_group_sizes(text: str) -> None:
    assert group_size(text) is None


@pytest.mark.parametrize(
    ("notes", "expected_reasons"),
    [
        ("team of 4", ()),
        ("team of 5", ("group_size:5",)),
        ("team of four", ()),
        ("team of five", ("group_size:5",)),
        ("6 of us", ("group_size:6",)),
    ],
)
def test_group_size_threshold_boundary(notes: str, expected_reasons: tuple[str, ...]) -> None:
    decision = decide(GateInput("x@shop.example", notes, has_requested_time=True), RULES)
    assert decision.reasons == expected_reasons
    assert decision.route is (Route.REVIEW if expected_reasons else Route.AUTO)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            GateInput("x@shop.example", "Looking forward to it.", has_requested_time=True),
            GateDecision(Route.AUTO, ()),
        ),
        (
            GateInput("x@shop.example", "", has_requested_time=True),
            GateDecision(Route.AUTO, ()),
        ),
        (
            GateInput("x@shop.example", "", has_requested_time=False),
            GateDecision(Route.REVIEW, ("no_time_selected",)),
        ),
        (
            GateInput("x@majorclient.com", "", has_requested_time=True),
            GateDecision(Route.VIP, ("vip_domain:majorclient.com",)),
        ),
        (
            GateInput("x@customerfirst.io", "Our customer success lead", has_requested_time=True),
            GateDecision(Route.AUTO, ()),
        ),
        (
            GateInput("x@shop.example", "This is urgent", has_requested_time=True),
            GateDecision(Route.REVIEW, ("keyword:urgent",)),
        ),
        (
            GateInput(
                "x@shop.example",
                "URGENT: reschedule the custom request for our group of 12",
                has_requested_time=False,
            ),
            GateDecision(
                Route.REVIEW,
                (
                    "keyword:group",
                    "keyword:urgent",
                    "keyword:custom",
                    "keyword:reschedule",
                    "keyword:custom request",
                    "group_size:12",
                    "no_time_selected",
                ),
            ),
        ),
        (
            GateInput("x@eu.MajorClient.com", "urgent, team of 8", has_requested_time=False),
            GateDecision(
                Route.VIP,
                (
                    "vip_domain:majorclient.com",
                    "keyword:urgent",
                    "group_size:8",
                    "no_time_selected",
                ),
            ),
        ),
        (
            GateInput("majorclient.com@gmail.com", "", has_requested_time=True),
            GateDecision(Route.AUTO, ()),
        ),
    ],
)
def test_decide(request_: GateInput, expected: GateDecision) -> None:
    assert decide(request_, RULES) == expected


def test_decide_reports_the_configured_keyword_lower_cased() -> None:
    rules = GateRules(vip_domains=(), escalation_keywords=("URGENT",), group_size_threshold=5)
    decision = decide(GateInput("x@shop.example", "urgent", has_requested_time=True), rules)
    assert decision.reasons == ("keyword:urgent",)


def test_route_values_are_the_stored_strings() -> None:
    assert [str(route) for route in Route] == ["vip", "review", "auto"]


@pytest.mark.parametrize(
    "text",
    [
        "team of \u017fix",
        "a team of \u017feven",
        "group of f\u0131ve",
        "\u017fix people",
        "f\u0131ve of us",
    ],
)
def test_unicode_look_alikes_of_number_words_are_not_group_sizes(text: str) -> None:
    # Unicode case folding maps long s (U+017F) to "s" and dotless i (U+0131) to "i";
    # the number-word lookup once raised KeyError on them.
    assert group_size(text) is None


def test_number_words_still_match_in_any_ascii_case() -> None:
    assert group_size("TEAM OF SIX") == 6
    assert group_size("Group Of Five") == 5
