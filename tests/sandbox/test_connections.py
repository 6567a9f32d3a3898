"""Connections: call_out vs not, unknown codes, GET one, cursor pagination and agent filter."""

from __future__ import annotations

import httpx
import pytest

from casey_flows.sandbox.config import ConnectionSpec
from casey_flows.sandbox.embedded import running_sandbox


def test_non_call_out_connection_refused_for_calls(client, sb):
    other = sb.other_connection
    for resp in (
        client.get(sb.calls_path(other)),
        client.post(sb.calls_path(other), json={"phone_number": "+14155550123"}),
        client.get(f"{sb.calls_path(other)}/00000000-0000-4000-8000-000000000000"),
    ):
        assert resp.status_code == 409
        err = resp.json()["error"]
        assert err["code"] == "not_call_out"
        assert "call_out" in err["message"]
    assert sb.admin.stats()["creates_total"] == 0


def test_unknown_connection_is_404(client, sb):
    for resp in (
        client.get("/connections/nope/calls"),
        client.post("/connections/nope/calls", json={"phone_number": "+14155550123"}),
        client.get("/connections/nope"),
    ):
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "connection_not_found"


def test_unknown_call_is_404(client, sb):
    resp = client.get(f"{sb.calls_path()}/00000000-0000-4000-8000-000000000000")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "call_not_found"


def test_get_connection_fields(client, sb):
    data = client.get(f"/connections/{sb.call_out_connection}").json()["data"]
    assert set(data) == {
        "connection_code",
        "agent_id",
        "invite_type",
        "auth_style",
        "channel_type",
        "available_modes",
        "default_mode",
        "max_uses",
        "expires_at",
        "created_at",
    }
    assert data["channel_type"] == "call_out"
    other = client.get(f"/connections/{sb.other_connection}").json()["data"]
    assert other["channel_type"] != "call_out"


@pytest.fixture(scope="module")
def many() -> object:
    conns = [
        ConnectionSpec(
            connection_code=f"c{i:02d}",
            agent_id="agent_a" if i % 3 == 0 else "agent_b",
            created_at=f"2026-01-01T00:00:{i:02d}+00:00",
        )
        for i in range(25)
    ]
    with running_sandbox(connections=conns, rate_limit_per_s=0) as sb:
        yield sb


def _page(sb, **params) -> dict:
    resp = httpx.get(f"{sb.base_url}/connections", params=params, headers=sb.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_cursor_pagination_forward_and_back(many):
    seen: list[str] = []
    body = _page(many, limit=10)
    assert body["pagination"]["prev_cursor"] is None
    pages = [body]
    while body["pagination"]["has_more"]:
        body = _page(many, limit=10, after=body["pagination"]["next_cursor"])
        pages.append(body)
    for page in pages:
        seen += [c["connection_code"] for c in page["data"]]
    assert seen == [f"c{i:02d}" for i in range(25)]
    assert [len(p["data"]) for p in pages] == [10, 10, 5]
    assert pages[-1]["pagination"]["next_cursor"] is None
    # and back from the last page
    back = _page(many, limit=10, before=pages[-1]["pagination"]["prev_cursor"])
    assert [c["connection_code"] for c in back["data"]] == [f"c{i:02d}" for i in range(10, 20)]
    assert back["pagination"]["has_more"] is True
    first = _page(many, limit=10, before=back["pagination"]["prev_cursor"])
    assert [c["connection_code"] for c in first["data"]] == [f"c{i:02d}" for i in range(10)]
    assert first["pagination"]["has_more"] is False


def test_agent_filter_and_defaults(many):
    body = _page(many, agent_id="agent_a")
    codes = [c["connection_code"] for c in body["data"]]
    assert codes == [f"c{i:02d}" for i in range(0, 25, 3)]
    assert len(_page(many)["data"]) == 20  # default limit
    assert _page(many, agent_id="nobody")["data"] == []


@pytest.mark.parametrize(
    "params", [{"after": "garbage"}, {"limit": 0}, {"limit": 101}, {"after": "x", "before": "y"}]
)
def test_bad_cursor_params_are_400(many, params):
    resp = httpx.get(f"{many.base_url}/connections", params=params, headers=many.headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "validation_error"
