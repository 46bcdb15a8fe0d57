"""Running the command-line entry points in subprocesses, several at once (each pays TensorFlow's start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
RUN = [sys.executable, "-m", "baselines_tf2.run"]
PLAY = [sys.executable, str(REPO / "examples" / "play.py")]


class Finished(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run_concurrently(commands: dict[str, list[str]], cwd: Path, timeout: float) -> dict[str, Finished]:
    """Start every command at once, wait for all (killing any that outlive `timeout`); results by name."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    started = {
        name: subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, argv in commands.items()
    }
    results = {}
    for name, process in started.items():
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = Finished(process.returncode, stdout, stderr)
    return results
