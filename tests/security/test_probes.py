"""Every probe of ``probes.PROBES`` against every delivery path of ``targets.TARGETS``,
with the same expectations; refusals logged once at WARNING with the client and the reason,
and no error or traceback in any server's log."""

from __future__ import annotations

import re
import uuid

import pytest

from security.probes import PROBES, Probe, check
from security.targets import Target

# gunicorn "[ERROR]", uvicorn "ERROR:", Django's "ERROR [pid] django.request", tracebacks.
ERRORS = re.compile(r"Traceback \(most recent call last\)|\[ERROR\]|^ERROR:| ERROR ", re.M)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_probe(target: Target, probe: Probe) -> None:
    response = target.request(probe.request_target(target.signer), *probe.headers,
                              method=probe.method)  # fmt: skip
    check(probe, response, target.tree.files)


def test_no_probe_left_an_error_in_the_log(target: Target) -> None:
    """Runs after the probes in this module (pytest keeps the file's order per target)."""
    assert not ERRORS.findall(target.server.logs()), target.server.log_tail(60)


def _warnings_about(target: Target, marker: str) -> list[str]:
    lines = target.server.logs().splitlines()
    return [line for line in lines if marker in line and "WARNING" in line and "mediaserve" in line]


def test_a_refused_lookup_is_logged_once_with_client_and_reason(target: Target) -> None:
    marker = uuid.uuid4().hex
    assert target.request(f"/media/.{marker}").status == 404
    found = _warnings_about(target, marker)
    assert len(found) == 1, target.server.log_tail(20)
    assert "127.0.0.1" in found[0]
    assert "dotfile" in found[0]


def test_a_denied_read_is_logged_once_with_client_and_reason(target: Target) -> None:
    marker = uuid.uuid4().hex
    assert target.request(f"/media/signed/{marker}.pdf?expires=1&signature=x").status == 404
    found = _warnings_about(target, marker)
    assert len(found) == 1, target.server.log_tail(20)
    assert "127.0.0.1" in found[0]
    assert "signature does not match" in found[0]
