"""Shared fixtures. Real-data tests read ../shared/data (or $BEATSSL_DATA) and are skipped, with the reason,
when it is absent."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [os.environ.get("BEATSSL_DATA"), REPO.parent / "shared" / "data"]


def _real_root(folder: str) -> Path | None:
    for candidate in _CANDIDATES:
        if candidate and (Path(candidate) / folder).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def ludb_root() -> Path:
    """A data root holding ludb/, or skip."""
    root = _real_root("ludb")
    if root is None:
        pytest.skip("real LUDB not found: set BEATSSL_DATA to a folder holding ludb/")
    return root


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    """A data root holding ptb-xl/, or skip."""
    root = _real_root("ptb-xl")
    if root is None:
        pytest.skip("real PTB-XL not found: set BEATSSL_DATA to a folder holding ptb-xl/")
    return root
