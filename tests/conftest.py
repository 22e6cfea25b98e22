"""Shared fixtures: a real Assistant (real embedding model, real Chroma) over the seed articles."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from qa import Assistant, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_IDS = ("000_f84ba1bb2755896e", "001_eef8d75a3c5cf43f")

# Seconds to wait for something that must happen: reached only when it is stuck, never because the machine is
# slow or busy. Tests wait on the real condition and never assert on how fast anything is.
STUCK = 600


def wait_until(condition, what: str, timeout: float = STUCK):
    """Poll ``condition`` until it returns something true, and return that. Raises AssertionError (not
    pytest.fail, so it also works in a helper thread) when it is still false after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"stuck: {what} (still not the case after {timeout} s)")
        time.sleep(0.05)
    return result


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    """An index of seeds/ built once per session; tests copy it rather than rebuild it."""
    folder = tmp_path_factory.mktemp("seed-index")
    Assistant(Settings(index_dir=folder)).index([SEEDS])
    return folder


@pytest.fixture(scope="session")
def assistant(seed_index) -> Assistant:
    """A read-only Assistant over the seed index (shared; tests must not index into it)."""
    return Assistant(Settings(index_dir=seed_index))


@pytest.fixture
def fresh_assistant(tmp_path, seed_index) -> Assistant:
    """An Assistant over a private copy of the seed index, free to change."""
    shutil.copytree(seed_index, tmp_path / "index")
    return Assistant(Settings(index_dir=tmp_path / "index"))


@pytest.fixture
def refused_port():
    """A loopback port that refuses connections for the whole test: bound but not listening, so no other
    process can start listening there meanwhile (a port that is merely free now may be taken a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
