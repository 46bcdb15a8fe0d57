"""Running the command-line entry points in subprocesses, several at once (each pays TensorFlow's start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, NamedTuple

REPO = Path(__file__).resolve().parents[1]
RUN = [sys.executable, "-m", "baselines_tf2.run"]
PLAY = [sys.executable, str(REPO / "examples" / "play.py")]


class Finished(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


MAX_PARALLEL = 2 * (os.cpu_count() or 1)  # enough to overlap start-ups; more only thrashes memory and cores


def run_one(argv: list[str], cwd: Path, timeout: float, env_changes: Mapping[str, str | None] | None = None
            ) -> Finished:
    """Run one command to completion, killing it if it outlives `timeout` seconds from its own start; `env_changes`
    sets variables of its environment (None removes one)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    for variable, value in (env_changes or {}).items():
        if value is None:
            env.pop(variable, None)
        else:
            env[variable] = value
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Finished(process.returncode, stdout, stderr)


def run_concurrently(commands: dict[str, list[str]], cwd: Path, timeout: float,
                     env_changes: Mapping[str, Mapping[str, str | None]] | None = None) -> dict[str, Finished]:
    """Run the commands, MAX_PARALLEL at a time, each killed if it outlives `timeout`; results by name.
    `env_changes` holds, by name, the environment changes of the commands that have some (see run_one)."""
    changes = env_changes or {}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        futures = {name: pool.submit(run_one, argv, cwd, timeout, changes.get(name)) for name, argv in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def run_in_process(argv: list[str], cwd: Path, capsys: Any) -> Finished:
    """`python -m baselines_tf2.run argv` as `main(argv)` in this process, from `cwd`: its exit status and output
    (read from pytest's `capsys`); the logger it configured is reset."""
    from baselines_tf2 import logger
    from baselines_tf2.run import main

    previous_dir = os.getcwd()
    os.chdir(cwd)
    try:
        returncode = main(argv)
    except SystemExit as exit_:
        returncode = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(previous_dir)
        logger.reset()
    captured = capsys.readouterr()
    return Finished(returncode, captured.out, captured.err)
