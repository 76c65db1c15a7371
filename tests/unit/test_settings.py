from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.xmlsafe import DEFAULT_MAX_BYTES
from gateway.cli import cli
from gateway.errors import ConfigurationError
from gateway.settings import MAX_DOCUMENT_BYTES, load_settings


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.topic_prefix == "kp."
    assert settings.http_host == "127.0.0.1"


def test_environment_and_nested_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KPGW_KAFKA_BOOTSTRAP", "broker-1:9092,broker-2:9092")
    clean_env.setenv("KPGW_TOPIC_PREFIX", "test.")
    clean_env.setenv("KPGW_ROUTER__BATCH_MAX_RECORDS", "42")
    settings = load_settings()
    assert settings.kafka_bootstrap == "broker-1:9092,broker-2:9092"
    assert settings.topic_prefix == "test."
    assert settings.router.batch_max_records == 42


def test_toml_file_is_read_and_environment_wins(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "kpgw.toml"
    config.write_text(
        'topic_prefix = "file."\nhttp_port = 9000\n[ingress]\nrate_limit_per_minute = 5\n'
    )
    clean_env.setenv("KPGW_CONFIG", str(config))
    clean_env.setenv("KPGW_HTTP_PORT", "9100")
    settings = load_settings()
    assert settings.topic_prefix == "file."
    assert settings.ingress.rate_limit_per_minute == 5
    assert settings.http_port == 9100


def test_the_example_config_file_loads_with_its_password_from_the_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """examples/kpgw.example.toml, its /etc/kpgw files made under tmp_path (the settings
    check that they are readable)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "kpgw.example.toml"
    text = example.read_text("utf-8")
    for name in ("kafka-ca.pem", "participants.toml", "tls/server.pem", "tls/server.key"):
        assert f"/etc/kpgw/{name}" in text
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    config = tmp_path / "kpgw.toml"
    config.write_text(text.replace("/etc/kpgw/", f"{tmp_path}/"), "utf-8")
    clean_env.setenv("KPGW_CONFIG", str(config))
    clean_env.setenv("KPGW_KAFKA_SECURITY__SASL_PASSWORD", "from-the-environment")
    settings = load_settings()
    assert settings.kafka_security.protocol == "SASL_SSL"
    assert settings.kafka_security.sasl_password is not None
    assert settings.kafka_security.sasl_password.get_secret_value() == "from-the-environment"
    assert settings.router.retention_days == 400
    assert settings.ingress.drain_seconds == 15
    assert settings.router.group_id == "kp.router"


def test_secrets_never_print(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KPGW_KAFKA_SECURITY__PROTOCOL", "SASL_SSL")
    clean_env.setenv("KPGW_KAFKA_SECURITY__SASL_MECHANISM", "SCRAM-SHA-512")
    clean_env.setenv("KPGW_KAFKA_SECURITY__SASL_USERNAME", "kpgw")
    clean_env.setenv("KPGW_KAFKA_SECURITY__SASL_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.kafka_security.sasl_password is not None
    assert settings.kafka_security.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.redacted())


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("KPGW_TOPIC_PREFIX", "bad prefix", "KPGW_TOPIC_PREFIX"),
        ("KPGW_HTTP_PORT", "abc", "KPGW_HTTP_PORT"),
        ("KPGW_TRANSLATOR__MAX_ATTEMPTS", "0", "KPGW_TRANSLATOR__MAX_ATTEMPTS"),
    ],
)
def test_an_invalid_variable_is_named_in_one_configuration_error(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.message.startswith("invalid settings: ")
    assert named in caught.value.message and repr(value) in caught.value.message


def test_a_missing_or_broken_config_file_is_an_error_not_the_defaults(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "kpgw.toml"
    clean_env.setenv("KPGW_CONFIG", str(missing))
    with pytest.raises(ConfigurationError, match="no such file"):
        load_settings()
    missing.write_text("kafka_bootstrap = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings()


def test_the_cli_says_it_in_one_line_and_exits_2(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KPGW_HTTP_PORT", "abc")
    result = CliRunner().invoke(cli, ["topics", "check"])
    assert result.exit_code == 2
    assert "KPGW_HTTP_PORT" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["", " ", "nonsense", "kafka", "a:1,b", "a:1,,b:2", "h:port"])
def test_a_bootstrap_that_is_not_host_port_is_refused(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    """Found by an SRE review: an empty or port-less address was retried forever."""
    clean_env.setenv("KPGW_KAFKA_BOOTSTRAP", value)
    with pytest.raises(ConfigurationError, match=r"KPGW_KAFKA_BOOTSTRAP.*host:port"):
        load_settings()


@pytest.mark.parametrize("value", ["127.0.0.1:9092", "kafka:9092, kafka-2:9092", "[::1]:9092"])
def test_bootstrap_lists_are_accepted(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("KPGW_KAFKA_BOOTSTRAP", value)
    assert load_settings().kafka_bootstrap == value


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"PROTOCOL": "SASL_SSL"}, "needs KPGW_KAFKA_SECURITY__SASL_MECHANISM"),
        (
            {"PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "kpgw"},
            "needs KPGW_KAFKA_SECURITY__SASL_PASSWORD",
        ),
        (  # a blank password is no password (an operations review)
            {
                "PROTOCOL": "SASL_SSL",
                "SASL_MECHANISM": "PLAIN",
                "SASL_USERNAME": "kpgw",
                "SASL_PASSWORD": " \t",
            },
            "needs KPGW_KAFKA_SECURITY__SASL_PASSWORD",
        ),
        ({"SASL_USERNAME": "kpgw", "SASL_PASSWORD": "hunter2"}, "does not use them"),
        (
            {
                "PROTOCOL": "SASL_PLAINTEXT",
                "SASL_MECHANISM": "GSSAPI",
                "SASL_USERNAME": "kpgw",
                "SASL_PASSWORD": "hunter2",
            },
            "is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        ({"PROTOCOL": "SSL", "SSL_CAFILE": "/nonexistent/ca.pem"}, "not a readable file"),
    ],
)
def test_half_configured_broker_security_is_refused(
    clean_env: pytest.MonkeyPatch, variables: dict[str, str], said: str
) -> None:
    """Found by an SRE review: SASL_SSL without credentials was accepted and failed later
    at the broker, with an error that named no setting."""
    for name, value in variables.items():
        clean_env.setenv(f"KPGW_KAFKA_SECURITY__{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert said in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("variable", ["DASHBOARD_TOKEN", "METRICS_TOKEN"])
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_operator_token_is_a_configuration_error(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Found by an operations review: ``KPGW_INGRESS__METRICS_TOKEN=`` counted as set, so
    ``run --only router`` off loopback passed the refusal of open metrics, and an empty
    Basic password (``curl -u ':'``) was accepted."""
    clean_env.setenv(f"KPGW_INGRESS__{variable}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert f"KPGW_INGRESS__{variable}: " in caught.value.message
    assert "is empty" in caught.value.message
    result = CliRunner().invoke(cli, ["run", "--only", "router"])
    assert result.exit_code == 2
    assert f"KPGW_INGRESS__{variable}" in result.output


def test_the_body_limit_cannot_exceed_what_the_translator_parses(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """A review: KPGW_INGRESS__MAX_BODY_BYTES above 2 MiB was taken, yet the parser kept its
    own 2 MiB limit: with synchronous validation the ingress still answered 413, without
    it, it accepted documents that the translator then dead-lettered (DOCUMENT_TOO_LARGE).
    It is a configuration error now, naming the setting."""
    assert MAX_DOCUMENT_BYTES == DEFAULT_MAX_BYTES
    clean_env.setenv("KPGW_INGRESS__MAX_BODY_BYTES", str(MAX_DOCUMENT_BYTES))
    assert load_settings().ingress.max_body_bytes == MAX_DOCUMENT_BYTES
    clean_env.setenv("KPGW_INGRESS__MAX_BODY_BYTES", str(MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(ConfigurationError, match=r"KPGW_INGRESS__MAX_BODY_BYTES.*2097152"):
        load_settings()
