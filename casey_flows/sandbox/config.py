"""All of the sandbox's knobs in one pydantic model, so the CLI, a JSON config file, the
embedded runner and tests configure it the same way and every default is visible in one place.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from casey_flows.client._base import is_loopback_host
from casey_flows.sandbox.vocabulary import CALL_OUT_CHANNEL, OUTCOMES

DEFAULT_API_KEY = "sk_test_sandbox"
DEFAULT_CALL_OUT_CONNECTION = "demo-outbound"
DEFAULT_OTHER_CONNECTION = "demo-web"
SEED_TIMESTAMP = "2026-01-01T00:00:00+00:00"
ADMIN_TOKEN_ENV = "CASEY_SANDBOX_ADMIN_TOKEN"
ADMIN_TOKEN_MIN_LENGTH = 16

ListLagSeconds = Annotated[
    float,
    Field(
        ge=0,
        description="real seconds (not scaled by speed) a new call stays out of the call list; "
        "reads by id are immediate. Models a lagging read replica; 0 = off",
    ),
]


class ConnectionSpec(BaseModel):
    """One connection seeded at start-up (the sandbox has no endpoint to create them)."""

    model_config = ConfigDict(extra="forbid")

    connection_code: str
    agent_id: str = "agent_sandbox"
    invite_type: str = "link"
    auth_style: str = "none"
    channel_type: str = CALL_OUT_CHANNEL
    available_modes: list[str] = Field(default_factory=lambda: ["voice"])
    default_mode: str = "voice"
    max_uses: int | None = None
    expires_at: str | None = None
    created_at: str = SEED_TIMESTAMP


def _default_connections() -> list[ConnectionSpec]:
    return [
        ConnectionSpec(connection_code=DEFAULT_CALL_OUT_CONNECTION, channel_type=CALL_OUT_CHANNEL),
        ConnectionSpec(
            connection_code=DEFAULT_OTHER_CONNECTION,
            channel_type="web",
            invite_type="link",
            available_modes=["voice", "text"],
            created_at="2026-01-01T00:00:01+00:00",
        ),
    ]


class FaultSettings(BaseModel):
    """Faults injected on ``/v1/backend`` routes; all off by default. Rates are in [0, 1].

    ``next_*`` counters make a fault deterministic for tests: the next N matching requests get
    it, regardless of the rates.
    """

    model_config = ConfigDict(extra="forbid")

    error_5xx_rate: float = Field(default=0.0, ge=0, le=1, description="5xx before doing anything")
    error_5xx_status: int = Field(default=503, ge=500, le=599)
    latency_ms: tuple[float, float] | None = Field(
        default=None, description="added latency, uniform in [min, max] milliseconds"
    )
    rate_429: float = Field(default=0.0, ge=0, le=1, description="synthetic 429s")
    retry_after_s: float = Field(
        default=1.0, ge=0, description="Retry-After sent with synthetic 429s"
    )
    ambiguous_5xx_rate: float = Field(
        default=0.0, ge=0, le=1, description="create: call IS created, the response is a 500"
    )
    ambiguous_drop_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="create: call IS created, the connection drops mid-response",
    )
    lost_create_rate: float = Field(
        default=0.0, ge=0, le=1, description="create: call NOT created, the response is a 500"
    )
    next_5xx: int = Field(default=0, ge=0)
    next_429: int = Field(default=0, ge=0)
    next_ambiguous_5xx: int = Field(default=0, ge=0)
    next_ambiguous_drop: int = Field(default=0, ge=0)
    next_lost_create: int = Field(default=0, ge=0)

    @field_validator("latency_ms")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError("latency_ms must be (min, max) with 0 <= min <= max")
        return value


class SandboxConfig(BaseModel):
    """Everything that shapes the sandbox's behaviour. 0 or None switches a limit off."""

    # Validation errors never echo what was given: the admin token and API keys are inputs.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 8765
    allow_remote: bool = False
    api_keys: list[str] = Field(
        default_factory=list,
        repr=False,
        description="accepted sk_test_ keys; empty list = any sk_test_ key is accepted "
        "(on loopback only: off loopback the keys must be listed)",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="required on /_sandbox/* as 'Authorization: Bearer <token>' when set; "
        f"mandatory off loopback. The CLI reads it from ${ADMIN_TOKEN_ENV}, never from a flag",
    )
    tls_certfile: str | None = Field(default=None, description="PEM certificate: serve https")
    tls_keyfile: str | None = Field(
        default=None, description="PEM private key (if not in the certfile)"
    )
    allow_plain_http: bool = Field(
        default=False,
        description="serve plain http off loopback (a private network such as a container's): "
        "API keys and the admin token then cross that network in clear",
    )
    seed: int = 0
    speed: float = Field(
        default=1.0, gt=0, description="time compression: 100 = a 60 s call takes 0.6 s"
    )
    outcome_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "completed": 0.55,
            "agent_ended": 0.05,
            "voicemail": 0.15,
            "busy": 0.08,
            "no_answer": 0.12,
            "failed": 0.05,
        }
    )
    ring_time_s: float = Field(default=5.0, ge=0, description="mean ring time (uniform 0.5x..1.5x)")
    no_answer_timeout_s: float = Field(
        default=30.0, ge=0, description="ringing time before no_answer"
    )
    call_duration_mean_s: float = Field(
        default=60.0, ge=0, description="mean talk time of a connected call"
    )
    call_duration_distribution: Literal["exponential", "lognormal", "fixed"] = "lognormal"
    lognormal_sigma: float = Field(default=0.5, ge=0)
    voicemail_duration_s: float = Field(default=20.0, ge=0)
    max_call_duration_s: float | None = Field(
        default=None, gt=0, description="cap on talk time; a call hitting it ends with max_duration"
    )
    concurrency_cap: int | None = Field(
        default=10,
        ge=0,
        description="max calls ringing or in_progress per connection; 0/None = off",
    )
    rate_limit_per_s: float | None = Field(
        default=50.0, ge=0, description="token-bucket refill per API key; 0/None = off"
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="bucket size; default = 2 x rate_limit_per_s (at least 1)"
    )
    list_lag_seconds: ListLagSeconds = 0.0
    db_path: str | None = Field(default=None, description="SQLite file; None = memory only")
    db_flush_interval_s: float = Field(default=0.05, gt=0)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    connections: list[ConnectionSpec] = Field(default_factory=_default_connections)
    log_level: str = "warning"

    @field_validator("outcome_weights")
    @classmethod
    def _known_outcomes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; known: {sorted(OUTCOMES)}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("outcome weights must be >= 0 with a positive sum")
        return value

    @field_validator("admin_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Printable ASCII so it travels unchanged in a header; long enough not to be guessed
        # (admin routes have no rate limit).
        text = value.get_secret_value() if value is not None else ""
        if value is not None and (
            len(text) < ADMIN_TOKEN_MIN_LENGTH or not all("!" <= ch <= "~" for ch in text)
        ):
            raise ValueError(
                f"admin_token must be at least {ADMIN_TOKEN_MIN_LENGTH} printable ASCII "
                "characters without spaces (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        return value

    @model_validator(mode="after")
    def _unique_connections(self) -> SandboxConfig:
        codes = [c.connection_code for c in self.connections]
        if len(codes) != len(set(codes)):
            raise ValueError("connection codes must be unique")
        return self

    @model_validator(mode="after")
    def _key_needs_cert(self) -> SandboxConfig:
        if self.tls_keyfile and not self.tls_certfile:
            raise ValueError("tls_keyfile needs tls_certfile")
        return self

    @property
    def is_remote(self) -> bool:
        """Bound off loopback: decided by the address the sandbox binds, never by who calls,
        so a request arriving via 127.0.0.1 on a 0.0.0.0-bound sandbox is treated as remote."""
        return not is_loopback_host(self.host)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_certfile else "http"

    def root_url(self, port: int) -> str:
        """Where a process on this machine reaches the sandbox: a wildcard bind via loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host.strip('[]')}]"
        return f"{self.scheme}://{host}:{port}"

    def missing_for_remote(self) -> list[str]:
        """What this config lacks to be served off loopback (empty on loopback or when complete).

        The CLI and ``create_app`` both refuse to serve a config for which this is not empty.
        """
        if not self.is_remote:
            return []
        missing = []
        if not self.allow_remote:
            missing.append("binding off loopback needs --allow-remote (allow_remote)")
        if self.admin_token is None:
            missing.append(
                f"an admin token: export {ADMIN_TOKEN_ENV} (or name another variable with "
                "--admin-token-env VAR; config: admin_token)"
            )
        if not self.api_keys:
            missing.append(
                "the accepted API keys, listed explicitly: --api-key sk_test_... "
                "(any sk_test_ key is accepted on loopback only; config: api_keys)"
            )
        if not self.tls_certfile and not self.allow_plain_http:
            missing.append(
                "TLS: --tls-cert FILE [--tls-key FILE] (config: tls_certfile, tls_keyfile); "
                "or --allow-plain-http on a private network, as the token and keys would "
                "otherwise cross the network in clear"
            )
        return missing

    @property
    def effective_concurrency_cap(self) -> int | None:
        return self.concurrency_cap or None

    @property
    def effective_rate_limit(self) -> float | None:
        return self.rate_limit_per_s or None

    @property
    def call_out_connection(self) -> str | None:
        """The first call_out connection: what the CLI prints and the embedded runner exposes."""
        return next(
            (c.connection_code for c in self.connections if c.channel_type == CALL_OUT_CHANNEL),
            None,
        )

    @property
    def other_connection(self) -> str | None:
        return next(
            (c.connection_code for c in self.connections if c.channel_type != CALL_OUT_CHANNEL),
            None,
        )

    @property
    def display_api_key(self) -> str:
        """A key a user can paste: the first configured one, or the default test key."""
        return self.api_keys[0] if self.api_keys else DEFAULT_API_KEY
