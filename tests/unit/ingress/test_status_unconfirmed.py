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
from gateway.ingress.problems import Problem


class _View:
    def __init__(self, reaches_the_end: bool) -> None:
        self.caught_up = asyncio.Event()
        self.caught_up.set()
        self.reaches_the_end = reaches_the_end

    async def read_to_end(self, timeout_s: float) -> bool:
        del timeout_s
        return self.reaches_the_end


def _ingress(inbound_read: bool, status_read: bool) -> Any:
    return SimpleNamespace(
        auth=SimpleNamespace(authenticate=lambda request: Identity("EU", "token")),
        inbound_mirror=_View(inbound_read),
        status_mirror=_View(status_read),
        statuses=SimpleNamespace(lookup=lambda *_: None),
        accepted=None,
    )


async def _ask(ingress: Any) -> Problem:
    request = make_mocked_request(
        "GET",
        "/v1/messages/4b6f1f9e-0d4e-5f5e-9a57-3c1d2b0f4e11",
        match_info={"tracking_id": "4b6f1f9e-0d4e-5f5e-9a57-3c1d2b0f4e11"},
        app={handlers.INGRESS: ingress},
    )
    with pytest.raises(Problem) as refused:
        await handlers.get_status(request)
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


async def test_a_lookup_read_to_the_end_is_unknown() -> None:
    problem = await _ask(_ingress(True, True))
    assert (problem.slug, problem.status) == ("unknown-message", 404)
