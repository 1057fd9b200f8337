"""Shared pytest fixtures.

Tests that read the paper's data or the authors' checkpoints use the
``shared_dir`` fixture: it points at ``../shared`` beside the project root (or at
``$SKLEARN_MIRO_SHARED``) and skips the test, with the reason, when that folder
is absent. Nothing from ``../shared`` is ever copied into the project.
"""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DIR = Path(
    os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


@pytest.fixture(scope="session")
def shared_dir():
    """Path of ``../shared``; skips the test when the folder is not there."""
    if not (SHARED_DIR / "data" / "nieves2023").is_dir():
        pytest.skip(
            f"needs the shared paper data at {SHARED_DIR} (set SKLEARN_MIRO_SHARED "
            "to its location); it is not part of the project"
        )
    return SHARED_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)
