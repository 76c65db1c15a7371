"""``kpgw send``'s pure parts (the command against a real ingress is in tests/kafka)."""

from __future__ import annotations

import pytest

from gateway.cli.send_cmd import base_url


@pytest.mark.parametrize(
    "url",
    [
        "http://h:8080",
        "http://h:8080/",
        "http://h:8080/v1/messages",
        "http://h:8080/v1/validate/",
    ],
)
def test_base_url(url: str) -> None:
    assert base_url(url) == "http://h:8080"
