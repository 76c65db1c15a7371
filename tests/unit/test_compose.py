"""docker-compose.yml cannot run here (no Docker engine); check that it agrees with the code."""

from __future__ import annotations

from typing import Any

import yaml

from gateway.settings import Settings
from tests.conftest import REPO_ROOT


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return data


def test_services_are_broker_topic_init_and_gateway() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "topics-init", "gateway"}
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["topics-init"]["command"] == ["kpgw", "topics", "create"]
    assert services["gateway"]["command"][:2] == ["kpgw", "run"]
    assert (
        services["gateway"]["depends_on"]["topics-init"]["condition"]
        == "service_completed_successfully"
    )


def test_kafka_is_single_node_kraft_with_single_replica_internal_topics() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert int(env[key]) == 1


def test_gateway_variables_are_settings_and_ports_agree() -> None:
    services = _compose()["services"]
    fields = set(Settings.model_fields)
    for name in ("topics-init", "gateway"):
        env = services[name]["environment"]
        for key in env:
            assert key.startswith("KPGW_"), key
            field, _, nested = key.removeprefix("KPGW_").lower().partition("__")
            assert field in fields or field in {"log_format"}, f"{key} is not a setting"
            if nested:  # KPGW_INGRESS__X: a field of the nested settings model
                model = Settings.model_fields[field].annotation
                assert nested in model.model_fields, f"{key} is not a setting"  # type: ignore[union-attr]
        bootstrap_host, _, bootstrap_port = env["KPGW_KAFKA_BOOTSTRAP"].partition(":")
        assert bootstrap_host == "kafka"
        assert f"{bootstrap_port}" in services["kafka"]["environment"]["KAFKA_LISTENERS"]
    http_port = services["gateway"]["environment"]["KPGW_HTTP_PORT"]
    assert any(port.endswith(f":{http_port}") for port in services["gateway"]["ports"])
    assert all(
        port.startswith("127.0.0.1:") for s in services.values() for port in s.get("ports", [])
    )
    # The values parse as Settings would read them.
    values: dict[str, Any] = {}
    for key, value in services["gateway"]["environment"].items():
        if key != "KPGW_LOG_FORMAT":
            field, _, nested = key.removeprefix("KPGW_").lower().partition("__")
            if nested:
                values.setdefault(field, {})[nested] = value
            else:
                values[field] = value
    settings = Settings(**values)
    # The trial's only exposure is the host's loopback (the ports above).
    assert settings.ingress.allow_insecure_off_loopback
    assert settings.http_port == int(http_port)


def test_the_host_port_is_a_listener_advertised_as_the_host_reaches_it() -> None:
    """Found by an SRE review: the broker advertised only kafka:9092, so `kpgw dlq` on the
    host bootstrapped on 127.0.0.1:9092 and was then sent to a name it cannot resolve."""
    kafka = _compose()["services"]["kafka"]
    env = kafka["environment"]
    (mapping,) = kafka["ports"]
    host_ip, host_port, container_port = mapping.split(":")
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    (name,) = [n for n, address in listeners.items() if address == f":{container_port}"]
    assert advertised[name] == f"{host_ip}:{host_port}"
    assert advertised["PLAINTEXT"] == "kafka:9092"  # what the containers use
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) <= set(protocols)
