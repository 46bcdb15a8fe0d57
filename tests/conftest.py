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


@pytest.fixture(autouse=True)
def the_logger_stays_within_its_test() -> Iterator[None]:
    """A test that configures the global logger (run.main does, as baselines' did) must not leave later tests in
    the same process logging, and checkpointing, into its folder: under a relative path that is a folder in
    whatever directory the next test runs from."""
    from baselines_tf2 import logger

    before = logger.get_current()
    yield
    if logger.get_current() is not before:
        logger.reset()


# Files whose tests share nothing costly and are long enough to be worth spreading over both xdist workers, test by
# test. Every other file stays whole on one worker (`--dist=loadgroup` with one group per file), so its module
# fixtures are built once.
SPREAD_TEST_BY_TEST = frozenset({
    "test_learning.py",
    "test_continuous_control.py",
    "test_baselines_algorithm_tests.py",
})


def pytest_itemcollected(item: pytest.Item) -> None:
    """Put each test of a file outside SPREAD_TEST_BY_TEST in its file's xdist group (as each test is collected:
    xdist turns the groups into test ids in its own pytest_collection_modifyitems, which runs before a conftest's)."""
    if item.path.name not in SPREAD_TEST_BY_TEST:
        item.add_marker(pytest.mark.xdist_group(item.path.name))
