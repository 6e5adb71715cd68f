"""Shared fixtures. Real-data tests read ../shared/data (or $BEATSSL_DATA) and are skipped, with the reason,
when it is absent."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [os.environ.get("BEATSSL_DATA"), REPO.parent / "shared" / "data"]


def _real_root_or_skip(folder: str, name: str) -> Path:
    """The first data root holding ``folder``, or skip the test saying how to provide one."""
    for candidate in _CANDIDATES:
        if candidate and (Path(candidate) / folder).is_dir():
            return Path(candidate)
    pytest.skip(f"real {name} not found: set BEATSSL_DATA to a folder holding {folder}/")


@pytest.fixture(scope="session")
def ludb_root() -> Path:
    """A data root holding ludb/, or skip."""
    return _real_root_or_skip("ludb", "LUDB")


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    """A data root holding ptb-xl/, or skip."""
    return _real_root_or_skip("ptb-xl", "PTB-XL")
