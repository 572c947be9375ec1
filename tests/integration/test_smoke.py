from tests.conftest import post_signed

REQUEST = {
    "submission_id": "smoke-1",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
}


def test_booked_auto_end_to_end(make_app):
    client, _ = make_app()
    response = post_signed(client, REQUEST)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "booked_auto"
    assert body["booking"]["start"] == "2026-12-01T21:00:00Z"
    services = sorted(item["service"] for item in client.get("/sandbox.json").json()["items"])
    assert services == ["calendar", "email"]
