"""Reason codes in plain words, for people reading Slack messages and logs."""

from __future__ import annotations

PROVIDER_NAMES = {
    "google": "Google Calendar",
    "microsoft": "Microsoft 365",
    "postmark": "Postmark",
    "twilio": "Twilio",
    "slack": "Slack",
    "sandbox": "Sandbox",
}

NO_TIME_SELECTED = "No time selected"
SLOT_UNAVAILABLE = "The requested time is not free"
NO_REP_FREE = "No rep is free at the requested time"


# Provider reasons people meet most, in words that say what happened.
KNOWN_REASONS = {
    "insufficientPermissions": "missing scope calendar.events",
    "invalid_grant": "access revoked; the rep must reconnect",
    "not_connected": "the rep has not connected their calendar",
    "ErrorAccessDenied": "access denied to the mailbox",
    "notFound": "calendar not found",
    "rateLimitExceeded": "rate limit exceeded",
    "406": "the recipient is marked inactive (bounced or unsubscribed)",
    "300": "the email address is invalid",
    "timeout": "timed out",
    "network": "could not be reached",
}


def describe(code: str) -> str:
    """`keyword:urgent` -> "Notes mention *urgent*"; unknown codes are shown as they are."""
    kind, _, rest = code.partition(":")
    if kind == "vip_domain":
        return f"VIP account *{rest}*"
    if kind == "keyword":
        return f"Notes mention *{rest}*"
    if kind == "group_size":
        return f"Group of {rest}"
    if code == "no_time_selected":
        return NO_TIME_SELECTED
    if code == "slot_unavailable":
        return SLOT_UNAVAILABLE
    if kind == "api_error":
        provider, _, detail = rest.partition(":")
        status, _, reason = detail.partition(":")
        name = PROVIDER_NAMES.get(provider, provider)
        if reason in KNOWN_REASONS:
            return f"{name} refused: {KNOWN_REASONS[reason]}"
        return f"{name} refused: {status} {reason}".strip()
    if kind == "connection_broken":
        provider, _, rep = rest.partition(":")
        name = PROVIDER_NAMES.get(provider, provider)
        return f"{name} connection of {rep} is broken; they must reconnect"
    if kind == "internal_error":
        return f"Unexpected error in {rest}" if rest else "Unexpected error"
    return code
