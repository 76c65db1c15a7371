"""Who is calling: a bearer token (hash looked up in the participant registry, constant-time
comparison) and, when ``tls_client_cafile`` is set, the verified client certificate.

Decisions:
- Tokens are 256-bit random strings (``kpgw registry token P`` mints ``kpgw_<p>_<43
  base64url chars>``); the registry stores ``sha256:<hex>`` only. One SHA-256 suffices for
  high-entropy secrets; every stored hash is compared with ``hmac.compare_digest`` and the
  loop never stops early, so timing does not reveal which participant nearly matched.
- Mutual TLS is optional (``CERT_OPTIONAL``): a presented certificate must chain to the
  configured CA, and then its subject names the participant (``CN``, else ``O``, equal to a
  registry participant code, as the ePhyto Hub takes the sender from the certificate, not
  the message). Probes and Prometheus need no certificate. When both a certificate and a
  token are presented they must name the same participant.
- A verified token is remembered (``_VerifiedTokens``): the SHA-256 of the presented token
  -> participant, for the registry object it was verified against (a reloaded registry
  starts empty). Only tokens that matched are remembered, so the memory is bounded by the
  registry's tokens; an unknown token always takes the full constant-time scan. Looking up
  a hash reveals nothing a timing attacker could use: finding a token from its SHA-256 is
  infeasible, and whether a token is valid is what the response says anyway.
- An authenticated but suspended participant gets 403; no credentials or wrong ones, 401
  with ``WWW-Authenticate: Bearer``. Tokens never reach logs or problem details.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.errors import ConfigurationError
from gateway.ingress.problems import Problem
from gateway.registry import ParticipantRegistry
from gateway.registry.model import hash_token
from gateway.settings import IngressSettings, tls_settings_problem

REALM = "kpgw"
MAX_TOKEN_CHARS = 512
SUBJECT_FIELDS = ("commonName", "organizationName")


@dataclass(frozen=True, slots=True)
class Identity:
    participant: str
    method: str  # "token" or "certificate"


def _unauthenticated(detail: str, error: str | None = None) -> Problem:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return Problem("unauthenticated", detail, headers={"WWW-Authenticate": challenge})


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or len(token) > MAX_TOKEN_CHARS
        # Printable ASCII only (no space): a header with other bytes reaches us with
        # surrogate escapes, which would fail the hashing instead of the authentication.
        or not (token.isascii() and token.isprintable())
        or " " in token
    ):
        raise _unauthenticated(
            "the Authorization header must be 'Bearer <token>'", "invalid_request"
        )
    return token


def _one_authorization(request: web.Request) -> str | None:
    """The request's Authorization header. Given twice with different values it is refused:
    the first was taken without a word, so a request carrying a proxy's token and its own
    was judged by whichever came first."""
    values = list(dict.fromkeys(request.headers.getall("Authorization", [])))
    if len(values) > 1:
        raise _unauthenticated(
            f"the Authorization header is given {len(values)} times with different values; "
            "give it once",
            "invalid_request",
        )
    return values[0] if values else None


def participant_from_subject(subject: Any, registry: ParticipantRegistry) -> str | None:
    """The participant a verified certificate names: its ``CN``, else its ``O``, when that
    is a registry participant code. ``subject`` is ``ssl.getpeercert()['subject']``."""
    values: dict[str, list[str]] = {}
    for rdn in subject or ():
        for name, value in rdn:
            values.setdefault(str(name), []).append(str(value).strip())
    for field in SUBJECT_FIELDS:
        for value in values.get(field, []):
            if value in registry.participants:
                return value
    return None


class _VerifiedTokens:
    """Tokens that matched a registry hash: their SHA-256 -> participant, per registry."""

    def __init__(self) -> None:
        self._registry: ParticipantRegistry | None = None
        self._participants: dict[str, str] = {}

    def participant(self, token: str, registry: ParticipantRegistry) -> str | None:
        if registry is not self._registry:  # reloaded: tokens may have been revoked
            self._registry, self._participants = registry, {}
        digest = hash_token(token)
        found = self._participants.get(digest)
        if found is None:
            found = registry.participant_for_token(token)  # constant-time over every hash
            if found is not None:
                self._participants[digest] = found
        return found


class Authenticator:
    def __init__(self, registry: Callable[[], ParticipantRegistry], *, mutual_tls: bool) -> None:
        self._registry = registry
        self._verified = _VerifiedTokens()
        self.mutual_tls = mutual_tls

    def authenticate(self, request: web.Request) -> Identity:
        registry = self._registry()
        from_cert = self._certificate_participant(request, registry)
        token = bearer_token(_one_authorization(request))
        from_token = self._verified.participant(token, registry) if token is not None else None
        if token is not None and from_token is None:
            raise _unauthenticated("the bearer token is not valid", "invalid_token")
        if from_cert and from_token and from_cert != from_token:
            raise _unauthenticated(
                "the bearer token and the client certificate name different participants",
                "invalid_token",
            )
        participant = from_cert or from_token
        if participant is None:
            raise _unauthenticated("send 'Authorization: Bearer <token>'")
        if not registry.is_active(participant):
            raise Problem(
                "participant-suspended",
                f"{participant} is suspended in the participant registry and may not use "
                "the gateway",
            )
        return Identity(participant, "certificate" if from_cert else "token")

    def _certificate_participant(
        self, request: web.Request, registry: ParticipantRegistry
    ) -> str | None:
        if not self.mutual_tls or request.transport is None:
            return None
        peercert = request.transport.get_extra_info("peercert")
        if not peercert:  # none presented (CERT_OPTIONAL); a bad one fails the handshake
            return None
        participant = participant_from_subject(peercert.get("subject"), registry)
        if participant is None:
            raise _unauthenticated(
                "the client certificate's subject (CN or O) names no participant"
                + member_state_note(peercert.get("subject"), registry),
                "invalid_token",
            )
        return participant


def member_state_note(subject: Any, registry: ParticipantRegistry) -> str:
    """Why a certificate naming a member state (``CN=BE``) is no identity: the EU is one
    KP participant and its member states' systems send as it. A Belgian authority's
    certificate was refused as naming "no participant", which reads as if Belgium were
    unknown (a walkthrough of an importing authority's integration)."""
    for rdn in subject or ():
        for name, value in rdn:
            if str(name) not in SUBJECT_FIELDS:
                continue
            code = str(value).strip()
            owner = registry.participant_of(code) if len(code) == 2 else None
            if owner is not None and owner != code.upper():
                return (
                    f" ({code} is a member state of {owner}, which is the KP participant: "
                    f"a certificate for its systems names {owner} as CN or O)"
                )
    return ""


class _EncryptedKey(Exception):
    """The private key asks for a passphrase (OpenSSL would prompt on the terminal)."""


def _no_passphrase() -> str:
    raise _EncryptedKey


def _tls_file(variable: str, path: Path) -> str:
    """``KPGW_INGRESS__<variable>=<path>`` after checking the file can be read: errors name
    the setting and the path, never only "[Errno 2]"."""
    named = f"KPGW_INGRESS__{variable}={path}"
    if not path.exists():
        raise ConfigurationError(f"{named}: no such file")
    if not path.is_file():
        raise ConfigurationError(f"{named}: not a file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise ConfigurationError(f"{named}: cannot be read ({exc.strerror})") from None
    return named


def _holds_a_certificate(path: Path) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError):
        return False
    return True


def server_ssl_context(settings: IngressSettings) -> ssl.SSLContext | None:
    """TLS for the listener when ``tls_certfile`` and ``tls_keyfile`` are set; client
    certificates verified against ``tls_client_cafile`` when that is set too. Every
    error names the setting and its file (``ConfigurationError``: exit 2)."""
    problem = tls_settings_problem(settings)  # the settings refuse it; this is the last line
    if problem is not None:
        raise ConfigurationError(problem)
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        return None
    cert = _tls_file("TLS_CERTFILE", settings.tls_certfile)
    key = _tls_file("TLS_KEYFILE", settings.tls_keyfile)
    cafile = settings.tls_client_cafile
    ca = _tls_file("TLS_CLIENT_CAFILE", cafile) if cafile is not None else ""
    if not _holds_a_certificate(settings.tls_certfile):
        raise ConfigurationError(f"{cert}: not a PEM certificate")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(
            str(settings.tls_certfile), str(settings.tls_keyfile), password=_no_passphrase
        )
    except _EncryptedKey:
        raise ConfigurationError(
            f"{key}: the private key is encrypted; the ingress needs it without a passphrase "
            "(readable by its user only)"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigurationError(
                f"{cert}: does not match {key} (the key of another certificate, or the "
                "server's certificate is not the file's first)"
            ) from None
        raise ConfigurationError(f"{key}: not a PEM private key ({exc.reason or exc})") from None
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=str(cafile))
        except ssl.SSLError as exc:
            raise ConfigurationError(
                f"{ca}: not PEM CA certificates ({exc.reason or exc})"
            ) from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
