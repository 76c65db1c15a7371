from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from gateway.cli import cli
from gateway.errors import ConfigurationError
from gateway.registry import ParticipantRegistry, load_registry_text
from gateway.registry.model import Participant, hash_token


def test_example_holds_real_participants(example_registry: ParticipantRegistry) -> None:
    assert len(example_registry.participants) >= 55
    assert example_registry.get("TW") is not None  # Chinese Taipei, a trading entity
    assert example_registry.get("KE") is None  # Kenya is not a participant
    assert not example_registry.is_active("VE")  # Venezuela suspended its own trade
    assert example_registry.is_active("CF")  # CAR reinstated in 2024
    eu = example_registry.get("EU")
    assert eu is not None and "BE" in eu.member_states and "GL" in eu.member_states


def test_eu_member_states_map_to_the_eu_and_are_kept(example_registry: ParticipantRegistry) -> None:
    assert example_registry.participant_of("BE") == "EU"
    assert example_registry.member_state_of("BE") == "BE"
    assert example_registry.participant_of("EL") == "EU"  # the EU's own code for Greece
    assert example_registry.participant_of("RU") == "RU"
    assert example_registry.member_state_of("RU") is None
    assert example_registry.participant_of("KE") is None


def test_pairs_are_directed_and_some_not_enabled(example_registry: ParticipantRegistry) -> None:
    ru_eu = example_registry.pair("RU", "EU")
    assert ru_eu is not None and ru_eu.enabled
    assert example_registry.pair("EU", "RU") is None
    za_ae = example_registry.pair("ZA", "AE")
    assert za_ae is not None and not za_ae.enabled


def test_tokens_are_matched_by_hash_only() -> None:
    registry = load_registry_text(
        f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{hash_token("secret-token")}"]\n'
    )
    assert registry.participant_for_token("secret-token") == "RU"
    assert registry.participant_for_token("secret-tokem") is None


def test_one_token_hash_under_two_participants_is_refused() -> None:
    """Found by a security review: the last participant read silently won."""
    shared = hash_token("pasted-twice")
    text = (
        f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{shared}"]\n\n'
        f'[participants.BW]\nname = "Botswana"\ntoken_hashes = ["{shared}"]\n'
    )
    with pytest.raises(ConfigurationError, match="BW has a token hash that RU has too"):
        load_registry_text(text)


def test_the_example_registry_holds_demo_tokens_and_a_minted_one_does_not(
    example_registry: ParticipantRegistry,
) -> None:
    assert {"RU", "EU", "BW"} <= set(example_registry.demo_token_holders())
    own = load_registry_text(
        f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{hash_token("own")}"]\n'
    )
    assert own.demo_token_holders() == []


def test_errors_give_line_and_key() -> None:
    text = "\n".join(
        [
            "[participants.RU]",
            'name = "Russia"',
            'status = "banned"',
            "",
            "[participants.BW]",
            'name = "Botswana"',
            'token_hashes = ["plain-token-by-mistake"]',
            "",
            "[[pairs]]",
            'exporter = "RU"',
            'importer = "BW"',
            "confirmation_deadline_days = 0",
        ]
    )
    with pytest.raises(ConfigurationError) as caught:
        load_registry_text(text, source="participants.toml")
    by_path = {f.path: f for f in caught.value.findings}
    assert by_path["participants.RU.status"].line == 3
    assert by_path["participants.BW.token_hashes"].line == 7
    assert "never put a token here" in by_path["participants.BW.token_hashes"].message
    assert by_path["pairs.0.confirmation_deadline_days"].line == 12
    assert "participants.toml: line 3" in caught.value.message


def test_pair_with_unknown_participant_is_refused() -> None:
    text = '[participants.RU]\nname = "Russia"\n[[pairs]]\nexporter = "RU"\nimporter = "KE"\n'
    with pytest.raises(ConfigurationError, match="KE is not a participant"):
        load_registry_text(text)


def test_toml_syntax_error_is_one_clear_sentence() -> None:
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_registry_text("[participants.RU\nname=1")


def test_every_cross_reference_problem_is_listed_with_its_line() -> None:
    text = "\n".join(
        [
            "[participants.RU]",  # 1
            'name = "Russia"',
            "[[pairs]]",  # 3
            'exporter = "RU"',
            'importer = "ZZ"',  # 5
            "[[pairs]]",
            'exporter = "QQ"',  # 7
            'importer = "RU"',
            "[[pairs]]",
            'exporter = "RU"',  # 10
            'importer = "ZZ"',
        ]
    )
    with pytest.raises(ConfigurationError) as caught:
        load_registry_text(text, source="participants.toml")
    listed = [(f.line, f.path, f.message) for f in caught.value.findings]
    assert listed == [
        (5, "pairs.0.importer", "pair RU->ZZ: ZZ is not a participant"),
        (7, "pairs.1.exporter", "pair QQ->RU: QQ is not a participant"),
        (11, "pairs.2.importer", "pair RU->ZZ: ZZ is not a participant"),
        (10, "pairs.2.exporter", "pair RU->ZZ is listed twice"),
    ]


def test_registry_check_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "participants.toml"
    path.write_text(
        '[participants.RU]\nname = "Russia"\n[[pairs]]\nexporter = "RU"\nimporter = "ZZ"\n'
    )
    result = CliRunner().invoke(cli, ["registry", "check", "--registry", str(path)])
    assert result.exit_code == 1
    assert "line 5: pairs.0.importer: pair RU->ZZ: ZZ is not a participant" in result.output
    missing = CliRunner().invoke(cli, ["registry", "check", "--registry", str(tmp_path / "no")])
    assert missing.exit_code == 2


def test_registry_check_warns_of_the_public_demo_tokens() -> None:
    result = CliRunner().invoke(cli, ["registry", "check"])  # the shipped example
    assert result.exit_code == 0
    assert "accept the PUBLIC demo tokens" in result.stderr


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ({"7102.29": ("1", "2")}, "is not one of"),
        ({"7102.21": ("40", "2")}, "must be \\[low, high\\]"),
    ],
)
def test_bands_per_hs_code_are_kp_codes_and_ordered(
    bands: dict[str, tuple[str, str]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Participant(code="BW", name="Botswana", usd_per_carat_by_hs=bands)
