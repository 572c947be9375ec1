"""`/openapi.json` is a valid OpenAPI 3 document (checked by openapi-spec-validator) that
documents every public JSON endpoint with the shapes it really answers: each real answer
below is validated against the schema the document gives for its status.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.conftest import post_signed

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REQUEST: dict[str, Any] = {
    "submission_id": "openapi-1",
    "name": "Dana Reyes",
    "email": "dana.reyes@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
}
# Other branches add JSON endpoints (the booking page's /api/slots); these must be there.
PUBLIC_JSON = {"/webhooks/booking": "post", "/sandbox.json": "get", "/healthz": "get"}


def _schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def _check(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    """Validate `body` against the documented schema, its $refs resolved in the document."""
    schema = {**document, **_schema(document, path, method, status)}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path} {status}: {errors[0].message}"


@pytest.fixture
def document(make_app) -> tuple[Any, dict[str, Any]]:
    client, _ = make_app()
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return client, response.json()


@SQLITE_ONLY
def test_the_document_is_valid_openapi(document) -> None:
    _, spec = document
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    for path, method in PUBLIC_JSON.items():
        assert method in spec["paths"][path], path


@SQLITE_ONLY
def test_intake_documents_its_answer_and_every_error(document) -> None:
    _, spec = document
    responses = spec["paths"]["/webhooks/booking"]["post"]["responses"]
    assert {"200", "400", "401", "409", "413", "415", "422", "503"} <= set(responses)
    ok = spec["components"]["schemas"]["IntakeResponse"]
    assert set(ok["required"]) == {"request_id", "status", "reasons"}
    assert set(ok["properties"]["status"]["enum"]) == {
        "booked_auto",
        "escalated_vip",
        "escalated_manual_review",
        "escalated_on_error",
    }
    failed = spec["components"]["schemas"]["ValidationFailed"]
    assert set(failed["required"]) == {"error", "errors"}
    assert "Idempotent-Replay" in responses["200"]["headers"]
    assert "Retry-After" in responses["409"]["headers"]


@SQLITE_ONLY
def test_real_answers_match_their_documented_schemas(document) -> None:
    client, spec = document
    booked = post_signed(client, REQUEST)
    assert booked.status_code == 200
    _check(spec, "/webhooks/booking", "post", 200, booked.json())
    assert booked.json()["booking"]  # the booking object was checked too
    vip = post_signed(client, {**REQUEST, "submission_id": "openapi-2", "email": "x@bigcorp.net"})
    _check(spec, "/webhooks/booking", "post", 200, vip.json())

    invalid = post_signed(client, {**REQUEST, "submission_id": "openapi-3", "timezone": "Mars/X"})
    assert invalid.status_code == 422
    _check(spec, "/webhooks/booking", "post", 422, invalid.json())
    unsigned = client.post("/webhooks/booking", json=REQUEST)
    assert unsigned.status_code == 401
    _check(spec, "/webhooks/booking", "post", 401, unsigned.json())
    wrong_type = post_signed(client, "x", content_type="text/plain")
    assert wrong_type.status_code == 415
    _check(spec, "/webhooks/booking", "post", 415, wrong_type.json())
    broken = post_signed(client, "{not json")
    assert broken.status_code == 400
    _check(spec, "/webhooks/booking", "post", 400, broken.json())
    large = post_signed(client, {**REQUEST, "notes": "x" * 70_000})
    assert large.status_code == 413
    _check(spec, "/webhooks/booking", "post", 413, large.json())

    _check(spec, "/healthz", "get", 200, client.get("/healthz").json())
    items = client.get("/sandbox.json")
    assert items.json()["items"]
    _check(spec, "/sandbox.json", "get", 200, items.json())
    bad = client.get("/sandbox.json", params={"service": "fax"})
    _check(spec, "/sandbox.json", "get", 422, bad.json())


@SQLITE_ONLY
def test_the_interactive_docs_are_served(document) -> None:
    client, _ = document
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
