"""The contract suite every adapter's tests subclass (STYLE.md, "Registries without magic").

A subclass names its adapter and supplies documents; the suite checks that valid input gives
a schema-valid canonical event that survives the Avro codec, that each kind of invalid input
gives its own finding code, and that rendering a canonical payload in the format and adapting
it back gives the same payload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import registry as adapter_registry
from adapters.contract import Adapter
from adapters.pipeline import adapt
from gateway import codec
from gateway.errors import MessageRejected
from gateway.events import Payload, event_from_avro, event_to_avro
from gateway.registry import ParticipantRegistry, load_registry
from gateway.translation import InboundMeta, to_event
from tests.strategies import certificates, confirmations, voids


@pytest.fixture(scope="session")
def registry() -> ParticipantRegistry:
    return load_registry()


class AdapterContract:
    """Subclass as ``class TestMyFormat(AdapterContract)`` and fill in the hooks."""

    adapter_name: ClassVar[str]
    #: Payload kinds this format can carry, rendered by ``render`` (subset of the three).
    carries: ClassVar[tuple[str, ...]] = ("certificate", "confirmation", "void")

    def valid_documents(self) -> list[bytes]:
        """Real-looking documents of this format that must translate."""
        raise NotImplementedError

    def invalid_documents(self) -> list[tuple[str, bytes, str]]:
        """(label, document, expected finding code) for each kind of invalid input."""
        raise NotImplementedError

    # --- the contract -------------------------------------------------------------------

    def adapter(self) -> Adapter:
        return adapter_registry.get(self.adapter_name)

    def test_is_registered_and_detects_its_documents(self, registry: ParticipantRegistry) -> None:
        adapter = self.adapter()
        assert adapter.name == self.adapter_name
        for document in self.valid_documents():
            assert adapt(document, registry).format == self.adapter_name

    def test_valid_documents_give_schema_valid_events(self, registry: ParticipantRegistry) -> None:
        documents = self.valid_documents()
        assert documents, "a contract subclass must supply valid documents"
        for document in documents:
            adapted = adapt(document, registry)
            meta = InboundMeta(sender=None, received_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
            event = to_event(document, adapted, meta)
            encoded = codec.encode("CertificateEvent", event_to_avro(event))
            decoded = event_from_avro(codec.decode(encoded, "CertificateEvent"))
            assert decoded == event
            assert adapted.message_id

    def test_invalid_documents_give_their_finding(self, registry: ParticipantRegistry) -> None:
        cases = self.invalid_documents()
        assert cases, "a contract subclass must supply invalid documents"
        for label, document, code in cases:
            with pytest.raises(MessageRejected) as caught:
                adapt(document, registry)
            codes = [finding.code for finding in caught.value.findings]
            assert code in codes, f"{label}: expected {code}, got {codes}"
            assert all(finding.message for finding in caught.value.findings), label

    def test_another_formats_document_under_this_hint_is_unknown_format(
        self, registry: ParticipantRegistry
    ) -> None:
        """A kpgw-format hint that contradicts the document gets one answer, whatever the
        adapter (not a schema, mapping or format finding of its own)."""
        for name in adapter_registry.adapters():
            if name == self.adapter_name:
                continue
            with pytest.raises(MessageRejected) as caught:
                adapt(self.valid_documents()[0], registry, format_hint=name)
            (finding,) = caught.value.findings
            assert finding.code == "UNKNOWN_FORMAT", name
            assert f"the format hint says {name}" in finding.message

    # Every adapter's subclass runs this one function: differing executors are by design.
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    @given(data=st.data())
    def test_render_then_adapt_is_identity(
        self, registry: ParticipantRegistry, data: st.DataObject
    ) -> None:
        strategies = {
            "certificate": certificates(),
            "confirmation": confirmations(),
            "void": voids(),
        }
        kind = data.draw(st.sampled_from(self.carries))
        payload: Payload = data.draw(strategies[kind])
        rendered = self.adapter().render(payload, message_id="kpgw-test-0001", registry=registry)
        adapted = adapt(rendered, registry)
        assert adapted.payload == payload
