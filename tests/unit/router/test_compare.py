"""Name normalisation and the tolerance rule on their own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.router.compare import normalise_name, within


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Antwerp Rough Trading BV", "ANTWERP ROUGH TRADING B.V."),
        ("Diamond Land NV", "Diamond Land, N.V."),
        ("ALROSA PJSC", "PJSC  Alrosa"),
        ("Gokhran of Russia", "gokhran of russia"),
        ("Okavango Diamond Company (Pty) Ltd", "Okavango Diamond Company"),
        ("Surat Rough Imports Pvt Ltd", "Surat Rough Imports Pvt. Ltd."),
        ("Dubai Rough DMCC", "Dubai-Rough"),
        ("Emirates Diamond Trading FZE", "Emirates Diamond Trading"),
        ("Kaufmann Diamanten GmbH", "Kaufmann Diamanten"),
        ("Petra Diamonds SA (Pty) Ltd", "Petra Diamonds"),
        ("New York Rough LLC", "New York Rough, L.L.C."),
        ("Société Générale de Diamants SA", "Societe Generale de Diamants"),
        (
            "\u0410\u041e \u0410\u043b\u0440\u043e\u0441\u0430",
            "\u0430\u043b\u0440\u043e\u0441\u0430",
        ),
        # Legal forms written out, as official names often are on one side.
        ("ALROSA PJSC", "Public Joint Stock Company ALROSA"),
        ("Almazy Anabara JSC", "Joint Stock Company Almazy Anabara"),
        ("Dubai Rough Trading LLC", "Dubai Rough Trading Limited Liability Company"),
        (
            "De Beers Consolidated Mines (Pty) Ltd",
            "De Beers Consolidated Mines (Proprietary) Limited",
        ),
        ("Antwerp Rough Trading BV", "Antwerp Rough Trading Besloten Vennootschap"),
        # Letters NFKD does not decompose.
        ("\u0141ukasz Diament", "Lukasz Diament"),
        ("\u00d8rsted Rough ApS", "Orsted Rough ApS"),
    ],
)
def test_the_same_company_written_differently(left: str, right: str) -> None:
    assert normalise_name(left) == normalise_name(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Antwerp Rough Trading BV", "Antwerp Polished Trading BV"),
        ("Diamond Land NV", "Diamond Lands NV"),
        ("Mumbai Gems Pvt Ltd", "Surat Rough Imports Pvt Ltd"),
        # A legal-form phrase inside a name is part of the name.
        ("Joint Stock Company Almazy", "Almazy Stock"),
    ],
)
def test_different_companies_stay_different(left: str, right: str) -> None:
    assert normalise_name(left) != normalise_name(right)


def test_a_name_made_only_of_a_legal_form_is_kept() -> None:
    assert normalise_name("L.L.C.") == "llc"


@pytest.mark.parametrize(
    ("observed", "pct", "inside"),
    [
        ("1005.000", "0.5", True),  # exactly at the tolerance
        ("995.000", "0.5", True),
        ("1005.001", "0.5", False),
        ("1000.000", "0", True),
        ("1000.001", "0", False),
    ],
)
def test_tolerance_is_inclusive(observed: str, pct: str, inside: bool) -> None:
    assert within(Decimal("1000.000"), Decimal(observed), Decimal(pct)) is inside


@pytest.mark.parametrize(
    ("full", "short"),
    [
        ("Акционерная компания «АЛРОСА» (публичное акционерное общество)", "АК «АЛРОСА» (ПАО)"),
        ("Общество с ограниченной ответственностью «Смарт Даймонд»", "ООО «Смарт Даймонд»"),
        ("Закрытое акционерное общество «Якутские алмазы»", "ЗАО «Якутские алмазы»"),
    ],
)
def test_russian_legal_forms_spelled_out_are_the_abbreviation(full: str, short: str) -> None:
    """An FTS integrator's review: the certificate's full OrganizationName and the
    confirmation's short name of the same company made a MATCHED_WITH_DISCREPANCIES."""
    assert normalise_name(full) == normalise_name(short)
