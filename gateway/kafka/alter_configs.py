"""Set a few topic configs, and only those: Kafka's IncrementalAlterConfigs (KIP-339,
Kafka 2.3+), which aiokafka's admin client lacks.

aiokafka's ``alter_configs`` sends the older AlterConfigs, which *replaces* every dynamic
config of a topic with the set sent: raising ``retention.ms`` that way would silently
drop the topic's other overrides (``segment.bytes``, a ``max.message.bytes`` set by hand),
and a change made by someone else between reading and writing. IncrementalAlterConfigs
sets just the named keys.
"""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResourceType
from aiokafka.errors import IncompatibleBrokerVersion, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from gateway.errors import EnvironmentProblem

API_KEY = 44
#: aiokafka's own protocol classes are named Name_vN; these follow them (noqa N801).
SET = 0  # the operation: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT


class IncrementalAlterConfigsResponse_v0(Response):  # type: ignore[misc]  # noqa: N801
    API_KEY = API_KEY
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "responses",
            Array(
                ("error_code", Int16),
                ("error_message", String("utf-8")),
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
            ),
        ),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):  # type: ignore[misc]  # noqa: N801
    API_KEY = API_KEY
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        (
            "resources",
            Array(
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
                (
                    "configs",
                    Array(
                        ("name", String("utf-8")),
                        ("config_operation", Int8),
                        ("value", String("utf-8")),
                    ),
                ),
            ),
        ),
        ("validate_only", Boolean),
    )


class IncrementalAlterConfigsRequest(Request[IncrementalAlterConfigsRequest_v0]):  # type: ignore[misc]
    API_KEY = API_KEY

    def __init__(self, resources: list[Any]) -> None:
        self._resources = resources

    def build(
        self, request_struct_class: type[IncrementalAlterConfigsRequest_v0]
    ) -> IncrementalAlterConfigsRequest_v0:
        return request_struct_class(self._resources, False)


async def set_topic_configs(
    admin: AIOKafkaAdminClient, changes: dict[str, dict[str, str]]
) -> dict[str, str | None]:
    """Set ``changes[topic][config] = value`` on each topic (one request), leaving every
    other config of the topic as it is. Returns each topic's error (None: changed)."""
    if not changes:
        return {}
    resources = [
        (
            ConfigResourceType.TOPIC.value,
            topic,
            [(name, SET, value) for name, value in sorted(configs.items())],
        )
        for topic, configs in sorted(changes.items())
    ]
    client = admin._client  # aiokafka sends any request through it
    try:
        response = await client.send(
            client.get_random_node(), IncrementalAlterConfigsRequest(resources)
        )
    except IncompatibleBrokerVersion as exc:
        raise EnvironmentProblem(
            "the broker does not support IncrementalAlterConfigs (Kafka 2.3 or later); "
            f"nothing was changed ({exc})"
        ) from exc
    errors: dict[str, str | None] = {}
    for code, message, _kind, topic in response.responses:
        if code:
            error = for_code(code)
            errors[topic] = f"{error.__name__}: {message or error.description}"
        else:
            errors[topic] = None
    return errors
