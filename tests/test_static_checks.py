"""Static checks as tests, so the README's `python -m pytest` (and so CI) runs them: ruff lints the code (rules in
pyproject.toml's [tool.ruff]) and mypy type-checks the package (settings in setup.cfg's [mypy] section).

Both tools come with the `test` extra; a missing tool fails its test instead of skipping it, so a CI without
them cannot pass silently.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUFF_PATHS = ["baselines_tf2", "tests", "examples", "benchmarks", "docs/tools"]
RUFF_TIMEOUT_S = 60  # a lint of the whole repo takes well under a second
MYPY_TIMEOUT_S = 240  # a cold run (no .mypy_cache) takes ~15 s alone; other tests may share the cores


def run_tool(module: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` from the repo root; fails the test if the tool is missing or hangs."""
    if importlib.util.find_spec(module) is None:
        pytest.fail(
            f"{module} is not installed in {sys.executable}; install the test extra: pip install -e '.[test]'",
            pytrace=False,
        )
    command = [sys.executable, "-m", module, *args]
    try:
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:  # run() has killed the tool
        parts = [err.stdout, err.stderr]
    output = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part for part in parts if part)
    pytest.fail(f"`python {' '.join(command[1:])}` did not finish within {timeout} s; output so far:\n{output}",
                pytrace=False)


def require_success(completed: subprocess.CompletedProcess[str]) -> None:
    """Fail the test with the command line, its exit status and everything it printed, unless it exited 0."""
    if completed.returncode != 0:
        command = " ".join(["python", *completed.args[1:]])
        pytest.fail(f"`{command}` exited with {completed.returncode}:\n{completed.stdout}{completed.stderr}",
                    pytrace=False)


def test_ruff_finds_nothing() -> None:
    require_success(run_tool("ruff", ["check", "--output-format", "concise", *RUFF_PATHS], RUFF_TIMEOUT_S))


def test_mypy_finds_nothing() -> None:
    require_success(run_tool("mypy", ["baselines_tf2"], MYPY_TIMEOUT_S))
