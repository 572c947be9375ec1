"""Block Kit and mrkdwn to HTML for the sandbox page: formatted as Slack shows it, dates in
the given zone, mentions by name, and nothing in a message can put markup of its own on
the page."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from bot.messages import slack_render
from bot.messages.slack_render import RenderContext, format_slack_date, mrkdwn

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
NAMES = {"U0ALICE": "alice", "S0OPS": "ops", "C0ESCALATE": "escalations"}
CONTEXT = RenderContext(zone=ZoneInfo("America/New_York"), names=NAMES)
ALLOWED_TAGS = {
    "a", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "div", "span",
    "br", "time", "button", "hr", "img",
}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def render(text: str) -> str:
    return str(mrkdwn(text, CONTEXT, now=NOW))


def test_bold_italics_strike_and_code() -> None:
    html = render("*Client* is _very_ ~late~ with `code <b>` and snake_case_name")
    assert "<strong>Client</strong>" in html
    assert "<em>very</em>" in html and "<s>late</s>" in html
    assert "<code>code &lt;b&gt;</code>" in html
    assert "snake_case_name" in html and html.count("<em>") == 1


def test_code_block_keeps_its_lines_and_formatting_marks() -> None:
    html = render("before\n```*not bold*\nline two```")
    assert "<pre>*not bold*\nline two</pre>" in html


def test_quotes_and_lists() -> None:
    html = render("*Notes*\n>Need a demo\n&gt;for twelve\n• one\n• two\n1. first")
    assert "<blockquote>Need a demo<br>for twelve</blockquote>" in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert "<ol><li>first</li></ol>" in html


def test_links_keep_their_label_and_only_safe_targets() -> None:
    html = render("<https://example.com/a?b=1&amp;c=2|the docs> and <mailto:x@y.example>")
    tags = parse(html).tags
    links = [attrs["href"] for tag, attrs in tags if tag == "a"]
    assert links == ["https://example.com/a?b=1&c=2", "mailto:x@y.example"]
    assert ">the docs</a>" in html and ">x@y.example</a>" in html
    hostile = render("<javascript:alert(1)|click me>")
    assert "href" not in hostile and "click me" in hostile


def test_dates_in_the_given_zone_with_the_fallback_kept() -> None:
    token = "<!date^1796911200^{date_short_pretty} {time}|Thu 10 Dec 2026 19:30 IST>"
    html = render(token)
    ((_, attrs),) = [(t, a) for t, a in parse(html).tags if t == "time"]
    assert attrs["data-ts"] == "1796911200"
    assert attrs["title"] == "Thu 10 Dec 2026 19:30 IST"
    assert attrs["datetime"] == "2026-12-10T14:00:00Z"
    assert ">Dec 10, 2026 9:00 AM</time>" in html  # 14:00 UTC is 09:00 in New York
    kolkata = RenderContext(zone=ZoneInfo("Asia/Kolkata"))
    assert "Dec 10, 2026 7:30 PM" in str(mrkdwn(token, kolkata, now=NOW))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{date_num}", "2026-12-06"),
        ("{date}", "December 6th, 2026"),
        ("{date_long}", "Sunday, December 6th, 2026"),
        ("{date_pretty} at {time}", "Today at 9:30 AM"),
        ("{date_short_pretty}", "Today"),
        ("{time_secs}", "9:30:00 AM"),
        ("{unknown}", "{unknown}"),
    ],
)
def test_slack_date_templates(template: str, expected: str) -> None:
    at = int(datetime(2026, 12, 6, 14, 30, tzinfo=UTC).timestamp())
    assert format_slack_date(at, template, ZoneInfo("America/New_York"), NOW) == expected


def test_a_broken_date_token_shows_its_fallback() -> None:
    assert "when it suits" in render("<!date^soon^{date}|when it suits>")


def test_mentions_use_the_stand_in_names() -> None:
    html = render("<@U0ALICE> claimed it; <!subteam^S0OPS> see <#C0ESCALATE> <!here> <@U0NOBODY>")
    texts = "".join(parse(html).text)
    assert "@alice claimed it" in texts
    assert "@ops see #escalations @here @U0NOBODY" in texts


def test_emoji_names_become_emoji() -> None:
    assert render(":eyes: Manual review :not_an_emoji:") == (
        '<div class="sk-p">👀 Manual review :not_an_emoji:</div>'
    )


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>" onmouseover="x'


def _no_foreign_markup(html: str) -> None:
    tags = parse(html).tags
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS, tags
    for _, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), attrs
        assert not any("javascript:" in (value or "") for value in attrs.values())
    assert "<script" not in html


def test_hostile_text_everywhere_stays_text() -> None:
    slack_escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": HOSTILE}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{slack_escaped}*"},
            "fields": [{"type": "mrkdwn", "text": HOSTILE}],
            "accessory": {
                "type": "image",
                "image_url": "javascript:alert(1)",
                "alt_text": HOSTILE,
            },
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": HOSTILE},
                    "action_id": HOSTILE,
                    "url": "javascript:alert(1)",
                },
                {
                    "type": "static_select",
                    "placeholder": {"type": "plain_text", "text": HOSTILE},
                    "options": [{"text": {"type": "plain_text", "text": HOSTILE}, "value": "v"}],
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{HOSTILE}|{HOSTILE}>"}]},
        {"type": "mystery", "payload": HOSTILE},
    ]
    html = str(slack_render.blocks(blocks, CONTEXT, now=NOW))
    _no_foreign_markup(html)
    assert "&lt;script&gt;" in html  # shown, as text


def test_hostile_names_and_email_bodies() -> None:
    context = RenderContext(names={"U1": HOSTILE})
    _no_foreign_markup(str(mrkdwn("<@U1>", context, now=NOW)))
    _no_foreign_markup(str(slack_render.plain_text_html(HOSTILE + "\nhttps://ok.example/x")))


def test_an_escalation_message_looks_like_slack() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": ":eyes: Manual review"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Client*\nPriya Nair"},
                {"type": "mrkdwn", "text": "*Duration*\n60 min"},
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": "claim",
                    "text": {"type": "plain_text", "text": "Claim"},
                },
                {
                    "type": "users_select",
                    "action_id": "reassign",
                    "placeholder": {"type": "plain_text", "text": "Reassign to…"},
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Request `req_1`"}]},
        {"type": "divider"},
    ]
    html = str(slack_render.blocks(blocks, CONTEXT, now=NOW))
    assert '<div class="sk-block sk-header">👀 Manual review</div>' in html
    assert '<div class="sk-field"><div class="sk-p"><strong>Client</strong><br>Priya Nair' in html
    assert 'class="sk-button sk-button-primary"' in html and ">Claim</button>" in html
    assert "sk-select sk-placeholder" in html and "Reassign to…" in html
    assert "<code>req_1</code>" in html and "sk-divider" in html


def test_a_modal_has_its_title_inputs_and_buttons() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Resolve"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Note"},
                "optional": True,
                "element": {"type": "plain_text_input", "multiline": True},
            }
        ],
    }
    html = str(slack_render.view(view, CONTEXT, now=NOW))
    assert 'sk-modal-title">Resolve' in html and ">Save</button>" in html
    assert "(optional)" in html and "sk-textarea" in html
