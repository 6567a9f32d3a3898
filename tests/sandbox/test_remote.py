"""Off loopback the sandbox needs a secret (issue #16): what counts as remote is the address it
binds, so every request here goes to 127.0.0.1 of a sandbox bound to 0.0.0.0 and is still
treated as remote. Loopback stays as open as before.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from casey_flows.sandbox import cli
from casey_flows.sandbox.app import RemoteBindRefused
from casey_flows.sandbox.config import ADMIN_TOKEN_ENV, SandboxConfig
from casey_flows.sandbox.embedded import (
    EmbeddedSandbox,
    _child_env,
    running_sandbox,
    start_sandbox_process,
)

# Built at run time: no token- or key-shaped literal in the repository.
TOKEN = "adm-" + secrets.token_urlsafe(24)
API_KEY = "sk_test_" + secrets.token_hex(8)
WILDCARD = "0.0.0.0"  # binding it is fine in tests; traffic only ever goes to 127.0.0.1
ADMIN_ROUTES = [
    ("GET", "/_sandbox/health"),
    ("GET", "/_sandbox/stats"),
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/faults"),
    ("PUT", "/_sandbox/faults"),
    ("GET", "/_sandbox/list-lag"),
    ("PUT", "/_sandbox/list-lag"),
    ("GET", "/_sandbox/config"),
    ("POST", "/_sandbox/calls/some-call/complete"),
    ("GET", "/_sandbox/no-such-route"),  # deny by default: no route discovery either
    ("GET", "/anything-else"),
]


def _self_signed(directory: Path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1 (EC: generated in milliseconds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "casey-sandbox-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def remote_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything a remote sandbox needs: allowed, token, listed key, TLS."""
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    return {
        "allow_remote": True,
        "admin_token": TOKEN,
        "api_keys": [API_KEY],
        "tls_certfile": cert,
        "tls_keyfile": key,
    }


@pytest.fixture(scope="module")
def remote(remote_settings: dict[str, Any]) -> Iterator[EmbeddedSandbox]:
    with running_sandbox(host=WILDCARD, **remote_settings) as sb:
        assert sb.config.host == WILDCARD and sb.config.is_remote
        assert sb.root_url.startswith("https://127.0.0.1:")
        yield sb


@pytest.fixture
def anonymous(remote: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A client of the remote sandbox that trusts its certificate and holds no token."""
    with httpx.Client(base_url=remote.root_url, verify=remote.verify, timeout=10) as client:
        yield client


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "admin_unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


# -- admin routes off loopback -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_refused_without_token_even_via_127_0_0_1(anonymous, method, path):
    _refused(anonymous.request(method, path, json={}))


def test_admin_accepted_with_token(remote):
    admin = remote.admin  # the AdminClient holding the configured token
    admin.reset()
    assert admin.set_faults(next_429=1)["next_429"] == 1
    assert admin.set_list_lag(0.5) == 0.5
    assert admin.stats()["creates_total"] == 0
    remote.clean()


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token-of-enough-length",
        f"Bearer {TOKEN[:-1]}",  # a prefix
        f"Bearer {TOKEN}x",  # an extension
        f"Bearer {TOKEN.upper()}",
        f"Basic {TOKEN}",  # right secret, wrong scheme
        TOKEN,  # no scheme
        f"Bearer {API_KEY}",  # an API key is not the admin token
    ],
)
def test_wrong_token_refused(anonymous, authorization):
    _refused(anonymous.get("/_sandbox/stats", headers={"Authorization": authorization}))


def test_token_only_in_authorization_header(anonymous):
    _refused(anonymous.get("/_sandbox/stats", headers={"X-Sandbox-Admin-Token": TOKEN}))
    _refused(anonymous.get("/_sandbox/stats", params={"token": TOKEN}))


def test_openapi_and_docs_stay_public(anonymous):
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


# -- API keys off loopback -----------------------------------------------------------------------


def test_remote_accepts_only_the_configured_api_key(anonymous, remote):
    def list_connections(key: str) -> httpx.Response:
        return anonymous.get("/v1/backend/connections", headers={"Authorization": f"Bearer {key}"})

    refused = list_connections("sk_test_anything")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert list_connections(API_KEY).status_code == 200
    assert remote.api_key == API_KEY


# -- TLS ------------------------------------------------------------------------------------------


def test_served_over_tls_only(remote):
    plain = remote.root_url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.get(plain + "/_sandbox/health", timeout=5)
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate is not accepted silently
        httpx.get(remote.root_url + "/openapi.json", timeout=5)


# -- refusing to start ---------------------------------------------------------------------------


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)


@pytest.fixture
def cli_must_refuse(no_token_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``cli.main`` here must refuse: if a check regresses the test fails at once instead of
    serving in-process until the timeout."""

    def serving(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the sandbox started serving")

    monkeypatch.setattr(cli, "_serve", serving)


def _cli_args(settings: dict[str, Any]) -> list[str]:
    """The flags giving the CLI ``settings`` (the token goes through the environment)."""
    argv = ["--host", WILDCARD, "--port", "0"]
    if settings.get("allow_remote"):
        argv.append("--allow-remote")
    for key in settings.get("api_keys", ()):
        argv += ["--api-key", key]
    if "tls_certfile" in settings:
        argv += ["--tls-cert", settings["tls_certfile"], "--tls-key", settings["tls_keyfile"]]
    return argv


@pytest.mark.parametrize(
    ("dropped", "named"),
    [
        (("admin_token",), ADMIN_TOKEN_ENV),
        (("api_keys",), "--api-key"),
        (("tls_certfile", "tls_keyfile"), "--tls-cert"),
        (("allow_remote",), "--allow-remote"),
    ],
)
def test_start_refused_without_each_protection(
    remote_settings, cli_must_refuse, monkeypatch, capsys, dropped, named
):
    settings = {k: val for k, val in remote_settings.items() if k not in dropped}
    if "admin_token" in settings:
        monkeypatch.setenv(ADMIN_TOKEN_ENV, TOKEN)
    assert cli.main(_cli_args(settings)) == 2
    err = capsys.readouterr().err
    assert "refusing to bind non-loopback host '0.0.0.0'" in err and named in err
    assert TOKEN not in err
    # Embedding cannot skip the check either.
    with pytest.raises(RemoteBindRefused, match=named), running_sandbox(host=WILDCARD, **settings):
        pass


def test_start_refused_lists_everything_missing(cli_must_refuse, capsys):
    assert cli.main(["--host", WILDCARD]) == 2
    err = capsys.readouterr().err
    for named in (
        "--allow-remote",
        ADMIN_TOKEN_ENV,
        "--admin-token-env",
        "--api-key",
        "--tls-cert",
    ):
        assert named in err


def test_plain_http_off_loopback_still_needs_the_token(no_token_env):
    """--allow-plain-http (a container's private network) waives TLS, nothing else."""
    with running_sandbox(
        host=WILDCARD,
        allow_remote=True,
        admin_token=TOKEN,
        api_keys=[API_KEY],
        allow_plain_http=True,
    ) as sb:
        assert sb.root_url.startswith("http://127.0.0.1:")
        _refused(httpx.get(sb.root_url + "/_sandbox/stats"))
        assert sb.admin.stats()["creates_total"] == 0


def test_weak_token_refused_without_echo(cli_must_refuse, monkeypatch, capsys):
    weak = "short-tok"
    monkeypatch.setenv(ADMIN_TOKEN_ENV, weak)
    assert cli.main(["--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "admin_token must be at least 16" in err and weak not in err


def test_token_comes_from_the_environment(cli_must_refuse, monkeypatch, capsys):
    monkeypatch.delenv("UNSET_SANDBOX_TOKEN_VAR", raising=False)
    monkeypatch.setenv("MY_SANDBOX_TOKEN", TOKEN)
    config = cli.config_from_argv(["--admin-token-env", "MY_SANDBOX_TOKEN"])
    assert config.admin_token is not None and config.admin_token.get_secret_value() == TOKEN
    assert cli.config_from_argv([]).admin_token is None  # default variable unset: no token
    monkeypatch.setenv(ADMIN_TOKEN_ENV, TOKEN)
    assert cli.config_from_argv([]).admin_token is not None
    assert cli.main(["--admin-token-env", "UNSET_SANDBOX_TOKEN_VAR"]) == 2
    assert "UNSET_SANDBOX_TOKEN_VAR is not set" in capsys.readouterr().err


# -- loopback ------------------------------------------------------------------------------------


def test_loopback_unchanged(sb):
    assert not sb.config.is_remote and sb.config.admin_token is None
    assert httpx.get(sb.root_url + "/_sandbox/stats").status_code == 200
    sb.admin.reset()  # the AdminClient without a token
    key = {"Authorization": "Bearer sk_test_any_key_at_all"}
    assert httpx.get(sb.base_url + "/connections", headers=key).status_code == 200


def test_loopback_with_a_token_requires_it():
    """The SSH-tunnel set-up: loopback bound, token set, other local users kept out."""
    with running_sandbox(admin_token=TOKEN) as sb:
        _refused(httpx.get(sb.root_url + "/_sandbox/stats"))
        assert sb.admin.stats()["creates_total"] == 0


# -- the token is never shown --------------------------------------------------------------------


def test_token_never_in_config_stats_or_reprs(remote):
    shown = remote.admin.config()
    assert shown["admin_token_configured"] is True and shown["api_keys_configured"] == 1
    assert "admin_token" not in shown and "api_keys" not in shown
    for text in (str(shown), str(remote.admin.stats()), repr(remote), repr(remote.config)):
        assert TOKEN not in text and API_KEY not in text


def _assert_not_in_argv_or_config_file(pid: int) -> None:
    """The token is in neither the process list nor the config file the child was given."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return  # no procfs (macOS): the environment-only hand-over is checked below anyway
    argv = cmdline.read_bytes().decode().split("\0")
    assert TOKEN not in " ".join(argv)
    assert TOKEN not in Path(argv[argv.index("--config") + 1]).read_text()


def test_child_gets_exactly_the_configured_token(monkeypatch):
    """A token exported in the parent's shell does not reach a child that was given none."""
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "exported-in-the-shell-" + TOKEN)
    assert ADMIN_TOKEN_ENV not in _child_env(SandboxConfig())
    assert _child_env(SandboxConfig(admin_token=TOKEN))[ADMIN_TOKEN_ENV] == TOKEN


def test_process_logs_never_show_the_token(remote_settings, tmp_path):
    """A real ``python -m casey_flows.sandbox`` bound to 0.0.0.0: token via the environment,
    TLS from the config, trace logging on; nothing it prints holds the token."""
    log = tmp_path / "sandbox.log"
    sb = start_sandbox_process(
        host=WILDCARD, log_path=log, log_level="trace", rate_limit_per_s=0, **remote_settings
    )
    try:
        assert sb.root_url.startswith("https://127.0.0.1:")
        _assert_not_in_argv_or_config_file(sb.pid)
        with httpx.Client(base_url=sb.root_url, verify=sb.verify, timeout=10) as client:
            _refused(client.get("/_sandbox/stats"))
            _refused(client.get("/_sandbox/stats", headers={"Authorization": "Bearer nope"}))
            ok = client.get("/v1/backend/connections", headers=sb.headers)
            assert ok.status_code == 200
        assert sb.admin.stats()["creates_total"] == 0
        assert sb.config.admin_token is not None  # the child's config, token from its env
    finally:
        sb.stop()
    text = log.read_text()
    assert "listening on https://127.0.0.1:" in text and f"bound to:           {WILDCARD}" in text
    assert "'path': '/_sandbox/stats'" in text  # trace logging saw the admin requests
    assert TOKEN not in text
