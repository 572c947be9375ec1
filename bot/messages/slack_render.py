"""Block Kit and mrkdwn to HTML, as Slack would show them: the sandbox page draws every
recorded message with this, beside the builders that made it (`blocks`, `modals`, `home`).

Pure and safe: every piece of text from a message is HTML-escaped before any markup of ours
is put around it, links keep only http(s) and mailto targets, and the result is a
`markupsafe.Markup` a Jinja2 template inserts as it is. Slack's own escapes (`&amp;`,
`&lt;`, `&gt;`) are undone first, so text shows as Slack shows it, then escaped for HTML.

What is drawn: header, section (text, fields, an accessory), context, divider, actions
(buttons with their style, selects with their placeholder or chosen option, date pickers,
overflow menus), image, input (in modals); mrkdwn with bold, italics, strikethrough, code,
code blocks, quotes, lists, links, `<!date^…>` in a given zone (the page then redraws it
in the viewer's own zone from `data-ts`, keeping Slack's fallback as the title), `<@U…>`,
`<#C…>`, `<!subteam^…>`, `<!here>` and the common `:emoji:` names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

EMOJI = {
    "eyes": "👀",
    "star": "⭐",
    "warning": "⚠️",
    "rotating_light": "🚨",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "calendar": "📅",
    "spiral_calendar_pad": "🗓️",
    "date": "📅",
    "alarm_clock": "⏰",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "bell": "🔔",
    "email": "📧",
    "envelope": "✉️",
    "phone": "📞",
    "iphone": "📱",
    "wave": "👋",
    "tada": "🎉",
    "bar_chart": "📊",
    "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉",
    "broken_heart": "💔",
    "link": "🔗",
    "bust_in_silhouette": "👤",
    "busts_in_silhouette": "👥",
    "lock": "🔒",
    "memo": "📝",
    "pushpin": "📌",
    "mag": "🔍",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "arrows_counterclockwise": "🔄",
    "question": "❓",
    "exclamation": "❗",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "sos": "🆘",
    "raising_hand": "🙋",
    "handshake": "🤝",
    "thumbsup": "👍",
    "+1": "👍",
    "inbox_tray": "📥",
    "outbox_tray": "📤",
    "robot_face": "🤖",
    "wrench": "🔧",
    "fire": "🔥",
    "clock1": "🕐",
    "stopwatch": "⏱️",
    "zzz": "💤",
}
SAFE_SCHEMES = ("http://", "https://", "mailto:")
UNKNOWN_USER = "unknown user"

# <…> tokens, code spans and code blocks, found before any formatting is applied.
_TOKEN = re.compile(r"```(?P<pre>.+?)```|`(?P<code>[^`\n]+)`|<(?P<angle>[^<>\n]+)>", re.DOTALL)
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_LIST_ITEM = re.compile(r"^\s*(?:•|◦|▪|-|\*)\s+")
_ORDERED_ITEM = re.compile(r"^\s*(\d+)[.)]\s+")


@dataclass(frozen=True)
class RenderContext:
    """Who is who, and the zone `<!date^…>` is first drawn in (the page redraws it in the
    viewer's). `names` maps Slack user, user group and channel ids to display names."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    names: Mapping[str, str] = field(default_factory=dict)


def _slack_unescape(text: str) -> str:
    """Slack's three escapes undone; what remains is the text a person reads."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- dates --------------------------------------------------------------------------------


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _clock(at: datetime, seconds: bool = False) -> str:
    hour = at.hour % 12 or 12
    tail = f":{at.second:02d}" if seconds else ""
    return f"{hour}:{at.minute:02d}{tail} {'AM' if at.hour < 12 else 'PM'}"


def _pretty(at: datetime, now: datetime, fallback: str) -> str:
    days = (at.date() - now.date()).days
    return {0: "Today", -1: "Yesterday", 1: "Tomorrow"}.get(days, fallback)


def format_slack_date(timestamp: int, template: str, zone: ZoneInfo, now: datetime) -> str:
    """Slack's `<!date^ts^template|…>` tokens ({date_num}, {date}, {date_short}, {date_long},
    the `_pretty` forms, {time}, {time_secs}) in `zone`."""
    at = datetime.fromtimestamp(timestamp, UTC).astimezone(zone)
    local_now = now.astimezone(zone)
    date = f"{at:%B} {_ordinal(at.day)}, {at.year}"
    short = f"{at:%b} {at.day}, {at.year}"
    long = f"{at:%A}, {date}"
    values = {
        "date_num": f"{at:%Y-%m-%d}",
        "date": date,
        "date_short": short,
        "date_long": long,
        "date_pretty": _pretty(at, local_now, date),
        "date_short_pretty": _pretty(at, local_now, short),
        "date_long_pretty": _pretty(at, local_now, long),
        "time": _clock(at),
        "time_secs": _clock(at, seconds=True),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def _date(body: str, context: RenderContext, now: datetime) -> Markup:
    head, _, fallback = body.partition("|")
    parts = head.split("^")  # !date, timestamp, template[, link]
    try:
        timestamp = int(parts[1])
        template = parts[2]
    except (IndexError, ValueError):
        return escape(fallback or body)
    shown = format_slack_date(timestamp, template, context.zone, now)
    iso = datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
    return Markup(
        '<time class="sk-date" datetime="{iso}" data-ts="{ts}" data-format="{fmt}" '
        'title="{fallback}">{shown}</time>'
    ).format(iso=iso, ts=timestamp, fmt=template, fallback=fallback, shown=shown)


# -- <…> tokens ---------------------------------------------------------------------------


def _mention(kind: str, ident: str, label: str, context: RenderContext) -> Markup:
    name = label or context.names.get(ident) or ident
    return Markup('<span class="sk-mention" title="{ident}">{kind}{name}</span>').format(
        kind=kind, name=name, ident=ident
    )


def _link(target: str, label: str) -> Markup:
    if not target.lower().startswith(SAFE_SCHEMES):
        return escape(label or target)
    return Markup('<a href="{href}" rel="noopener noreferrer" target="_blank">{label}</a>').format(
        href=target, label=label or target.removeprefix("mailto:")
    )


def _angle(body: str, context: RenderContext, now: datetime) -> Markup:
    body = _slack_unescape(body)
    target, _, label = body.partition("|")
    if target.startswith("@"):
        return _mention("@", target[1:], label, context)
    if target.startswith("#"):
        return _mention("#", target[1:], label, context)
    if target.startswith("!date^"):
        return _date(body, context, now)
    if target.startswith("!subteam^"):
        return _mention("@", target.removeprefix("!subteam^"), label, context)
    if target in ("!here", "!channel", "!everyone"):
        return _mention("@", target[1:], "", RenderContext())
    return _link(target, label)


# -- mrkdwn -------------------------------------------------------------------------------


def _inline(text: str) -> Markup:
    """Plain text (Slack escapes undone) to HTML with bold, italics, strike and emoji."""
    escaped = str(escape(_slack_unescape(text)))
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = _ITALIC.sub(r"<em>\1</em>", escaped)
    escaped = _STRIKE.sub(r"<s>\1</s>", escaped)
    escaped = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)
    return Markup(escaped)


def _line(text: str, context: RenderContext, now: datetime) -> Markup:
    out: list[Markup] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_inline(text[position : match.start()]))
        if match.group("pre") is not None:
            out.append(Markup("<pre>{}</pre>").format(_slack_unescape(match.group("pre"))))
        elif match.group("code") is not None:
            out.append(Markup("<code>{}</code>").format(_slack_unescape(match.group("code"))))
        else:
            out.append(_angle(match.group("angle"), context, now))
        position = match.end()
    out.append(_inline(text[position:]))
    return Markup("").join(out)


def _blocks_of_lines(lines: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Consecutive lines grouped: ("quote", …), ("ul", …), ("ol", …) or ("p", …)."""
    groups: list[tuple[str, list[str]]] = []
    for raw in lines:
        if raw.startswith((">", "&gt;")):
            kind, text = "quote", raw.removeprefix("&gt;").removeprefix(">")
        elif _LIST_ITEM.match(raw):
            kind, text = "ul", _LIST_ITEM.sub("", raw, count=1)
        elif _ORDERED_ITEM.match(raw):
            kind, text = "ol", _ORDERED_ITEM.sub("", raw, count=1)
        else:
            kind, text = "p", raw
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(text)
        else:
            groups.append((kind, [text]))
    return groups


def mrkdwn(text: str, context: RenderContext, *, now: datetime | None = None) -> Markup:
    """Slack mrkdwn to HTML (see the module docstring for what is understood)."""
    now = now or datetime.now(UTC)
    if "```" in text:  # a code block spans lines: one paragraph keeps it whole
        return Markup('<div class="sk-p">{}</div>').format(_line(text, context, now))
    parts: list[Markup] = []
    for kind, lines in _blocks_of_lines(text.split("\n")):
        rendered = [_line(line, context, now) for line in lines]
        if kind == "quote":
            body = Markup("<br>").join(rendered)
            parts.append(Markup("<blockquote>{}</blockquote>").format(body))
        elif kind in ("ul", "ol"):
            items = Markup("").join(Markup("<li>{}</li>").format(item) for item in rendered)
            parts.append(Markup("<{tag}>{items}</{tag}>").format(tag=Markup(kind), items=items))
        else:
            parts.append(Markup('<div class="sk-p">{}</div>').format(Markup("<br>").join(rendered)))
    return Markup("").join(parts)


def text_object(obj: Any, context: RenderContext, *, now: datetime | None = None) -> Markup:
    """A Block Kit text object: mrkdwn rendered, plain_text escaped (emoji names shown)."""
    if not isinstance(obj, dict):
        return escape(str(obj)) if obj is not None else Markup("")
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(text, context, now=now)
    return _inline_plain(text)


def _inline_plain(text: str) -> Markup:
    escaped = str(escape(text))
    return Markup(_EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped))


# -- elements and blocks ------------------------------------------------------------------


def _button(element: dict[str, Any]) -> Markup:
    style = element.get("style")
    css = f"sk-button sk-button-{style}" if style in ("primary", "danger") else "sk-button"
    label = _inline_plain(str((element.get("text") or {}).get("text", "")))
    if element.get("url"):
        return Markup(
            '<a class="{css}" href="{href}" rel="noopener noreferrer">{label}</a>'
        ).format(css=css, href=element["url"] if _safe(element["url"]) else "#", label=label)
    return Markup(
        '<button type="button" class="{css}" disabled title="{title}">{label}</button>'
    ).format(css=css, title=f"action_id {element.get('action_id', '')}", label=label)


def _safe(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(SAFE_SCHEMES)


def _option_text(option: Any) -> str:
    if isinstance(option, dict):
        return str((option.get("text") or {}).get("text", ""))
    return ""


def _select(element: dict[str, Any], context: RenderContext) -> Markup:
    kind = str(element.get("type", ""))
    chosen = element.get("initial_option")
    label = _option_text(chosen) if chosen else ""
    if not label and element.get("initial_user"):
        label = "@" + context.names.get(element["initial_user"], element["initial_user"])
    if not label and element.get("initial_date"):
        label = str(element["initial_date"])
    placeholder = str((element.get("placeholder") or {}).get("text", ""))
    if not label:
        label = placeholder or {"datepicker": "Select a date", "timepicker": "Select time"}.get(
            kind, "Select an item"
        )
    options = element.get("options") or [
        option for group in element.get("option_groups") or [] for option in group["options"]
    ]
    titles = ", ".join(_option_text(option) for option in options[:20])
    return Markup(
        '<span class="sk-select {empty}" title="{title}">{label}'
        '<span class="sk-caret">▾</span></span>'
    ).format(
        empty="" if chosen else "sk-placeholder",
        title=f"{kind}: {titles}" if titles else kind,
        label=_inline_plain(label),
    )


def element(item: Any, context: RenderContext) -> Markup:
    if not isinstance(item, dict):
        return Markup("")
    kind = item.get("type")
    if kind == "button":
        return _button(item)
    if kind == "overflow":
        return Markup('<span class="sk-overflow" title="more actions">⋮</span>')
    if kind == "image":
        return _image(item, small=True)
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        hint = str((item.get("placeholder") or {}).get("text", ""))
        tag = "sk-textarea" if item.get("multiline") else "sk-input"
        return Markup('<span class="{tag}">{hint}</span>').format(tag=tag, hint=hint)
    if kind in ("checkboxes", "radio_buttons"):
        mark = "☐" if kind == "checkboxes" else "○"
        options = item.get("options") or []
        return Markup("").join(
            Markup('<div class="sk-option">{mark} {text}</div>').format(
                mark=mark, text=_inline_plain(_option_text(option))
            )
            for option in options
        )
    if isinstance(kind, str) and ("select" in kind or kind.endswith("picker")):
        return _select(item, context)
    return text_object(item, context)


def _image(item: dict[str, Any], *, small: bool = False) -> Markup:
    url = item.get("image_url", "")
    if not _safe(url):
        return escape(item.get("alt_text", ""))
    return Markup('<img class="{css}" src="{src}" alt="{alt}" loading="lazy">').format(
        css="sk-thumb" if small else "sk-image", src=url, alt=item.get("alt_text", "")
    )


def _section(block: dict[str, Any], context: RenderContext, now: datetime) -> Markup:
    parts: list[Markup] = []
    if block.get("text"):
        parts.append(text_object(block["text"], context, now=now))
    if block.get("fields"):
        fields = Markup("").join(
            Markup('<div class="sk-field">{}</div>').format(text_object(f, context, now=now))
            for f in block["fields"]
        )
        parts.append(Markup('<div class="sk-fields">{}</div>').format(fields))
    body = Markup('<div class="sk-section-body">{}</div>').format(Markup("").join(parts))
    accessory = block.get("accessory")
    if accessory:
        side = Markup('<div class="sk-accessory">{}</div>').format(element(accessory, context))
        body = body + side
    return Markup('<div class="sk-block sk-section">{}</div>').format(body)


def _context(block: dict[str, Any], context: RenderContext, now: datetime) -> Markup:
    items = Markup(" ").join(
        _image(item, small=True)
        if isinstance(item, dict) and item.get("type") == "image"
        else text_object(item, context, now=now)
        for item in block.get("elements") or []
    )
    return Markup('<div class="sk-block sk-context">{}</div>').format(items)


def _actions(block: dict[str, Any], context: RenderContext) -> Markup:
    items = Markup("").join(element(item, context) for item in block.get("elements") or [])
    return Markup('<div class="sk-block sk-actions">{}</div>').format(items)


def _input(block: dict[str, Any], context: RenderContext, now: datetime) -> Markup:
    label = text_object(block.get("label"), context, now=now)
    optional = Markup(' <span class="sk-muted">(optional)</span>') if block.get("optional") else ""
    hint = block.get("hint")
    hint_html = (
        Markup('<div class="sk-muted">{}</div>').format(text_object(hint, context, now=now))
        if hint
        else Markup("")
    )
    return Markup(
        '<div class="sk-block sk-input-block"><div class="sk-label">{label}{optional}</div>'
        "{element}{hint}</div>"
    ).format(
        label=label,
        optional=optional,
        element=element(block.get("element"), context),
        hint=hint_html,
    )


def block(item: Any, context: RenderContext, *, now: datetime | None = None) -> Markup:
    """One block as Slack draws it; a kind this renderer does not know is shown as JSON."""
    now = now or datetime.now(UTC)
    if not isinstance(item, dict):
        return Markup("")
    kind = item.get("type")
    if kind == "header":
        return Markup('<div class="sk-block sk-header">{}</div>').format(
            text_object(item.get("text"), context, now=now)
        )
    if kind == "section":
        return _section(item, context, now)
    if kind == "context":
        return _context(item, context, now)
    if kind == "divider":
        return Markup('<hr class="sk-block sk-divider">')
    if kind == "actions":
        return _actions(item, context)
    if kind == "image":
        return Markup('<div class="sk-block">{}</div>').format(_image(item))
    if kind == "input":
        return _input(item, context, now)
    return Markup('<pre class="sk-block sk-unknown">{}</pre>').format(
        json.dumps(item, indent=2, ensure_ascii=False)
    )


def blocks(items: Sequence[Any], context: RenderContext, *, now: datetime | None = None) -> Markup:
    now = now or datetime.now(UTC)
    return Markup("").join(block(item, context, now=now) for item in items)


def message(
    payload: Mapping[str, Any], context: RenderContext, *, now: datetime | None = None
) -> Markup:
    """A chat.postMessage / chat.update payload: its blocks, or its text when it has none."""
    items = payload.get("blocks")
    if isinstance(items, list) and items:
        return blocks(items, context, now=now)
    return mrkdwn(str(payload.get("text", "")), context, now=now)


def view(
    payload: Mapping[str, Any], context: RenderContext, *, now: datetime | None = None
) -> Markup:
    """A modal (views.open / views.update): title, blocks, and its submit and close buttons."""
    title = text_object(payload.get("title"), context, now=now)
    submit = payload.get("submit")
    close = payload.get("close")
    footer = Markup("")
    if close:
        footer += Markup('<button type="button" class="sk-button" disabled>{}</button>').format(
            text_object(close, context)
        )
    if submit:
        footer += Markup(
            '<button type="button" class="sk-button sk-button-primary" disabled>{}</button>'
        ).format(text_object(submit, context))
    return Markup(
        '<div class="sk-modal"><div class="sk-modal-title">{title}</div>'
        '<div class="sk-modal-body">{body}</div><div class="sk-modal-footer">{footer}</div></div>'
    ).format(
        title=title,
        body=blocks(payload.get("blocks") or [], context, now=now),
        footer=footer,
    )


def plain_text_html(text: str) -> Markup:
    """An email or SMS body: escaped, line breaks kept, bare URLs made links."""
    escaped = str(escape(text))
    linked = re.sub(
        r"(https?://[^\s<>&\"']+)",
        lambda m: (
            f'<a href="{m.group(1)}" rel="noopener noreferrer" target="_blank">{m.group(1)}</a>'
        ),
        escaped,
    )
    return Markup(linked.replace("\n", "<br>"))
