"""The generator: reproducible, realistic, and every story's manifest line says what the
translator and the router really make of its documents."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median

import pytest

from adapters.xsd import XSD_VIOLATION
from gateway import rules
from gateway.errors import MessageRejected
from gateway.events import CertificateIssued, ImportConfirmed
from gateway.generate import (
    MANIFEST,
    Fault,
    GenerateOptions,
    RendererUnavailable,
    generate,
    read_manifest,
    write,
)
from gateway.generate import reference as ref
from gateway.generate.faults import name_variant, scenario
from gateway.generate.sampling import MIXED, Route, Sampler
from gateway.registry import ParticipantRegistry
from gateway.resources import avro_dir
from gateway.translation import InboundMeta, translate
from tests.unit.generate import fakeformat
from tests.unit.generate.helpers import PLAIN, REAL_FORMATS, RECEIVED_AT, documents_in, require

OUTCOMES = frozenset(
    json.loads((avro_dir() / "kpgw.events.Outcome.avsc").read_text())["fields"][2]["type"][
        "symbols"
    ]
)
NUMBER = re.compile(r"^[A-Z]{2}[0-9]{6,9}$")

#: What each fault must put in the manifest: file kinds in sending order, outcomes, findings.
EXPECTED: dict[Fault | None, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    None: (("certificate", "confirmation"), ("MATCHED",), ()),
    Fault.CARATS_OFF: (("certificate", "confirmation"), ("MATCHED_WITH_DISCREPANCIES",), ()),
    Fault.PARCELS_OFF: (("certificate", "confirmation"), ("MATCHED_WITH_DISCREPANCIES",), ()),
    Fault.NAME_VARIANT: (("certificate", "confirmation"), ("MATCHED",), ()),
    Fault.OTHER_IMPORTER: (("certificate", "confirmation"), ("MATCHED_WITH_DISCREPANCIES",), ()),
    Fault.MISSING_CONFIRMATION: (("certificate",), ("CONFIRMATION_OVERDUE",), ()),
    Fault.CONFIRMED_TWICE: (
        ("certificate", "confirmation", "confirmation"),
        ("MATCHED", "DUPLICATE_CONFIRMATION"),
        (),
    ),
    Fault.WRONG_DESTINATION: (
        ("certificate", "confirmation"),
        ("WRONG_DESTINATION", "CONFIRMATION_OVERDUE"),
        (),
    ),
    Fault.ORPHAN_CONFIRMATION: (("confirmation",), ("ORPHAN_CONFIRMATION",), ()),
    Fault.CONFIRMED_AFTER_EXPIRY: (
        ("certificate", "confirmation"),
        ("MATCHED", "CONFIRMED_AFTER_EXPIRY"),
        (),
    ),
    Fault.CONFIRMED_AFTER_VOID: (
        ("certificate", "void", "confirmation"),
        ("MATCHED", "CONFIRMED_AFTER_VOID"),
        (),
    ),
    Fault.VOIDED_AFTER_RECEIPT: (
        ("certificate", "confirmation", "void"),
        ("MATCHED", "VOIDED_AFTER_RECEIPT"),
        (),
    ),
    Fault.CONFLICTING_REISSUE: (
        ("certificate", "certificate", "confirmation"),
        ("CONFLICTING_REISSUE", "MATCHED"),
        (),
    ),
    Fault.VALUE_OUT_OF_BAND: (
        ("certificate", "confirmation"),
        ("VALUE_PER_CARAT_OUT_OF_BAND", "MATCHED"),
        (),
    ),
    Fault.BROKEN_SCHEMA: (("certificate",), (), (XSD_VIOLATION,)),
    Fault.BROKEN_NOT_KP_GOODS: (("certificate",), (), (rules.NOT_KP_GOODS,)),
    Fault.BROKEN_ORIGIN: (("certificate",), (), (rules.ORIGIN_NOT_PARTICIPANT,)),
    Fault.BROKEN_NUMBER_PREFIX: (("certificate",), (), (rules.NUMBER_PREFIX_NOT_ISSUER,)),
    Fault.BROKEN_NUMBER_SERIES: (("certificate",), (), (rules.NUMBER_NOT_IN_SERIES,)),
    Fault.BROKEN_EXPIRY: (("certificate",), (), (rules.EXPIRY_BEFORE_ISSUE,)),
    Fault.BROKEN_TOTALS: (("certificate",), (), (rules.LINES_DO_NOT_SUM,)),
}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# --- reproducible ----------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(
    fmt: str, registry: ParticipantRegistry, tmp_path: Path
) -> None:
    options = GenerateOptions(pairs=40, seed=42, format=fmt, faults=0.5)
    write(options, registry, tmp_path / "a")
    write(options, registry, tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    assert len(first) > 40
    other = GenerateOptions(pairs=40, seed=43, format=fmt, faults=0.5)
    write(other, registry, tmp_path / "c")
    assert _files(tmp_path / "c") != first


def test_mixed_lets_every_sender_speak_its_registry_format(
    registry: ParticipantRegistry, plain: None
) -> None:
    world = fakeformat.mixed_registry(registry)
    stories = list(generate(GenerateOptions(pairs=150, seed=1, format="mixed"), world))
    seen: Counter[str] = Counter()
    for story in stories:
        for item in story.files:
            assert item.format == world.participants[item.sender].format
            seen[item.format] += 1
    assert seen["plainxml"]
    assert seen["plainxml2"]


def test_mixed_with_the_real_formats(registry: ParticipantRegistry) -> None:
    for name in REAL_FORMATS:
        require(name)
    stories = list(generate(GenerateOptions(pairs=120, seed=5, format="mixed"), registry))
    formats = {(item.sender, item.format) for story in stories for item in story.files}
    assert ("RU", "ru_fts") in formats
    assert ("EU", "uncefact") in formats
    assert {("AE", "envelope"), ("IN", "envelope")} & formats


# --- the manifest ---------------------------------------------------------------------------------


def test_manifest_has_the_agreed_shape(
    registry: ParticipantRegistry, plain: None, tmp_path: Path
) -> None:
    summary = write(GenerateOptions(pairs=80, seed=3, format=PLAIN, faults=0.6), registry, tmp_path)
    lines = read_manifest(tmp_path)
    assert len(lines) == summary.certificates == 80
    assert (tmp_path / MANIFEST).read_bytes().endswith(b"\n")
    paths = set()
    for line in lines:
        broken = "expected_findings" in line
        keys = {"certificate_id", "fault", "files", "expected_outcomes"}
        assert set(line) == (keys | {"expected_findings"} if broken else keys)
        assert line["fault"] is None or line["fault"] in set(Fault)
        if broken:
            assert line["fault"].startswith("broken_")
        assert NUMBER.match(line["certificate_id"])
        assert line["files"]
        for entry in line["files"]:
            assert set(entry) == {"path", "sender", "kind"}
            assert entry["kind"] in ("certificate", "confirmation", "void")
            assert registry.get(entry["sender"]) is not None
            assert not Path(entry["path"]).is_absolute()
            assert (tmp_path / entry["path"]).is_file()
            paths.add(entry["path"])
        assert set(line["expected_outcomes"]) <= OUTCOMES
        if broken:
            assert line["expected_outcomes"] == []
            known = {*rules.RULE_CODES, XSD_VIOLATION}
            assert line["expected_findings"]
            assert set(line["expected_findings"]) <= known
        else:
            assert line["expected_outcomes"]
    on_disk = {str(p.relative_to(tmp_path)) for p in (tmp_path / "documents").iterdir()}
    assert paths == on_disk
    assert summary.files == len(paths)


def test_each_fault_produces_its_manifest_entry(registry: ParticipantRegistry, plain: None) -> None:
    # With every story faulty the deck deals each fault once per len(Fault) stories.
    stories = list(
        generate(GenerateOptions(pairs=2 * len(Fault), seed=9, format=PLAIN, faults=1.0), registry)
    )
    assert Counter(story.scenario.fault for story in stories) == dict.fromkeys(Fault, 2)
    clean = list(generate(GenerateOptions(pairs=3, seed=9, format=PLAIN), registry))
    for story in stories + clean:
        kinds, outcomes, findings = EXPECTED[story.scenario.fault]
        line = story.manifest_line()
        assert tuple(f["kind"] for f in line["files"]) == kinds, story.scenario.fault
        assert tuple(line["expected_outcomes"]) == outcomes, story.scenario.fault
        assert tuple(line.get("expected_findings", ())) == findings, story.scenario.fault


def test_fault_rate_is_respected(registry: ParticipantRegistry, plain: None) -> None:
    stories = list(
        generate(GenerateOptions(pairs=400, seed=2, format=PLAIN, faults=0.25), registry)
    )
    faulty = sum(1 for story in stories if story.scenario.fault is not None)
    assert 60 <= faulty <= 140
    assert all(
        s.scenario.fault is None
        for s in generate(GenerateOptions(pairs=50, seed=2, format=PLAIN), registry)
    )


# --- every document is judged as its manifest line says -------------------------------------


def test_documents_translate_or_fail_with_their_expected_finding(
    fmt: str, registry: ParticipantRegistry
) -> None:
    stories = documents_in(fmt, registry, pairs=3 * len(Fault), seed=11, faults=0.8)
    broken = 0
    for story in stories:
        expected = story.scenario.expected_findings
        for item in story.files:
            meta = InboundMeta(sender=item.sender, received_at=RECEIVED_AT)
            if not expected:
                event = translate(item.content, meta, registry)
                assert event.certificate_id == story.certificate_id
                assert event.source.adapter == item.format
                continue
            broken += 1
            with pytest.raises(MessageRejected) as caught:
                translate(item.content, meta, registry)
            codes = [finding.code for finding in caught.value.findings]
            assert expected[0] in codes, (story.scenario.fault, codes)
    assert broken >= 10


def test_router_reaches_the_expected_outcomes(fmt: str, registry: ParticipantRegistry) -> None:
    router = pytest.importorskip("gateway.router")
    stories = documents_in(fmt, registry, pairs=2 * len(Fault), seed=12, faults=0.9)
    start = RECEIVED_AT
    for story in stories:
        if story.scenario.expected_findings:
            continue
        state, outcomes, now = None, [], start
        for item in story.files:
            meta = InboundMeta(sender=item.sender, received_at=now)
            decision = router.decide(state, translate(item.content, meta, registry), now, registry)
            state = decision.state
            outcomes += [record["outcome"] for record in decision.outcomes()]
            now += timedelta(minutes=1)
        assert state is not None
        late = router.tick(state, now + timedelta(days=400), registry)
        outcomes += [record["outcome"] for record in late.outcomes()]
        assert tuple(outcomes) == story.scenario.expected_outcomes, story.scenario.fault


def test_broken_defects_a_format_cannot_carry_are_drawn_otherwise(
    registry: ParticipantRegistry, plain: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format that computes totals from the lines cannot say "the lines do not sum"."""
    translate_plain = fakeformat.PlainAdapter.translate

    def summing(self: fakeformat.PlainAdapter, document: object, context: object) -> object:
        adapted = translate_plain(self, document, context)  # type: ignore[arg-type]
        payload = adapted.payload
        if isinstance(payload, CertificateIssued):
            total = sum((line.carats for line in payload.lines), Decimal(0))
            adapted = replace(adapted, payload=replace(payload, total_carats=total))
        return adapted

    monkeypatch.setattr(fakeformat.PlainAdapter, "translate", summing)
    stories = list(
        generate(GenerateOptions(pairs=4 * len(Fault), seed=4, format=PLAIN, faults=1.0), registry)
    )
    faults = Counter(story.scenario.fault for story in stories)
    assert faults[Fault.BROKEN_TOTALS] == 0
    assert faults[Fault.BROKEN_EXPIRY] > faults[Fault.BROKEN_ORIGIN]


# --- realistic ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(registry: ParticipantRegistry) -> list[CertificateIssued]:
    sampler = Sampler(random.Random(2024), registry, date(2026, 1, 5))
    return [sampler.certificate() for _ in range(500)]


def test_hs_mix_and_lines(certificates: list[CertificateIssued]) -> None:
    first = Counter(cert.lines[0].hs_code for cert in certificates)
    assert 0.62 <= first["7102.31"] / 500 <= 0.78
    assert 0.09 <= first["7102.21"] / 500 <= 0.21
    assert 0.09 <= first["7102.10"] / 500 <= 0.21
    counts = Counter(len(cert.lines) for cert in certificates)
    assert set(counts) <= {1, 2, 3}
    assert counts[1] > counts[2] > counts[3] > 0
    for cert in certificates:
        assert len({line.hs_code for line in cert.lines}) == len(cert.lines)


def test_parcels_are_log_uniform_1_to_20(certificates: list[CertificateIssued]) -> None:
    parcels = [cert.parcels for cert in certificates]
    assert min(parcels) == 1
    assert max(parcels) <= 20
    assert 0.4 <= sum(1 for p in parcels if p <= 4) / 500 <= 0.65  # log-uniform: ~0.53
    assert sum(1 for p in parcels if p >= 11) / 500 <= 0.3  # ~0.2
    assert all(cert.parcels >= len(cert.lines) for cert in certificates)


def test_carats_are_log_normal_around_500(certificates: list[CertificateIssued]) -> None:
    weights = [line.carats for cert in certificates for line in cert.lines]
    assert all(isinstance(w, Decimal) and w == w.quantize(Decimal("0.01")) for w in weights)
    assert all(Decimal("0.5") <= w <= Decimal(500_000) for w in weights)
    assert Decimal(300) <= median(weights) <= Decimal(850)
    assert max(weights) > 20 * median(weights)  # a heavy tail


def test_value_per_carat_follows_the_origin(
    certificates: list[CertificateIssued], registry: ParticipantRegistry
) -> None:
    for cert in certificates:
        key = ref.WORLD if cert.origin == MIXED else cert.origin
        average = ref.USD_PER_CARAT[key]
        assert cert.total_value_usd == sum(line.value_usd for line in cert.lines)
        assert cert.total_carats == sum(line.carats for line in cert.lines)
        for line in cert.lines:
            assert isinstance(line.value_usd, Decimal)
            per_carat = line.value_usd / line.carats
            assert average * Decimal("0.59") <= per_carat <= average * Decimal("1.41")
        band = registry.participants[cert.origin].usd_per_carat if cert.origin != MIXED else None
        if band is not None:
            assert band[0] <= cert.total_value_usd / cert.total_carats <= band[1]


def test_origins_and_mixed_parcels_from_hubs(certificates: list[CertificateIssued]) -> None:
    hubs = [cert for cert in certificates if cert.exporting_participant in ref.MIXED_ORIGIN_HUBS]
    mixed = [cert for cert in hubs if cert.origin == MIXED]
    assert len(hubs) >= 80
    assert 0.1 <= len(mixed) / len(hubs) <= 0.32
    assert all(cert.provenance for cert in mixed)
    # The provenance is where the parcel came from before: another hub, never the
    # exporter itself (a BE -> BE provenance told an importer nothing; format review).
    for cert in mixed:
        assert cert.provenance in ref.MIXED_ORIGIN_HUBS
        assert cert.provenance not in (cert.exporting_participant, cert.exporting_member_state)
    for cert in certificates:
        if cert.exporting_participant in ref.USD_PER_CARAT:
            assert cert.origin == cert.exporting_participant
        if cert.origin != MIXED:
            assert cert.provenance is None
            assert cert.origin in ref.USD_PER_CARAT


def test_pairs_numbers_dates_and_names(
    certificates: list[CertificateIssued], registry: ParticipantRegistry
) -> None:
    enabled = {(p.exporter, p.importer) for p in registry.pairs if p.enabled}
    routes = Counter((c.exporting_participant, c.importing_participant) for c in certificates)
    assert set(routes) <= enabled
    assert len(routes) >= 15
    assert routes.most_common(1)[0][0] == ("RU", "EU")
    assert len({cert.certificate_number for cert in certificates}) == 500
    for cert in certificates:
        assert NUMBER.match(cert.certificate_number)
        assert registry.participant_of(cert.certificate_number[:2]) == cert.issuing_participant
        assert cert.expiry_date == cert.issue_date + timedelta(days=60)
        assert date(2026, 1, 5) <= cert.issue_date < date(2026, 2, 2)
        for party, state, code in (
            (cert.exporter, cert.exporting_member_state, cert.exporting_participant),
            (cert.importer, cert.importing_member_state, cert.importing_participant),
        ):
            assert party.country == (state or code)
            assert party.name in ref.COMPANIES[party.country]
        assert list(rules.findings_for(cert, registry)) == []


def test_base_date_moves_every_date(registry: ParticipantRegistry, plain: None) -> None:
    options = GenerateOptions(pairs=30, seed=1, format=PLAIN, base_date=date(2031, 6, 1))
    for story in generate(options, registry):
        for document in story.scenario.documents:
            payload = document.payload
            if isinstance(payload, CertificateIssued):
                assert date(2031, 6, 1) <= payload.issue_date < date(2031, 6, 29)
            elif isinstance(payload, ImportConfirmed):
                assert payload.date_of_receipt > date(2031, 6, 1)


def test_name_variants_differ_but_normalise_equal() -> None:
    compare = pytest.importorskip("gateway.router.compare")
    for names in ref.COMPANIES.values():
        for name in names:
            for choice in range(4):
                variant = name_variant(name, choice)
                assert variant != name
                assert compare.normalise_name(variant) == compare.normalise_name(name)


def test_carat_discrepancies_exceed_the_pair_tolerance(registry: ParticipantRegistry) -> None:
    sampler = Sampler(random.Random(8), registry, date(2026, 1, 5))
    for _ in range(200):
        story = scenario(sampler, Fault.CARATS_OFF)
        cert, conf = (document.payload for document in story.documents)
        assert isinstance(cert, CertificateIssued)
        assert isinstance(conf, ImportConfirmed)
        pair = registry.pair(cert.exporting_participant, cert.importing_participant)
        assert pair is not None
        assert conf.total_carats is not None
        change = abs(conf.total_carats - cert.total_carats)
        assert change > 0
        if conf.lines:
            changed = [a for a, b in zip(cert.lines, conf.lines, strict=True) if a != b]
            assert len(changed) == 1
            reference = changed[0].carats
        else:
            reference = cert.total_carats
        assert change * 100 > reference * pair.carats_tolerance_pct
        assert change * 100 <= reference * Decimal("5.2") + Decimal("0.01") * 100


# --- failures ------------------------------------------------------------------------------------


def test_missing_format_is_named_before_anything_is_written(
    registry: ParticipantRegistry, plain: None, tmp_path: Path
) -> None:
    with pytest.raises(RendererUnavailable, match="ru_fts") as caught:
        write(GenerateOptions(pairs=5, seed=1, format="mixed"), registry, tmp_path / "out")
    assert "RU" in caught.value.message
    assert "available formats: plainxml, plainxml2" in caught.value.message
    assert not (tmp_path / "out" / MANIFEST).exists()
    with pytest.raises(RendererUnavailable, match="nope"):
        list(generate(GenerateOptions(pairs=1, seed=1, format="nope"), registry))


def test_an_earlier_corpus_is_replaced_only_with_force(
    registry: ParticipantRegistry, plain: None, tmp_path: Path
) -> None:
    write(GenerateOptions(pairs=20, seed=1, format=PLAIN), registry, tmp_path)
    with pytest.raises(FileExistsError):
        write(GenerateOptions(pairs=3, seed=2, format=PLAIN), registry, tmp_path)
    write(GenerateOptions(pairs=3, seed=2, format=PLAIN), registry, tmp_path, force=True)
    assert len(read_manifest(tmp_path)) == 3
    listed = {f["path"] for line in read_manifest(tmp_path) for f in line["files"]}
    assert {str(p.relative_to(tmp_path)) for p in (tmp_path / "documents").iterdir()} == listed


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="fraction"):
        GenerateOptions(pairs=1, seed=1, faults=1.5)
    with pytest.raises(ValueError, match="pairs"):
        GenerateOptions(pairs=-1, seed=1)


# --- registered number series -----------------------------------------------------------------


def test_numbers_come_from_the_block_registered_for_the_issue_year(
    registry: ParticipantRegistry,
) -> None:
    sampler = Sampler(random.Random(4), registry, date(2026, 1, 5))
    blocks = sampler.series("SL")
    assert {block.year for block in blocks} == {2025, 2026}
    this_year = next(block for block in blocks if block.year == 2026)
    drawn = [sampler.number("SL", 2026) for _ in range(200)]
    assert all(this_year.holds(number) for number in drawn)
    # A year without a block of its own: outside every registered block.
    later = [sampler.number("SL", 2030) for _ in range(200)]
    assert not any(block.holds(number) for number in later for block in blocks)
    assert not rules.findings_for(sampler.certificate(Route("SL", "EU", None, "BE")), registry)


def test_the_old_series_fault_falls_back_to_a_wrong_prefix_without_blocks(
    registry: ParticipantRegistry,
) -> None:
    without = ParticipantRegistry(
        participants={
            code: participant.model_copy(update={"number_series": ()})
            for code, participant in registry.participants.items()
        },
        pairs=registry.pairs,
    )
    story = scenario(
        Sampler(random.Random(1), without, date(2026, 1, 5)), Fault.BROKEN_NUMBER_SERIES
    )
    assert story.fault is Fault.BROKEN_NUMBER_PREFIX
    assert story.expected_findings == (rules.NUMBER_PREFIX_NOT_ISSUER,)
