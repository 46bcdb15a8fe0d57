"""Shared pytest set-up."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

THREAD_POOL_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                         "OPENBLAS_NUM_THREADS")


def share_the_cores_between_workers() -> None:
    """Size TensorFlow's and the BLAS thread pools of each xdist worker, and of the processes it starts, to its
    share of the cores. Left at their default, every worker's pools each take all the cores, and two workers run
    twice as many busy threads as there are cores. Measured on 2 cores (2026-12-07, AMD EPYC), whole suite: 971 s
    with two threads per pool, 925 s with one; the in-process learning tests gain most (test_learning 131 -> 105 s
    of test time). Values already set in the environment are kept; with `-n 0` the pools keep all the cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for variable in THREAD_POOL_VARIABLES:
            os.environ.setdefault(variable, threads)


share_the_cores_between_workers()  # before any test module imports TensorFlow or NumPy's BLAS


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
def thread_settings_stay_within_their_test() -> Iterator[None]:
    """run.main and run.train set TensorFlow's thread variables off Atari (as baselines' run.py did); a test that
    calls them in this process must not leave the later tests' subprocesses on one thread."""
    before = {variable: os.environ.get(variable) for variable in THREAD_POOL_VARIABLES}
    yield
    for variable, value in before.items():
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = value


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
