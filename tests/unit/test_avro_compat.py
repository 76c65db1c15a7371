"""Every published schema stays FULL_TRANSITIVE-compatible with its released versions."""

from __future__ import annotations

import copy
import json

from gateway.avro_compat import full_transitive_problems, problems
from gateway.cli.schemas_cmd import compatibility_report
from gateway.codec import expanded_schema, released_paths


def test_every_schema_is_compatible_with_all_its_releases() -> None:
    report = compatibility_report()
    assert report, "no schemas found"
    assert all(released_paths(name) for name in report), "every top-level schema is released"
    assert {name: found for name, found in report.items() if found} == {}


def test_a_new_required_field_is_caught() -> None:
    current = expanded_schema("CertificateEvent")
    released = [("v1", json.loads(released_paths("CertificateEvent")[0].read_text()))]
    changed = copy.deepcopy(current)
    changed["fields"].append({"name": "signature", "type": "string"})
    found = full_transitive_problems(changed, released)
    assert any("signature: new field without a default" in p for p in found)


def test_a_removed_required_field_breaks_forward_compatibility() -> None:
    current = expanded_schema("Outcome")
    changed = copy.deepcopy(current)
    changed["fields"] = [f for f in changed["fields"] if f["name"] != "certificate_id"]
    assert any("certificate_id" in p for p in full_transitive_problems(changed, [("v1", current)]))


def test_decimal_scale_change_and_type_change_are_caught() -> None:
    old = {
        "type": "record",
        "name": "L",
        "fields": [
            {
                "name": "carats",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 15, "scale": 3},
            },
            {"name": "parcels", "type": "int"},
        ],
    }
    new = copy.deepcopy(old)
    new["fields"][0]["type"]["scale"] = 2
    new["fields"][1]["type"] = "string"
    found = problems(new, old)
    assert any("decimal" in p for p in found)
    assert any("int cannot be read as string" in p for p in found)


def test_promotions_and_optional_fields_are_fine() -> None:
    old = {"type": "record", "name": "L", "fields": [{"name": "n", "type": "int"}]}
    new = {
        "type": "record",
        "name": "L",
        "fields": [
            {"name": "n", "type": "long"},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
    assert problems(new, old) == []
    assert any("long cannot be read as int" in p for p in problems(old, new))


def test_enum_symbol_added_needs_a_reader_default() -> None:
    old = {"type": "enum", "name": "K", "symbols": ["A"]}
    new = {"type": "enum", "name": "K", "symbols": ["A", "B"]}
    assert problems(old, new)
    assert problems({**old, "default": "A"}, new) == []
