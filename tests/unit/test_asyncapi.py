"""asyncapi.yaml describes what the code really does: every topic of gateway.kafka.topics
with its partitions, cleanup policy and retention; the Avro schema the code writes to each
topic (the newest released, self-contained file, equal to the current schema); every header
the code reads or writes; and the document is structurally valid AsyncAPI 3.0.

No AsyncAPI validator is a project dependency (the official JSON Schema ships on npm, not
PyPI), so the structure is checked here by hand: the required fields, the fields each object
may have, every reference, the operation-channel-message links and the address parameters.
"""

from __future__ import annotations

import ast
import json
import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest
import yaml

from gateway import codec
from gateway.dlq import headers as dlq
from gateway.dlq.replay import replay_headers
from gateway.dlq.store import DeadLetter
from gateway.errors import Finding
from gateway.kafka.topics import (
    CORE_TOPICS,
    PARTNER_CONFIG,
    PARTNER_PARTITIONS,
    TopicSpec,
    partner_participants,
    partner_topic,
)
from gateway.registry import ParticipantRegistry
from gateway.router.records import Emission, TopicKind
from gateway.router.restore import state_headers
from gateway.router.state import STATE_SCHEMA
from gateway.rules import CERTIFICATE_NUMBER
from gateway.settings import Settings
from gateway.translator import inbound

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "asyncapi.yaml"
PREFIX = "kp."
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
BINDING_VERSION = "0.5.0"
PARTNER_ADDRESS = partner_topic(PREFIX, "{participant}")

#: The top-level Avro schema the code writes to each topic (suffix after the prefix);
#: None: raw bytes (XML as sent, or a dead letter's original value).
TOPIC_SCHEMAS: dict[str, str | None] = {
    "inbound": None,
    "events": "CertificateEvent",
    "router.changelog": STATE_SCHEMA,
    "partner.{participant}": Emission(TopicKind.PARTNER, "x", {}, "EU").schema,
    "outcomes": Emission(TopicKind.OUTCOMES, "x", {}).schema,
    "status": Emission(TopicKind.STATUS, "x", {}).schema,
    "dlq": None,
    "dlq.audit": "DlqAudit",
}
HEADER_NAME = re.compile(r"^(kpgw|kafka_dlt)-[a-z]+(-[a-z]+)*$")
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")

# The fields AsyncAPI 3.0.0 allows per object (besides ``x-`` extensions).
TOP_LEVEL_FIELDS = {
    "asyncapi",
    "id",
    "info",
    "servers",
    "defaultContentType",
    "channels",
    "operations",
    "components",
}
INFO_FIELDS = {
    "title",
    "version",
    "description",
    "termsOfService",
    "contact",
    "license",
    "tags",
    "externalDocs",
}
SERVER_FIELDS = {
    "host",
    "protocol",
    "protocolVersion",
    "pathname",
    "description",
    "title",
    "summary",
    "variables",
    "security",
    "tags",
    "externalDocs",
    "bindings",
}
CHANNEL_FIELDS = {
    "address",
    "messages",
    "title",
    "summary",
    "description",
    "servers",
    "parameters",
    "tags",
    "externalDocs",
    "bindings",
}
OPERATION_FIELDS = {
    "action",
    "channel",
    "title",
    "summary",
    "description",
    "security",
    "tags",
    "externalDocs",
    "bindings",
    "traits",
    "messages",
    "reply",
}
MESSAGE_FIELDS = {
    "headers",
    "payload",
    "correlationId",
    "contentType",
    "name",
    "title",
    "summary",
    "description",
    "tags",
    "externalDocs",
    "bindings",
    "examples",
    "traits",
}
PARAMETER_FIELDS = {"enum", "default", "description", "examples", "location"}
COMPONENT_FIELDS = {
    "schemas",
    "servers",
    "channels",
    "operations",
    "messages",
    "securitySchemes",
    "serverVariables",
    "parameters",
    "correlationIds",
    "replies",
    "replyAddresses",
    "externalDocs",
    "tags",
    "operationTraits",
    "messageTraits",
    "serverBindings",
    "channelBindings",
    "operationBindings",
    "messageBindings",
}
KAFKA_CHANNEL_BINDING = {"topic", "partitions", "replicas", "topicConfiguration", "bindingVersion"}
KAFKA_MESSAGE_BINDING = {
    "key",
    "schemaIdLocation",
    "schemaIdPayloadEncoding",
    "schemaLookupStrategy",
    "bindingVersion",
}
KAFKA_OPERATION_BINDING = {"groupId", "clientId", "bindingVersion"}


# --- reading the document ---------------------------------------------------------------


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = yaml.safe_load(DOCUMENT.read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def pointer(document: dict[str, Any], ref: str) -> Any:
    """Resolve a local reference ``#/a/b`` (JSON Pointer, ``~1`` = ``/``, ``~0`` = ``~``)."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref}: {key!r} is inside a non-object"
        assert key in node, f"{ref} does not resolve ({key!r} missing)"
        node = node[key]
    return node


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and str(node["$ref"]).startswith("#/"):
        node = pointer(document, node["$ref"])
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def channels_by_address(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["address"]: channel for channel in document["channels"].values()}


def channel_messages(document: dict[str, Any], address: str) -> list[dict[str, Any]]:
    channel = channels_by_address(document)[address]
    return [deref(document, message) for message in channel["messages"].values()]


def header_properties(document: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """Header name -> its (dereferenced) schema, through ``$ref`` and ``allOf``."""

    def collect(schema: Any) -> dict[str, Any]:
        schema = deref(document, schema)
        found: dict[str, Any] = {}
        for part in schema.get("allOf", []):
            found.update(collect(part))
        for name, prop in schema.get("properties", {}).items():
            found[name] = deref(document, prop)
        return found

    return collect(message["headers"]) if "headers" in message else {}


def documented_headers(document: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for message in document["components"]["messages"].values():
        names |= set(header_properties(document, message))
    return names


def avro_payload_file(message: dict[str, Any]) -> Path | None:
    payload = message.get("payload", {})
    if payload.get("schemaFormat") != AVRO_FORMAT:
        return None
    ref = str(payload["schema"]["$ref"])
    return (DOCUMENT.parent / ref).resolve()


def full_name(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


# --- AsyncAPI 3.0 structure ---------------------------------------------------------------


def test_top_level_fields_are_those_of_asyncapi_3_0(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert {"asyncapi", "info"} <= set(doc)
    assert set(doc) - TOP_LEVEL_FIELDS == set()
    assert re.match(r"^[a-z][a-z0-9+.-]*:", doc["id"]), "id must be a URI"
    info = doc["info"]
    assert isinstance(info["title"], str)
    assert isinstance(info["version"], str)
    assert set(info) - INFO_FIELDS == set()
    assert set(info["license"]) <= {"name", "url"}
    assert re.match(r"^https?://", info["license"]["url"])  # absolute, as the spec requires
    assert "KPGW_TOPIC_PREFIX" in info["description"]
    assert set(doc["components"]) - COMPONENT_FIELDS == set()
    for kind, entries in doc["components"].items():
        for key in entries:
            assert COMPONENT_KEY.match(key), f"components.{kind}.{key}: invalid key"


def test_servers_are_the_local_and_docker_brokers(doc: dict[str, Any]) -> None:
    servers = doc["servers"]
    assert {name: (s["host"], s["protocol"]) for name, s in servers.items()} == {
        "local": ("127.0.0.1:9092", "kafka"),
        "docker": ("kafka:9092", "kafka"),
    }
    assert Settings.model_fields["kafka_bootstrap"].default == servers["local"]["host"]
    for server in servers.values():
        assert set(server) - SERVER_FIELDS == set()


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        if ref.startswith("#/"):
            pointer(doc, ref)
        else:
            assert not re.match(r"^[a-z]+://", ref), f"{ref}: no fetching at run time"
            assert (DOCUMENT.parent / ref).is_file(), f"{ref} does not exist"


def test_channels_parameters_and_bindings_are_well_formed(doc: dict[str, Any]) -> None:
    for key, channel in doc["channels"].items():
        assert COMPONENT_KEY.match(key)
        assert set(channel) - CHANNEL_FIELDS == set(), key
        assert channel["messages"], f"channel {key} has no message"
        in_address = set(re.findall(r"{([^}]+)}", channel["address"]))
        assert in_address == set(channel.get("parameters", {})), key
        for parameter in channel.get("parameters", {}).values():
            assert set(deref(doc, parameter)) - PARAMETER_FIELDS == set()
        kafka = channel["bindings"]["kafka"]
        assert set(kafka) - KAFKA_CHANNEL_BINDING == set(), key
        assert kafka["bindingVersion"] == BINDING_VERSION
        assert all(
            p in {"compact", "delete"} for p in kafka["topicConfiguration"]["cleanup.policy"]
        )


def test_messages_are_well_formed(doc: dict[str, Any]) -> None:
    for key, message in doc["components"]["messages"].items():
        assert set(message) - MESSAGE_FIELDS == set(), key
        assert message["name"] == key
        kafka = message["bindings"]["kafka"]
        assert set(kafka) - KAFKA_MESSAGE_BINDING == set(), key
        assert kafka["bindingVersion"] == BINDING_VERSION
        assert kafka["key"]["type"] == "string", f"{key}: Kafka keys are UTF-8 strings"
        assert "$ref" not in kafka["key"], (
            f"{key}: inline the key schema (a $ref key fails the official JSON Schema)"
        )
        payload = message["payload"]
        if "schemaFormat" in payload:
            assert set(payload) == {"schemaFormat", "schema"}, key
        if "headers" in message:
            headers = deref(doc, message["headers"])
            assert headers.get("type") == "object" or "allOf" in headers, key


def test_operations_link_channels_and_their_own_messages(doc: dict[str, Any]) -> None:
    actions: dict[str, set[str]] = {key: set() for key in doc["channels"]}
    for key, operation in doc["operations"].items():
        assert COMPONENT_KEY.match(key)
        assert set(operation) - OPERATION_FIELDS == set(), key
        assert operation["action"] in {"send", "receive"}, key
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), key
        channel_key = channel_ref.removeprefix("#/channels/")
        pointer(doc, channel_ref)
        actions[channel_key].add(operation["action"])
        assert operation["messages"], f"{key} names no message"
        for message in operation["messages"]:
            # The spec: an operation's messages MUST be a subset of its channel's messages.
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), key
            pointer(doc, message["$ref"])
        for binding in operation.get("bindings", {}).values():
            assert set(binding) - KAFKA_OPERATION_BINDING == set(), key
        assert operation["tags"], f"{key}: tag the component"
    components = {tag["name"] for tag in doc["info"]["tags"]}
    for operation in doc["operations"].values():
        assert {tag["name"] for tag in operation["tags"]} <= components
    assert {"ingress", "translator", "router", "partner", "ops"} <= components
    for channel, seen in actions.items():
        assert seen == {"send", "receive"}, f"{channel}: who writes it and who reads it?"


def test_consumer_groups_follow_the_settings(doc: dict[str, Any]) -> None:
    settings = Settings(topic_prefix=PREFIX)
    groups = {
        key: op["bindings"]["kafka"]["groupId"]
        for key, op in doc["operations"].items()
        if "groupId" in op.get("bindings", {}).get("kafka", {})
    }
    assert groups["translatorConsumeInbound"]["const"] == settings.translator.group_id
    assert groups["routerConsumeEvents"]["const"] == settings.router.group_id
    assert re.match(groups["partnerReceiveNotifications"]["pattern"], "kp.partner.EU.risk-engine")


# --- topics -------------------------------------------------------------------------------


def expected_binding(spec: TopicSpec | None) -> tuple[int, dict[str, Any]]:
    partitions, configs = (
        (PARTNER_PARTITIONS, PARTNER_CONFIG) if spec is None else (spec.partitions, spec.configs)
    )
    topic_config: dict[str, Any] = {
        "cleanup.policy": configs.get("cleanup.policy", "delete").split(",")
    }
    if "retention.ms" in configs:
        topic_config["retention.ms"] = int(configs["retention.ms"])
    return partitions, topic_config


def test_every_topic_of_the_code_is_a_channel_and_nothing_else(doc: dict[str, Any]) -> None:
    assert Settings.model_fields["topic_prefix"].default == PREFIX
    wanted = {spec.name(PREFIX) for spec in CORE_TOPICS} | {PARTNER_ADDRESS}
    assert set(channels_by_address(doc)) == wanted
    assert {f"{PREFIX}{suffix}" for suffix in TOPIC_SCHEMAS} == wanted


@pytest.mark.parametrize("spec", [*CORE_TOPICS, None], ids=lambda s: s.suffix if s else "partner")
def test_partitions_cleanup_and_retention_match_the_code(
    doc: dict[str, Any], spec: TopicSpec | None
) -> None:
    address = spec.name(PREFIX) if spec else PARTNER_ADDRESS
    kafka = channels_by_address(doc)[address]["bindings"]["kafka"]
    partitions, topic_config = expected_binding(spec)
    assert (kafka["partitions"], kafka["topicConfiguration"]) == (partitions, topic_config)


def test_partner_channel_parameter_names_real_partners(
    doc: dict[str, Any], example_registry: ParticipantRegistry
) -> None:
    channel = channels_by_address(doc)[PARTNER_ADDRESS]
    parameter = deref(doc, channel["parameters"]["participant"])
    assert set(parameter["examples"]) <= set(partner_participants(example_registry))
    assert "EU" in parameter["examples"]


def test_certificate_keys_use_the_code_pattern(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["CertificateId"]["pattern"] == CERTIFICATE_NUMBER.pattern
    for suffix in ("events", "router.changelog", "partner.{participant}", "outcomes"):
        for message in channel_messages(doc, f"{PREFIX}{suffix}"):
            assert message["bindings"]["kafka"]["key"] == schemas["CertificateId"], suffix
    inbound_key = inbound.inbound_key("RU", "KP-2026-000123").decode()
    assert re.match(schemas["InboundKey"]["pattern"], inbound_key)


# --- schemas ------------------------------------------------------------------------------


def test_top_level_schemas_are_each_on_a_topic() -> None:
    assert {name for name in TOPIC_SCHEMAS.values() if name} == set(codec.TOP_LEVEL)


@pytest.mark.parametrize("suffix", list(TOPIC_SCHEMAS))
def test_payload_is_the_schema_the_code_writes(doc: dict[str, Any], suffix: str) -> None:
    messages = channel_messages(doc, f"{PREFIX}{suffix}")
    name = TOPIC_SCHEMAS[suffix]
    files = [path for path in map(avro_payload_file, messages) if path is not None]
    if name is None:
        assert files == [], f"{suffix} carries raw bytes, not Avro"
        for message in messages:
            assert message["payload"] == {
                **message["payload"],
                "type": "string",
                "format": "binary",
            }
        return
    assert len(files) == 1, f"{suffix}: one Avro message"
    released = codec.released_paths(name)
    assert files[0] == released[-1].resolve(), f"{suffix}: reference the newest release of {name}"
    published = json.loads(files[0].read_text("utf-8"))
    assert full_name(published) == f"{codec.NAMESPACE}.{name}"
    parsed = fastavro.parse_schema(published)  # self-contained: no named type left undefined
    # What the gateway writes (the current schema) is exactly what is published, so a partner
    # with the published file decodes it: a changed schema needs `kpgw schemas release` and
    # this reference moved to the new file.
    assert published == codec.expanded_schema(name), f"{name} changed since its last release"
    assert codec.fingerprint(parsed) == codec.registry().current(name).fingerprint


def test_raw_xml_topics_say_so(doc: dict[str, Any]) -> None:
    (document,) = channel_messages(doc, f"{PREFIX}inbound")
    assert document["contentType"] == "application/xml"
    assert document["payload"]["contentMediaType"] == "application/xml"
    dead = {m["name"]: m for m in channel_messages(doc, f"{PREFIX}dlq")}
    assert dead["DeadLetterInbound"]["contentType"] == "application/xml"
    tombstone = deref(doc, doc["channels"]["routerChangelog"]["messages"]["routerStateTombstone"])
    assert tombstone["payload"] == {"type": "null"}


# --- headers ------------------------------------------------------------------------------


def module_constants(module: object) -> dict[str, str]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and not name.startswith("_")
    }


def test_inbound_header_constants_are_on_inbound_records(doc: dict[str, Any]) -> None:
    constants = module_constants(inbound)
    assert set(constants) == {
        "SENDER",
        "MESSAGE_ID",
        "RECEIVED_AT",
        "TRACKING_ID",
        "CONTENT_TYPE",
        "FORMAT",
    }
    (message,) = channel_messages(doc, f"{PREFIX}inbound")
    documented = header_properties(doc, message)
    assert set(constants.values()) <= set(documented)
    written = inbound.inbound_headers(
        sender="RU",
        message_id="m-1",
        tracking_id="t-1",
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
        format_hint="ru_fts",
    )
    assert {name for name, _ in written} <= set(documented)
    for name, value in written:
        if documented[name].get("format") == "date-time":
            datetime.fromisoformat(value.decode().replace("Z", "+00:00"))
    assert set(deref(doc, message["headers"])["required"]) == {inbound.SENDER}


def dead_letter_headers() -> list[tuple[str, bytes]]:
    failure = dlq.Failure(
        stage="translator",
        reason="POISON_PILL",
        exception_fqcn="builtins.ValueError",
        message="boom",
        findings=(Finding("XSD_VIOLATION", "bad", line=3, path="/a"),),
        stacktrace="Traceback ...",
        attempts=3,
        adapter="ru_fts",
    )
    origin = dlq.Origin("kp.inbound", 1, 2, 3, "kp.translator")
    return dlq.dlq_headers([], origin, failure, datetime(2026, 3, 2, tzinfo=UTC))


def test_dlq_header_constants_are_on_dead_letters(doc: dict[str, Any]) -> None:
    constants = set(module_constants(dlq).values())
    replay = {dlq.REPLAY_ID, dlq.REPLAYED_FROM}
    pinned = {dlq.RECEIVED_AT, dlq.TRACKING_ID}  # inbound headers a replay may add
    assert pinned == {inbound.RECEIVED_AT, inbound.TRACKING_ID}
    assert dlq.DLQ_HEADERS | replay | pinned | {dlq.SENDER} == constants
    constants -= pinned
    written = {name for name, _ in dead_letter_headers()}
    cut_only = {dlq.VALUE_OMITTED, dlq.LEFT_OUT}  # only on a letter cut to fit
    assert written == dlq.DLQ_HEADERS - cut_only | {dlq.SENDER}
    for message in channel_messages(doc, f"{PREFIX}dlq"):
        documented = header_properties(doc, message)
        assert constants - replay <= set(documented), message["name"]
        required = set(deref(doc, message["headers"]["allOf"][0])["required"])
        optional = {dlq.EXCEPTION_STACKTRACE, dlq.ADAPTER}  # only when there is one
        assert not cut_only & required
        assert required == written - optional
    for message in (
        *channel_messages(doc, f"{PREFIX}inbound"),
        *channel_messages(doc, f"{PREFIX}events"),
    ):
        assert replay <= set(header_properties(doc, message)), message["name"]


def test_binary_dlq_headers_are_documented_with_their_encoding(doc: dict[str, Any]) -> None:
    encodings = {
        struct.pack(">i", 1): ("int32-big-endian", 4),
        struct.pack(">q", 2): ("int64-big-endian", 8),
        struct.pack(">q", 3): ("int64-big-endian", 8),
    }
    message = deref(doc, doc["channels"]["dlq"]["messages"]["deadLetterInbound"])
    documented = header_properties(doc, message)
    binary = {name for name, schema in documented.items() if schema.get("format") == "binary"}
    seen: set[str] = set()
    for name, value in dead_letter_headers():
        if value in encodings:
            encoding, size = encodings[value]
            schema = documented[name]
            assert schema["format"] == "binary", name
            assert (schema["x-kpgw-encoding"], schema["minLength"], schema["maxLength"]) == (
                encoding,
                size,
                size,
            )
            assert "big-endian" in schema["description"]
            seen.add(name)
        else:
            value.decode("utf-8")  # every other header is text
    assert (
        seen
        == binary
        == {
            dlq.ORIGINAL_PARTITION,
            dlq.ORIGINAL_OFFSET,
            dlq.ORIGINAL_TIMESTAMP,
        }
    )
    assert dlq.int_header(dead_letter_headers(), dlq.ORIGINAL_OFFSET) == 2


def test_replay_headers_are_documented(doc: dict[str, Any]) -> None:
    original = inbound.inbound_headers(
        sender="RU",
        message_id="m-1",
        tracking_id="t-1",
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    record = SimpleNamespace(
        partition=0,
        offset=42,
        timestamp=0,
        key=b"RU:m-1",
        value=b"<x/>",
        headers=[*original, *dead_letter_headers()],
    )
    letter = DeadLetter.of(record)
    assert replay_headers(letter, "r-1")[-1] == (dlq.REPLAYED_FROM, b"dlq/0/42")
    (message,) = channel_messages(doc, f"{PREFIX}inbound")
    assert {name for name, _ in replay_headers(letter, "r-1")} <= set(
        header_properties(doc, message)
    )


def literal_headers(path: Path) -> set[str]:
    """Header names in ``headers=[("name", ...), ...]`` literals of a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if (
            isinstance(node, ast.keyword)
            and node.arg == "headers"
            and isinstance(node.value, ast.List)
        ):
            for item in node.value.elts:
                if isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant):
                    names.add(str(item.elts[0].value))
    return names


def test_headers_the_translator_writes_on_events_are_documented(doc: dict[str, Any]) -> None:
    written = literal_headers(ROOT / "gateway" / "translator" / "worker.py")
    assert written, "the translator writes headers on kp.events"
    (message,) = channel_messages(doc, f"{PREFIX}events")
    assert written <= set(header_properties(doc, message))


def test_changelog_headers_are_documented(doc: dict[str, Any]) -> None:
    message = deref(doc, doc["channels"]["routerChangelog"]["messages"]["routerState"])
    written = {name for name, _ in state_headers(datetime(2026, 3, 2, tzinfo=UTC), "fp", 12)}
    assert written == set(header_properties(doc, message))


def test_no_header_name_in_the_code_is_undocumented(doc: dict[str, Any]) -> None:
    """Every string constant that looks like one of our header names, anywhere in gateway/,
    appears in the document (a header written or read but forgotten here fails this)."""
    in_code: dict[str, set[str]] = {}
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and HEADER_NAME.match(text):
                in_code.setdefault(text, set()).add(str(path.relative_to(ROOT)))
    missing = {
        name: sorted(paths)
        for name, paths in in_code.items()
        if name not in documented_headers(doc)
    }
    assert missing == {}
    assert len(in_code) >= 20


def test_every_documented_header_has_a_description(doc: dict[str, Any]) -> None:
    for message in doc["components"]["messages"].values():
        for name, schema in header_properties(doc, message).items():
            assert schema.get("description"), f"{message['name']}: {name}"
            assert schema.get("type") == "string", f"{name}: header values are bytes/text"
