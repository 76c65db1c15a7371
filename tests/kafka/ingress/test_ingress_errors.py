"""Every refusal of the ingress, each with its RFC 9457 body, and the proof that a refused
request wrote nothing: authentication, impersonation (audited without the document),
malformed and invalid documents, size and type limits, the rate limit, an unreachable
broker and the request deadline."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from datetime import date

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.demo_tokens import demo_token
from gateway.events import CertificateVoided
from gateway.kafka.broker import port_free
from gateway.settings import Settings
from tests.kafka.helpers import certificate, confirmation, read_until, render, with_hs
from tests.kafka.ingress.conftest import started

pytestmark = pytest.mark.kafka


async def test_authentication_is_required_and_precise(created_topics: Settings) -> None:
    document = render(certificate("RU0620001"))
    async with started(created_topics) as client:
        missing = (await client.send(document, None)).problem(401)
        assert "Bearer" in missing["detail"]
        reply = await client.send(document, None, token="kpgw_ru_" + "x" * 43)
        reply.problem(401)
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="kpgw", error="invalid_token"'
        basic = await client.send(document, None, headers={"Authorization": "Basic cnU6cnU="})
        basic.problem(401)
        assert 'error="invalid_request"' in basic.headers["WWW-Authenticate"]
        (await client.status("anything", None)).problem(401)
        (await client.validate(document, None)).problem(401)
        # A token file's stray CR breaks the header line: aiohttp's parser refuses it, and
        # the answer is a problem document that does not quote the line (or the token).
        token = demo_token("RU").encode()
        host, port = client.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/messages HTTP/1.1\r\nAuthorization: Bearer " + token + b"\r\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.split(b" ", 2)[1] == b"400"
        assert b"application/problem+json" in answer and token not in answer
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def test_impersonation_attempts_are_refused_and_audited_without_content(
    created_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = certificate("RU0620002")
    conf = confirmation(cert)
    void = CertificateVoided("RU0620002", "RU", date(2026, 3, 5), "lost in transit")
    attempts = [
        ("BW", render(cert)),  # another exporter sends Russia's certificate
        ("EU", render(cert)),  # the importer forges the exporter's certificate
        ("AE", render(conf)),  # a third party confirms the EU's import
        ("RU", render(conf)),  # the exporter confirms its own shipment
        ("EU", render(void)),  # the importer voids the exporter's certificate
    ]
    async with started(created_topics) as client:
        with capture_logs() as logs:
            # Fresh loggers: a module's logger may be cached with an earlier configuration.
            for module in ("gateway.ingress.handlers", "gateway.ingress.app"):
                monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))
            for participant, document in attempts:
                problem = (await client.send(document, participant)).problem(403)
                assert problem["findings"][0]["code"] == "UNAUTHORISED_SENDER"
                assert f"{participant} may not send" in problem["detail"]
                (await client.validate(document, participant)).problem(403)
                (
                    await client.send(document, participant, headers={"Idempotency-Key": "k1"})
                ).problem(403)
        audits = [entry for entry in logs if entry["event"] == "audit_sender_refused"]
        assert len(audits) == 3 * len(attempts)
        assert {entry["participant"] for entry in audits} == {"BW", "EU", "AE", "RU"}
        assert all(
            entry["reason"] == "UNAUTHORISED_SENDER" and entry["body_sha256"] for entry in audits
        )
        logged = json.dumps(logs, default=str)
        for needle in ("ALROSA", "Antwerp Rough", "SPSCertificate", "kpgw_demo_", demo_token("BW")):
            assert needle not in logged  # neither the document nor any token reaches the logs
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def test_bodies_that_are_not_xml_are_400_with_their_finding(created_topics: Settings) -> None:
    cases = {
        b"not XML at all": "NOT_XML",
        b"": "EMPTY_DOCUMENT",
        b'{"certificate": "RU0620003"}': "NOT_XML",
        render(certificate("RU0620003"))[:-40]: "TRUNCATED_DOCUMENT",
        b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>': "DTD_FORBIDDEN",
    }
    async with started(created_topics) as client:
        for body, code in cases.items():
            for reply in (await client.send(body), await client.validate(body)):
                problem = reply.problem(400)
                assert problem["type"] == "urn:kpgw:problem:not-xml"
                assert [f["code"] for f in problem["findings"]] == [code], problem
        bad_key = await client.send(
            render(certificate("RU0620004")), headers={"Idempotency-Key": "a\tb"}
        )
        assert bad_key.problem(400)["findings"][0]["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def test_a_compressed_body_gets_advice_for_http_with_or_without_validation(
    created_topics: Settings,
) -> None:
    """A gzipped body was told to use "the Kafka producer's
    compression.type", which means nothing to an HTTP client; without synchronous
    validation it was even accepted, then dead-lettered. Refused at once either way."""
    body = gzip.compress(render(certificate("RU0620005")))
    async with (
        started(created_topics) as client,
        started(created_topics, validate_sync=False) as unvalidated,
    ):
        replies = [
            await client.send(body),
            await client.validate(body),
            await unvalidated.send(body),
            await unvalidated.validate(body),
        ]
        for reply in replies:
            problem = reply.problem(400)
            assert problem["type"] == "urn:kpgw:problem:not-xml"
            (finding,) = problem["findings"]
            assert finding["code"] == "NOT_XML"
            assert finding["message"].startswith("the body is gzip-compressed data, not XML")
            assert "send the XML document itself, uncompressed" in finding["message"]
            assert "compression.type" not in json.dumps(problem)
            assert "Kafka" not in json.dumps(problem)
        scraped = (await client.request("GET", "/metrics")).body
        refused = 'kpgw_ingress_refused_messages_total{participant="RU",problem="not-xml"} 2.0'
        assert refused in scraped  # counted as validation counts it
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def test_invalid_documents_are_422_listing_every_finding(created_topics: Settings) -> None:
    xsd = render(certificate("RU0620005")).replace(
        b"<ram:TypeCode>", b"<ram:Bogus/><ram:TypeCode>", 1
    )
    rules = render(with_hs(certificate("RU0620006", importer="KE", importer_state=None), "7102.29"))
    unknown = b"<Invoice xmlns='urn:example:invoice'><ID>1</ID></Invoice>"
    async with started(created_topics) as client:
        schema = (await client.send(xsd)).problem(422)
        assert schema["findings"][0]["code"] == "XSD_VIOLATION"
        assert schema["findings"][0]["line"] and schema["findings"][0]["path"]
        broken = (await client.send(rules)).problem(422)
        codes = [f["code"] for f in broken["findings"]]
        assert "NOT_KP_GOODS" in codes and len(codes) >= 2, codes
        assert all(f["path"] for f in broken["findings"])
        assert broken["detail"].startswith(f"{len(codes)} findings")
        (await client.send(unknown)).problem(422)
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def _slowly(body: bytes, pause_s: float) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1024):
        yield body[start : start + 1024]
        await asyncio.sleep(pause_s)


async def test_size_and_content_type_limits(created_topics: Settings) -> None:
    document = render(certificate("RU0620007"))
    large = document.replace(
        b"</rsm:SPSCertificate>", b"<!--" + b"x" * 10_000 + b"--></rsm:SPSCertificate>"
    )
    async with started(created_topics, max_body_bytes=8192) as client:
        declared = (await client.send(large)).problem(413)
        assert declared["findings"][0]["code"] == "BODY_TOO_LARGE"
        (await client.validate(large)).problem(413)
        (await client.send(_slowly(large, 0))).problem(413)  # chunked: no Content-Length
        for content_type in ("text/plain", "application/json", "application/xml-dtd", None):
            (await client.send(document, content_type=content_type)).problem(415)
        (await client.validate(document, content_type="application/json")).problem(415)
        # A security review's gzip bomb: refused, never inflated (it stalled the loop).
        bomb, gzipped = gzip.compress(b" " * 20_000_000), {"Content-Encoding": "gzip"}
        refused = (await client.send(bomb, headers=gzipped)).problem(415)
        assert "content encoding 'gzip' is not accepted" in refused["detail"]
        assert (await client.send(bomb, participant=None, headers=gzipped)).status == 401
        # A charset only the header gives cannot be honoured: the bytes are stored as sent.
        cyrillic = "<doc>Алмазы</doc>".encode("cp1251")
        for call in (client.send, client.validate):
            told = await call(cyrillic, content_type="application/xml; charset=windows-1251")
            assert "declares no encoding" in told.problem(415)["detail"]
        accepted = await client.send(document, content_type="Application/XML; charset=UTF-8")
        assert accepted.status == 202
        # Each refusal counted for its participant (a security walkthrough: only
        # validation's and the broker's were, so none of these showed per participant).
        scraped = (await client.request("GET", "/metrics")).body
        for problem, count in (("body-too-large", 3), ("unsupported-media-type", 8)):
            series = f'kpgw_ingress_refused_messages_total{{participant="RU",problem="{problem}"}}'
            assert f"{series} {count}.0" in scraped, scraped
    records = await read_until(created_topics, "inbound", 1)
    assert [r.value for r in records] == [document]


async def test_rate_limit_per_participant(created_topics: Settings) -> None:
    async with started(created_topics, rate_limit_per_minute=3) as client:
        for n in range(3):
            reply = await client.send(render(certificate(f"RU062001{n}")))
            assert reply.status == 202
        limited = await client.send(render(certificate("RU0620019")))
        problem = limited.problem(429)
        assert (
            int(limited.headers["Retry-After"]) >= 1
            and "3 requests per minute" in problem["detail"]
        )
        (await client.validate(render(certificate("RU0620019")))).problem(429)
        other = await client.send(render(certificate("BW0620001", exporter="BW")), "BW")
        assert other.status == 202  # one participant's burst does not limit another
        # Who is held back shows per participant (it showed only in the log).
        scraped = (await client.request("GET", "/metrics")).body
        limited_series = (
            'kpgw_ingress_refused_messages_total{participant="RU",problem="rate-limited"}'
        )
        assert f"{limited_series} 2.0" in scraped, scraped
        assert 'participant="BW",problem="rate-limited"' not in scraped
    assert len(await read_until(created_topics, "inbound", 4)) == 4


def _free_port() -> int:
    return next(p for p in range(39590, 39600) if port_free(p))


async def test_unreachable_broker_and_deadline_are_503_with_nothing_accepted(
    created_topics: Settings,
) -> None:
    nowhere = created_topics.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{_free_port()}"})
    document = render(certificate("RU0620020"))
    async with started(nowhere, ready=False, request_deadline_s=1.0) as client:
        for _ in range(2):
            reply = await client.send(document)
            reply.problem(503)
            assert int(reply.headers["Retry-After"]) >= 1
        ready = await client.request("GET", "/readyz")
        assert ready.status == 503 and ready.body["checks"]["broker"] is False
        (await client.status("3d8ff2bd-77f6-5ab1-8116-b6c43c138b5c")).problem(503)
        valid = await client.validate(document)  # validation needs no broker
        assert valid.status == 200
        late = (await client.validate(_slowly(document, 0.4))).problem(503)
        assert late["type"] == "urn:kpgw:problem:deadline-exceeded"
    assert await read_until(created_topics, "inbound", 1, timeout_s=1) == []


async def test_an_unknown_tracking_id_is_quoted_escaped_and_bounded(
    created_topics: Settings,
) -> None:
    """The 404's detail quoted the path's id raw: a bidirectional override reversed the
    text around it where the answer is shown, and thousands of characters came back."""
    async with started(created_topics) as client:
        reversed_id = await client.status("%E2%80%AEdi-hcus-on", "RU")
        long_id = await client.status("x" * 3000, "RU")
    detail = reversed_id.problem(404)["detail"]
    assert "\u202e" not in detail and "\\u202edi-hcus-on" in detail
    assert len(long_id.problem(404)["detail"]) < 300
