"""``GET /v1/messages/{tracking_id}`` says "unknown" (404) only once it has read
``kp.inbound`` and ``kp.status`` to their end. With the broker away, an ingress answered
404 for a message another instance had accepted just before (a night-duty walkthrough:
the broker stopped mid-traffic), and ``kpgw status --wait`` stops at a 404 for good."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.ingress import handlers
from gateway.ingress.auth import Identity
from gateway.ingress.limits import RateLimiter
from gateway.ingress.problems import Problem


class _View:
    def __init__(self, reaches_the_end: bool) -> None:
        self.caught_up = asyncio.Event()
        self.caught_up.set()
        self.reaches_the_end = reaches_the_end

    async def read_to_end(self, timeout_s: float) -> bool:
        del timeout_s
        return self.reaches_the_end


def _ingress(
    inbound_read: bool, status_read: bool, *, per_minute: int = 600, known: bool = False
) -> Any:
    found = {"tracking_id": "x", "status": "matched"}
    return SimpleNamespace(
        auth=SimpleNamespace(authenticate=lambda request: Identity("EU", "token")),
        inbound_mirror=_View(inbound_read),
        status_mirror=_View(status_read),
        statuses=SimpleNamespace(lookup=lambda *_: found if known else None),
        accepted=None,
        limiter=RateLimiter(per_minute, clock=lambda: 0.0),
    )


TRACKING_ID = "4b6f1f9e-0d4e-5f5e-9a57-3c1d2b0f4e11"


def _request(ingress: Any, tracking_id: str = TRACKING_ID) -> Any:
    return make_mocked_request(
        "GET",
        "/v1/messages/x",
        match_info={"tracking_id": tracking_id},
        app={handlers.INGRESS: ingress},
    )


async def _ask(ingress: Any, tracking_id: str = TRACKING_ID) -> Problem:
    with pytest.raises(Problem) as refused:
        await handlers.get_status(_request(ingress, tracking_id))
    return refused.value


@pytest.mark.parametrize(("inbound_read", "status_read"), [(False, True), (True, False)])
async def test_an_unconfirmed_lookup_is_503_not_unknown(
    inbound_read: bool, status_read: bool
) -> None:
    problem = await _ask(_ingress(inbound_read, status_read))
    assert (problem.slug, problem.status) == ("not-ready", 503)
    assert "retry shortly" in problem.detail
    assert int(problem.headers["Retry-After"]) >= 1
    assert json.loads(problem.response("urn:uuid:x").body)["status"] == 503


@pytest.mark.parametrize(("inbound_read", "status_read"), [(False, True), (True, True)])
async def test_the_asked_id_is_quoted_escaped_and_bounded(
    inbound_read: bool, status_read: bool
) -> None:
    """The 404 quotes the path's id through audit_text; the 503 of an unconfirmed look-up
    quoted it raw: a bidirectional override reversed the text around it where the answer
    is shown, and a path of thousands of characters came back whole."""
    ingress = _ingress(inbound_read, status_read)
    reversed_id = (await _ask(ingress, "\u202edi-hcus-on")).detail
    assert "\u202e" not in reversed_id and "\\u202edi-hcus-on" in reversed_id
    assert len((await _ask(ingress, "x" * 3000)).detail) < 400


async def test_a_lookup_read_to_the_end_is_unknown() -> None:
    problem = await _ask(_ingress(True, True))
    assert (problem.slug, problem.status) == ("unknown-message", 404)


async def test_look_ups_of_unknown_ids_are_rate_limited_apart_from_known_ones() -> None:
    """A customs security walkthrough: each miss costs the broker two ListOffsets
    requests, and the status endpoint had no limit, so a participant looping over made-up
    ids drove the broker at will. Misses now spend a budget of their own (the documents'
    size, per participant); a known message is answered from memory, unlimited."""
    ingress = _ingress(True, True, per_minute=2)
    assert (await _ask(ingress)).slug == "unknown-message"
    assert (await _ask(ingress)).slug == "unknown-message"
    limited = await _ask(ingress)
    assert (limited.slug, limited.status) == ("rate-limited", 429)
    assert "look-ups of unknown tracking ids per minute from EU" in limited.detail
    assert int(limited.headers["Retry-After"]) >= 1
    ingress.limiter.enforce("EU")  # the documents' budget is untouched
    known = _ingress(True, True, per_minute=1, known=True)
    for _ in range(3):
        assert (await handlers.get_status(_request(known))).status == 200
