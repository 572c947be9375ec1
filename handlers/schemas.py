"""The JSON bodies of the public HTTP endpoints as pydantic models, for `/openapi.json`
(SPEC §3): what a form backend, a monitor or a script can rely on. The handlers build the
same shapes; `tests/integration/test_openapi.py` checks the document and real answers
against these schemas.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IntakeStatus = Literal[
    "booked_auto", "escalated_vip", "escalated_manual_review", "escalated_on_error"
]
OutboxService = Literal["slack", "calendar", "email", "sms", "crm"]


class BookingOut(BaseModel):
    """The meeting as booked: present for `booked_auto`, and for `escalated_on_error` when
    the event exists but the client could not be confirmed."""

    rep: str = Field(description="The host's email")
    start: str = Field(description="UTC, ISO 8601", examples=["2026-12-01T21:00:00Z"])
    end: str = Field(description="UTC, ISO 8601", examples=["2026-12-01T21:30:00Z"])
    event_id: str | None = Field(description="The calendar provider's event id")
    ical_uid: str | None = Field(description="The event's iCalendar UID")
    video_url: str | None = Field(description="Meet or Teams link, when the meeting has one")


class IntakeResponse(BaseModel):
    """What happened to the request: one of the four outcomes of the gate (SPEC §3.1)."""

    request_id: str = Field(examples=["req_01HZX3Q4J9"])
    status: IntakeStatus
    reasons: list[str] = Field(
        description="Machine-readable reason codes",
        examples=[["vip_domain:majorclient.com"], ["api_error:google:403:insufficientPermissions"]],
    )
    booking: BookingOut | None = None


class ErrorBody(BaseModel):
    """Every refusal other than a validation failure."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["invalid_signature"])
    message: str = Field(description="What was wrong, in words")
    request_id: str | None = Field(
        default=None, description="409 only: the request still being processed"
    )


class FieldProblem(BaseModel):
    field: str = Field(examples=["timezone"])
    message: str = Field(examples=["unknown IANA time zone 'Europe/Berln'"])


class ValidationFailed(BaseModel):
    """422: every field that was wrong, and why."""

    error: Literal["validation_failed"]
    errors: list[FieldProblem]


class HealthOk(BaseModel):
    status: Literal["ok"]


class HealthDown(BaseModel):
    status: Literal["unavailable"]
    reason: str = Field(examples=["database"])


class SandboxItem(BaseModel):
    """One recorded outgoing message (SPEC §8)."""

    service: OutboxService
    action: str = Field(examples=["chat.postMessage", "events.insert", "send"])
    at: str = Field(description="When it was recorded, UTC", examples=["2026-12-01T14:00:03Z"])
    request_id: str | None
    status: str = Field(description="sandboxed, or a real send's pending/sent/failed")
    error: str | None
    payload: dict[str, Any] = Field(description="What would have been sent")
    result: dict[str, Any] | None


class SandboxList(BaseModel):
    items: list[SandboxItem] = Field(description="Newest first")


def error(description: str) -> dict[str, Any]:
    """An entry of a route's `responses` for an ErrorBody answer."""
    return {"model": ErrorBody, "description": description}


VALIDATION_FAILED: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationFailed, "description": "A parameter is not valid"}
}
