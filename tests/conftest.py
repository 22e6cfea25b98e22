"""Shared fixtures: a real Assistant (real embedding model, real Chroma) over the seed articles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa import Assistant, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_IDS = ("000_f84ba1bb2755896e", "001_eef8d75a3c5cf43f")


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
