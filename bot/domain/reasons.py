"""Reason codes in plain words, for people reading Slack messages and logs, and what ops
can change about the codes that send requests to people (the KPI report's advice).
"""

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


# What ops can change, per reason code family; the codes that name something get theirs below.
ADVICE = {
    "group_size": "group sizes: raise gate.group_size_threshold",
    "no_time_selected": "no time chosen: make the time a required field of the form",
    "slot_unavailable": "requested slots were busy: offer only free slots on the form",
}
KEYWORD_ADVICE = (
    'keyword "{keyword}": narrow it to a phrase, or drop it from gate.escalation_keywords'
)
VIP_DOMAIN_ADVICE = "VIP domain {domain}: by policy; check the VIP list is current"
API_ERROR_ADVICE = "{provider} failures: fix the integration (`frontdesk check`); not a rule"


def _api_error(rest: str) -> tuple[str, str, str]:
    """`google:403:insufficientPermissions` (an api_error code's rest): provider, status
    and reason, each "" when missing.
    """
    provider, _, detail = rest.partition(":")
    status, _, reason = detail.partition(":")
    return provider, status, reason


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
        provider, status, reason = _api_error(rest)
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


def advice(code: str) -> str:
    """What ops can change about a reason code that sends requests to people."""
    kind, _, rest = code.partition(":")
    if kind == "keyword":
        return KEYWORD_ADVICE.format(keyword=rest)
    if kind == "vip_domain":
        return VIP_DOMAIN_ADVICE.format(domain=rest)
    if kind == "api_error":
        provider, _, _ = _api_error(rest)
        return API_ERROR_ADVICE.format(provider=provider)
    return ADVICE.get(kind, code)
