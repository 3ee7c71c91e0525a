"""Shared test fixtures: paths to the repo and the development data, and service-availability checks.

Services this machine runs (PostgreSQL, Redis) are used for real. Locally a test that needs one skips with
the reason when it is down; in CI (CI=true) it fails instead, so a missing service cannot hide a bug.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def service_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (in CI) when a machine service is not reachable."""
    if service_up(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI must run this test)")
    pytest.skip(reason=message)


def shared_data(*parts: str) -> Path:
    """A path in ../shared/data; skip the test with a reason when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(reason=f"development data {path} is not present (see ../shared/data/README.md)")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO
