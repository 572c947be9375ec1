"""The HTML pages people open in a browser (the landing page, the sandbox viewer): Jinja2
templates under `bot/messages/templates/`, every value escaped unless a renderer of ours
marked it safe (`bot/messages/slack_render.py` escapes everything it emits).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_ENVIRONMENT = Environment(
    loader=PackageLoader("bot.messages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a missing value is a bug, not an empty string on the page
    trim_blocks=True,
    lstrip_blocks=True,
)

LANDING_TEMPLATE = "landing.html"


def render_page(template: str, **context: Any) -> str:
    return _ENVIRONMENT.get_template(template).render(**context)


def landing_page(*, sandboxed: list[str]) -> str:
    """GET /: where to go from here, and which services are in sandbox mode."""
    return render_page(LANDING_TEMPLATE, sandboxed=sandboxed)
