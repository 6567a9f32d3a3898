"""Auth: sk_test_ keys accepted, sk_live_ refused with a clear error, anything else 401."""

from __future__ import annotations

import httpx
import pytest

from casey_flows.sandbox.embedded import running_sandbox


def _get(sb, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{sb.base_url}/connections", headers=headers)


def test_test_key_accepted(sb):
    assert _get(sb, {"Authorization": "Bearer sk_test_anything"}).status_code == 200
    assert _get(sb, sb.headers).status_code == 200


def test_live_key_refused_and_not_echoed(sb):
    key = "sk_live_" + "abcdef123456"  # built at run time: no key-shaped literal in the repo
    resp = _get(sb, {"Authorization": f"Bearer {key}"})
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["code"] == "live_key_refused"
    assert "never accepts live keys" in err["message"]
    assert key not in resp.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "sk_test_sandbox"},
        {"Authorization": "Basic c2tfdGVzdA=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage-key-123"},
    ],
)
def test_missing_or_garbage_is_401(sb, headers):
    resp = _get(sb, headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    assert "garbage-key-123" not in resp.text


def test_auth_applies_to_every_backend_route(sb):
    conn = sb.call_out_connection
    for method, path in [
        ("GET", f"/connections/{conn}/calls"),
        ("POST", f"/connections/{conn}/calls"),
        ("GET", f"/connections/{conn}/calls/x"),
        ("GET", f"/connections/{conn}"),
    ]:
        assert httpx.request(method, sb.base_url + path).status_code == 401


def test_configured_key_list_restricts_test_keys():
    with running_sandbox(api_keys=["sk_test_only_this"], rate_limit_per_s=0) as sb:
        assert sb.api_key == "sk_test_only_this"
        assert _get(sb, {"Authorization": "Bearer sk_test_only_this"}).status_code == 200
        other = _get(sb, {"Authorization": "Bearer sk_test_another"})
        assert other.status_code == 401
        assert "sk_test_another" not in other.text
        config = sb.admin._http.get("/config").json()
        assert "sk_test_only_this" not in str(config)


def test_admin_and_openapi_need_no_key(sb):
    assert httpx.get(f"{sb.root_url}/_sandbox/stats").status_code == 200
    assert httpx.get(f"{sb.root_url}/openapi.json").status_code == 200
