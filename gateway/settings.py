"""Configuration: ``KPGW_`` environment variables, optionally a TOML file (``KPGW_CONFIG``).

Small nested models rather than one flat class; nested values are also reachable as
``KPGW_<GROUP>__<FIELD>`` (e.g. ``KPGW_INGRESS__MAX_BODY_BYTES``). The documented top-level
variables (``KPGW_KAFKA_BOOTSTRAP``, ``KPGW_TOPIC_PREFIX``, ``KPGW_PARTNERS_FILE``,
``KPGW_HTTP_HOST``, ``KPGW_HTTP_PORT``) stay flat because every deployment sets them.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.errors import ConfigurationError

#: Username/password mechanisms (what ``gateway.kafka.clients`` passes to aiokafka).
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SERVER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$")


class KafkaSecurity(BaseModel):
    """Optional SASL/TLS to the broker; secrets never reach logs or errors."""

    protocol: str = Field(default="PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$")
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        """SASL needs its mechanism and both credentials, and credentials need SASL: either
        half alone would connect without authenticating (or fail at the broker with an
        error that does not name the setting). Found by an SRE review."""
        sasl = self.protocol.startswith("SASL_")
        given = [
            name
            for name, value in (
                ("SASL_MECHANISM", self.sasl_mechanism),
                ("SASL_USERNAME", self.sasl_username),
                ("SASL_PASSWORD", self.sasl_password),
            )
            # Blank is not given: a password of spaces would be sent to the broker as set.
            if value is not None and _text(value).strip()
        ]
        if sasl and len(given) < 3:
            missing = {"SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD"} - set(given)
            raise ValueError(
                f"protocol {self.protocol} needs KPGW_KAFKA_SECURITY__"
                + " and KPGW_KAFKA_SECURITY__".join(sorted(missing))
                + " (not empty)"
            )
        if not sasl and given:
            raise ValueError(
                f"{', '.join(given)} set but protocol {self.protocol} does not use them "
                "(set KPGW_KAFKA_SECURITY__PROTOCOL=SASL_SSL or SASL_PLAINTEXT)"
            )
        if sasl and self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"SASL mechanism {self.sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
            )
        if self.ssl_cafile is not None and not self.ssl_cafile.is_file():
            raise ValueError(f"SSL_CAFILE {self.ssl_cafile} is not a readable file")
        return self


def _text(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class TranslatorSettings(BaseModel):
    group_id: str = Field(default="", description="default: '<topic prefix>translator'")
    max_attempts: int = Field(default=3, ge=1, description="tries before a crash is a poison pill")
    retry_backoff_ms: int = Field(default=200, ge=10)
    retry_backoff_max_ms: int = Field(default=10_000, ge=100)
    crash_journal_dir: Path | None = Field(
        default=None,
        description="where the translator notes the record in flight, so that a record "
        "that kills the process is dead-lettered after max_attempts deaths (default: "
        "$XDG_STATE_HOME/kpgw or ~/.local/state/kpgw; in a container, a volume that "
        "survives restarts)",
    )


class RouterSettings(BaseModel):
    group_id: str = Field(default="", description="default: '<topic prefix>router'")
    batch_max_records: int = Field(default=500, ge=1)
    commit_interval_ms: int = Field(default=100, ge=10)
    timer_interval_s: float = Field(default=5.0, gt=0)
    clock_jump_threshold_s: float = Field(
        default=300.0,
        gt=0,
        description="a forward jump of the wall clock against the monotonic clock larger "
        "than this holds the timer's overdue, orphan and retirement actions until the "
        "broker accepted records stamped with the new time (docs/router.md)",
    )
    retention_days: int = Field(
        default=400,
        ge=1,
        description="how long a settled certificate's state is kept after its last change; "
        "longer than the partner topics' 365 days",
    )
    max_events_per_certificate: int = Field(
        default=100,
        ge=4,
        description="distinct documents one certificate's state takes in from its issuer, "
        "from its importer, and from all other participants together; further ones are "
        "dead-lettered (TOO_MANY_EVENTS)",
    )
    max_events_per_sender: int = Field(
        default=10,
        ge=2,
        description="distinct documents about one certificate that a participant other than "
        "its issuer may send; further ones are dead-lettered (TOO_MANY_EVENTS)",
    )


#: The largest document the gateway parses (``adapters.xmlsafe.DEFAULT_MAX_BYTES``, whose
#: equality a test checks: settings do not import the adapters).
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


class IngressSettings(BaseModel):
    max_body_bytes: int = Field(
        default=MAX_DOCUMENT_BYTES,
        ge=1024,
        le=MAX_DOCUMENT_BYTES,
        description="the largest request body the ingress reads (413 above it); at most "
        "2 MiB, the largest document the translator parses (DOCUMENT_TOO_LARGE): a larger "
        "limit would accept documents only to dead-letter them",
    )
    request_deadline_s: float = Field(default=10.0, gt=0)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    validate_sync: bool = True
    validation_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description="worker processes for synchronous validation, so a large document does "
        "not stall the event loop for every other request; 0: validate on the event loop",
    )
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    tls_client_cafile: Path | None = Field(
        default=None, description="enables mutual TLS; the participant comes from the client cert"
    )
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="operator token for GET /dashboard (Basic password or Bearer); unset: open",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="token for GET /metrics (Prometheus bearer_token, or Basic password); "
        "unset: open (the metrics name participants and pairs)",
    )
    drain_seconds: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="on SIGTERM, keep serving this long with /readyz failing, so a load "
        "balancer stops routing here before the listener closes (a second signal cuts it)",
    )
    allow_insecure_off_loopback: bool = Field(
        default=False,
        description="serve off loopback with the public demo tokens or operator pages "
        "without a token (a local trial whose port is bound to loopback, e.g. docker-compose)",
    )

    @field_validator("tls_certfile", "tls_keyfile", "tls_client_cafile", mode="before")
    @classmethod
    def _tls_file_not_blank(cls, value: Any) -> Any:
        """An empty variable would be the path '.', the current directory."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name a PEM file, or leave the variable unset")
        return value

    @model_validator(mode="after")
    def _tls_whole(self) -> IngressSettings:
        problem = tls_settings_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @field_validator("dashboard_token", "metrics_token")
    @classmethod
    def _operator_token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token is no token: it passed the off-loopback refusal (which asks only
        whether one is set), and a client presenting an empty password matched it. Found
        by an operations review (``KPGW_INGRESS__METRICS_TOKEN=`` in an environment file)."""
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(
                "is empty: set a random token (e.g. openssl rand -base64 32), or leave the "
                "variable unset for no token"
            )
        return value


def tls_settings_problem(ingress: IngressSettings) -> str | None:
    """Why the ingress's TLS files are half configured, or None. A key alone served plain
    HTTP without a word, a certificate alone failed with "PEM lib" (found by an operations
    review)."""
    if (ingress.tls_certfile is None) != (ingress.tls_keyfile is None):
        given, missing = (
            ("CERTFILE", "KEYFILE") if ingress.tls_keyfile is None else ("KEYFILE", "CERTFILE")
        )
        return (
            f"KPGW_INGRESS__TLS_{given} is set without KPGW_INGRESS__TLS_{missing}: TLS needs "
            "both (they may name one PEM file holding the certificate and its key), plain "
            "HTTP neither"
        )
    if ingress.tls_client_cafile is not None and ingress.tls_certfile is None:
        return (
            "KPGW_INGRESS__TLS_CLIENT_CAFILE (mutual TLS) needs KPGW_INGRESS__TLS_CERTFILE "
            "and KPGW_INGRESS__TLS_KEYFILE"
        )
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KPGW_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port...]"
    )
    topic_prefix: str = Field(default="kp.", pattern=r"^[A-Za-z0-9._-]*$")
    partners_file: Path | None = Field(
        default=None, description="the participant registry TOML; default: the shipped example"
    )
    topic_replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="copies of every partition when topics are created; default: 3, or "
        "the number of brokers when the cluster has fewer",
    )
    topic_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="copies a write needs before the broker acknowledges it (acks=all); "
        "default: 2 with 3 or more copies, else 1",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    client_id: str = "kpgw"
    group_session_timeout_s: float = Field(
        default=20.0,
        ge=6,
        le=300,
        description="how long the group waits for a translator or router that stopped "
        "answering (killed, frozen, its host gone) before giving its partitions to another: "
        "shorter fails over sooner, longer rides out pauses without moving partitions; "
        "the brokers' group.min/max.session.timeout.ms bound it (6 s to 30 min by default)",
    )
    kafka_security: KafkaSecurity = KafkaSecurity()
    translator: TranslatorSettings = TranslatorSettings()
    router: RouterSettings = RouterSettings()
    ingress: IngressSettings = IngressSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        toml_file = os.environ.get("KPGW_CONFIG") or None  # read per load, not at import
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        """host:port[,host:port...]: an empty or port-less value would be retried forever."""
        servers = [server.strip() for server in value.split(",")]
        wrong = [server for server in servers if not _SERVER.match(server)]
        if wrong or not value.strip():
            raise ValueError(
                f"{', '.join(repr(x) for x in wrong) or 'nothing'} is not host:port; write "
                "host:port[,host:port...], e.g. 127.0.0.1:9092 or [::1]:9092"
            )
        return value

    @model_validator(mode="after")
    def _derive_group_ids(self) -> Settings:
        # Consumer groups follow the topic prefix, so two deployments (or a demo and the
        # tests) on one cluster never share a group and steal each other's partitions.
        if not self.translator.group_id:
            self.translator = self.translator.model_copy(
                update={"group_id": f"{self.topic_prefix}translator"}
            )
        if not self.router.group_id:
            self.router = self.router.model_copy(update={"group_id": f"{self.topic_prefix}router"})
        return self

    def with_prefix(self, prefix: str) -> Settings:
        """A copy on other topics; group ids derived from the old prefix follow the new one."""
        translator, router = self.translator, self.router
        if translator.group_id == f"{self.topic_prefix}translator":
            translator = translator.model_copy(update={"group_id": f"{prefix}translator"})
        if router.group_id == f"{self.topic_prefix}router":
            router = router.model_copy(update={"group_id": f"{prefix}router"})
        return self.model_copy(
            update={"topic_prefix": prefix, "translator": translator, "router": router}
        )

    def redacted(self) -> dict[str, Any]:
        """For logs: SecretStr fields print as '**********'."""
        return self.model_dump(mode="json")


def load_settings(**overrides: Any) -> Settings:
    """The settings, or ``ConfigurationError`` saying which variable or file is wrong (one
    line per problem, never a stack trace)."""
    config = os.environ.get("KPGW_CONFIG") or None
    if config is not None and not Path(config).is_file():
        # Silently falling back to the defaults would point every command, replay included,
        # at whatever broker answers on 127.0.0.1:9092.
        raise ConfigurationError(f"KPGW_CONFIG={config}: no such file")
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"KPGW_CONFIG={config}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        problems = [
            f"{_variable(error['loc'])}: {error['msg']}{_echo(error['loc'], error.get('input'))}"
            for error in exc.errors(include_url=False)
        ]
        raise ConfigurationError(
            "invalid settings: " + "; ".join(problems) + _from_file(config)
        ) from None


def _echo(location: tuple[Any, ...], given: Any) -> str:
    """The value given, where it helps and is no secret: a model-level error's input is
    the whole section, secrets included."""
    named = _variable(location)
    if not isinstance(given, str | int | float) or any(
        word in named for word in ("PASSWORD", "TOKEN", "SECRET")
    ):
        return ""
    return f" (got {given!r})"


def _variable(location: tuple[Any, ...]) -> str:
    """The environment variable of a settings field: ``KPGW_`` and ``__`` for nesting."""
    return "KPGW_" + "__".join(str(part).upper() for part in location)


def _from_file(config: str | None) -> str:
    return f" (from the environment or KPGW_CONFIG={config})" if config else ""
