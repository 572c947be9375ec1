"""What Slack and the Home tab say about a rep's calendar connection that broke, and how
to fix it.
"""

from __future__ import annotations

BROKEN_ALERT = (
    ":warning: The {provider} connection of *{rep}* is broken: {error}\n"
    "Their requests go to manual review until it is fixed. {fix}"
)


RECONNECT_GOOGLE = "They can reconnect at {url}/oauth/google/start?rep={rep}"


RECONNECT_MICROSOFT = (
    "An Entra admin must grant the app Calendars.ReadWrite (application) with admin consent."
)
