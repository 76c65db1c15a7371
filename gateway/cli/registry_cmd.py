"""``kpgw registry check|token``: the participant registry."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from gateway.cli import common
from gateway.errors import ConfigurationError
from gateway.registry.loader import load_registry
from gateway.registry.model import hash_token


@click.group(name="registry")
def registry_group() -> None:
    """Check the participant registry; mint participant API tokens."""


@registry_group.command()
@common.registry_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: ok, the counts, the demo token holders and the problems.",
)
def check(registry_path: Path | None, as_json: bool) -> None:
    """Validate the registry; print each problem with its line and key (exit 1)."""
    path = registry_path or common.settings().partners_file
    if path is not None and not path.is_file():
        common.fail(f"no participant registry at {path}")  # environment: exit 2
    source = str(path or "the example registry")
    try:
        loaded = load_registry(path)
    except ConfigurationError as exc:
        if not exc.findings:
            common.fail(exc.message, common.EXIT_INVALID)
        if as_json:
            problems = [finding.as_dict() for finding in exc.findings]
            common.emit_json({"registry": source, "ok": False, "problems": problems})
            raise SystemExit(common.EXIT_INVALID) from None
        click.echo(f"{source}: {len(exc.findings)} problem(s)", err=True)
        for finding in exc.findings:
            where = f"line {finding.line}: " if finding.line else ""
            click.echo(f"  {where}{finding.path}: {finding.message}", err=True)
        raise SystemExit(common.EXIT_INVALID) from None
    enabled = sum(1 for pair in loaded.pairs if pair.enabled)
    demo = loaded.demo_token_holders()
    if as_json:
        common.emit_json(
            {
                "registry": source,
                "ok": True,
                "participants": len(loaded.participants),
                "enabled_pairs": enabled,
                "demo_token_holders": demo,
                "problems": [],
            }
        )
    else:
        click.echo(f"{len(loaded.participants)} participants, {enabled} enabled pairs: valid")
    if demo:  # valid, but never for production: the ingress refuses it off loopback
        click.echo(
            f"warning: {len(demo)} participant(s) accept the PUBLIC demo tokens "
            f"({', '.join(demo)}); fine for a local trial, never for production",
            err=True,
        )


@registry_group.command()
@click.argument("participant")
@common.registry_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: participant, token (shown once) and token_hash.",
)
def token(participant: str, registry_path: Path | None, as_json: bool) -> None:
    """Mint a new bearer token for PARTICIPANT (a participant of the registry): prints the
    token once (give it to the participant) and the hash line to store in the registry."""
    code = participant.strip().upper()
    known = common.registry(registry_path)
    if code not in known.participants:
        owner = known.participant_of(code)
        if owner is not None:  # a member state's authority sends as its participant
            common.fail(
                f"{code} is a member state of {owner}, which sends for it: mint {owner}'s "
                f"token (kpgw registry token {owner}); no token minted"
            )
        common.fail(f"{participant} is not a participant of the registry; no token minted")
    if not known.is_active(code):
        click.echo(
            f"warning: {code} is suspended: the ingress refuses its documents (403 "
            "participant-suspended) while the registry says so",
            err=True,
        )
    value = f"kpgw_{code.lower()}_{secrets.token_urlsafe(32)}"
    if as_json:
        common.emit_json({"participant": code, "token": value, "token_hash": hash_token(value)})
        return
    click.echo(f"token (shown once): {value}")
    click.echo(f'token_hashes = ["{hash_token(value)}"]')
    # A second token_hashes key under the participant makes the file invalid TOML.
    click.echo(
        f"Store the hash in token_hashes under [participants.{code}] of the registry "
        "(a list: add it beside the hashes there, any of which is accepted, and remove "
        "those of tokens to retire); the gateway takes the edit within seconds.",
        err=True,
    )


registry = registry_group  # the name gateway.cli.COMMANDS looks up
