"""Shared pytest set-up."""

from __future__ import annotations

import sys
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def op_determinism_stays_within_its_test() -> Iterator[None]:
    """learn(deterministic=True) turns TensorFlow's op determinism on for the whole process; tests that do so must
    not change the numerics of the tests after them (a learning test's seed would then give another run)."""
    yield
    if "tensorflow" not in sys.modules:
        return
    from tensorflow.python.framework import config  # the public API can turn determinism on, not off

    if config.is_op_determinism_enabled():
        config.disable_op_determinism()
