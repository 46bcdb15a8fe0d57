"""Worker faults: raising envs or factories and killed workers become VecEnvWorkerError fast; nothing keeps running."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import ClosedEnvError, VecEnvWorkerError

PROCESS_VENVS = {"subproc": SubprocVecEnv, "shmem": ShmemVecEnv}
ENV_ERROR_LIMIT_S = 5.0
KILLED_WORKER_LIMIT_S = 10.0


class FaultyEnv(gymnasium.Env):
    """Counter env raising RuntimeError in `fail_in` ('reset', or 'step' from step 3 on); step and close can be slow."""

    observation_space = gymnasium.spaces.Box(0.0, 100.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, fail_in: str | None = None, step_seconds: float = 0.0, close_seconds: float = 0.0) -> None:
        self.fail_in = fail_in
        self.step_seconds = step_seconds
        self.close_seconds = close_seconds
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self.fail_in == "reset":
            raise RuntimeError("reset exploded in FaultyEnv")
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        time.sleep(self.step_seconds)
        self.t += 1
        if self.fail_in == "step" and self.t >= 3:
            raise RuntimeError(f"step {self.t} exploded in FaultyEnv")
        return np.full(2, self.t, np.float32), 1.0, False, False, {}

    def close(self) -> None:
        time.sleep(self.close_seconds)


def exploding_factory() -> gymnasium.Env:
    raise ValueError("factory exploded before making an env")


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie entry is left."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def still_running(pids: list[int], within_s: float = 10.0) -> list[int]:
    """The pids still running after waiting up to `within_s` for all of them to end."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not all(process_gone(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if not process_gone(pid)]


def assert_closed_and_stopped(venv: SubprocVecEnv, pids: list[int]) -> None:
    assert venv.closed
    with pytest.raises(ClosedEnvError):
        venv.step(np.zeros(venv.num_envs, dtype=int))
    assert not any(process.is_alive() for process in venv.processes)
    assert not set(venv.processes) & set(multiprocessing.active_children())
    assert still_running(pids) == []


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_env_raising_in_step_names_worker_and_envs_within_limit(kind: str) -> None:
    fns = [FaultyEnv, FaultyEnv, functools.partial(FaultyEnv, fail_in="step"), FaultyEnv]
    venv = PROCESS_VENVS[kind](fns, in_series=2)
    pids = [process.pid for process in venv.processes]
    venv.reset()
    venv.step(np.zeros(4, dtype=int))
    venv.step(np.zeros(4, dtype=int))
    start = time.monotonic()
    with pytest.raises(VecEnvWorkerError) as caught:
        venv.step(np.zeros(4, dtype=int))
    assert time.monotonic() - start < ENV_ERROR_LIMIT_S
    error = caught.value
    assert (error.worker_index, error.env_indices) == (1, (2, 3))
    assert "worker 1 (envs [2, 3])" in str(error) and "step 3 exploded in FaultyEnv" in str(error)
    assert "RuntimeError: step 3 exploded" in error.worker_traceback
    assert_closed_and_stopped(venv, pids)


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_env_raising_in_reset_is_reported(kind: str) -> None:
    venv = PROCESS_VENVS[kind]([FaultyEnv, functools.partial(FaultyEnv, fail_in="reset")])
    pids = [process.pid for process in venv.processes]
    start = time.monotonic()
    with pytest.raises(VecEnvWorkerError, match="reset exploded in FaultyEnv") as caught:
        venv.reset()
    assert time.monotonic() - start < ENV_ERROR_LIMIT_S
    assert (caught.value.worker_index, caught.value.env_indices) == (1, (1,))
    assert_closed_and_stopped(venv, pids)


def test_factory_raising_fails_construction_and_leaves_no_workers() -> None:
    children_before = set(multiprocessing.active_children())
    with pytest.raises(VecEnvWorkerError, match="factory exploded before making an env") as caught:
        SubprocVecEnv([FaultyEnv, FaultyEnv, exploding_factory, FaultyEnv])
    assert caught.value.worker_index == 2
    assert "while creating its envs" in str(caught.value)
    assert set(multiprocessing.active_children()) <= children_before


def test_unpicklable_factory_fails_construction_and_leaves_no_workers() -> None:
    lock = threading.Lock()
    children_before = set(multiprocessing.active_children())
    with pytest.raises(TypeError, match=r"factories of envs \[1\] cannot be sent to a worker"):
        SubprocVecEnv([FaultyEnv, lambda: FaultyEnv() if lock else None])
    assert set(multiprocessing.active_children()) <= children_before


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_worker_killed_between_steps_raises_within_limit(kind: str) -> None:
    venv = PROCESS_VENVS[kind]([FaultyEnv, FaultyEnv])
    pids = [process.pid for process in venv.processes]
    venv.reset()
    os.kill(pids[1], signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(VecEnvWorkerError, match=r"worker 1 \(envs \[1\]\) died unexpectedly") as caught:
        venv.step(np.zeros(2, dtype=int))
    assert time.monotonic() - start < KILLED_WORKER_LIMIT_S
    assert caught.value.worker_index == 1
    assert_closed_and_stopped(venv, pids)


def test_worker_killed_during_a_step_raises_within_limit() -> None:
    venv = SubprocVecEnv([functools.partial(FaultyEnv, step_seconds=1.0)] * 2)
    pids = [process.pid for process in venv.processes]
    venv.reset()
    venv.step_async(np.zeros(2, dtype=int))
    os.kill(pids[0], signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(VecEnvWorkerError, match="killed by SIGKILL"):
        venv.step_wait()
    assert time.monotonic() - start < KILLED_WORKER_LIMIT_S
    assert_closed_and_stopped(venv, pids)


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_close_twice_stops_every_worker(kind: str) -> None:
    venv = PROCESS_VENVS[kind]([FaultyEnv] * 4, in_series=2)
    pids = [process.pid for process in venv.processes]
    venv.reset()
    venv.close()
    venv.close()
    assert_closed_and_stopped(venv, pids)


def test_close_stops_a_worker_stuck_in_env_close() -> None:
    venv = SubprocVecEnv([FaultyEnv, functools.partial(FaultyEnv, close_seconds=60.0)])
    pids = [process.pid for process in venv.processes]
    start = time.monotonic()
    venv.close()
    assert time.monotonic() - start < 5.0
    assert_closed_and_stopped(venv, pids)


def test_bad_arguments_are_refused_before_starting_workers() -> None:
    with pytest.raises(ValueError, match="'fork' is refused"):
        SubprocVecEnv([FaultyEnv], context="fork")
    with pytest.raises(ValueError, match="unknown multiprocessing context 'threads'"):
        SubprocVecEnv([FaultyEnv], context="threads")
    with pytest.raises(ValueError, match="in_series=2 must be a positive divisor of the number of envs \\(3\\)"):
        ShmemVecEnv([FaultyEnv] * 3, in_series=2)


PARENT_SCRIPT = """
import os
import signal
import sys

import gymnasium
import numpy as np

from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv


def make_env():
    return gymnasium.make("CartPole-v1")


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt as in a terminal, even if the test runner was started with SIGINT ignored
    # (a background job of a non-interactive shell), which Python would otherwise pass on to this script.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, kind = sys.argv[1:]
    venv = {"subproc": SubprocVecEnv, "shmem": ShmemVecEnv}[kind]([make_env] * 2)
    venv.reset()
    print(" ".join(str(process.pid) for process in venv.processes), flush=True)
    if mode == "exit":
        sys.exit(0)
    if mode == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        venv.step(np.array([0, 1]))
"""


def start_parent_script(tmp_path: Path, mode: str, kind: str = "subproc") -> tuple[subprocess.Popen, list[int]]:
    """Run PARENT_SCRIPT in its own session; returns it and its worker pids plus their forkserver's pid."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT)
    parent = subprocess.Popen(
        [sys.executable, str(script), mode, kind],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    worker_pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(worker_pids) == 2, parent.communicate()[1]
    try:
        forkserver_pid = int(Path(f"/proc/{worker_pids[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:  # the worker is already gone (a parent that exits at once can be that quick)
        return parent, worker_pids
    return parent, [*worker_pids, forkserver_pid]


def finish(parent: subprocess.Popen, timeout: float = 30) -> str:
    """The parent script's stderr once it exits; on timeout its whole session is killed first, so nothing leaks."""
    try:
        return parent.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.communicate()
        raise


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_parent_exiting_without_close_leaves_no_processes(tmp_path: Path, kind: str) -> None:
    parent, pids = start_parent_script(tmp_path, "exit", kind)
    stderr = finish(parent)
    assert parent.returncode == 0, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    assert still_running(pids) == []


@pytest.mark.timeout(60)
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    parent, pids = start_parent_script(tmp_path, "die")
    finish(parent)
    assert parent.returncode == -signal.SIGKILL
    assert still_running(pids) == [], "workers must notice the closed pipe and exit"


@pytest.mark.timeout(60)
def test_ctrl_c_stops_parent_and_workers(tmp_path: Path) -> None:
    parent, pids = start_parent_script(tmp_path, "loop")
    time.sleep(0.5)
    os.killpg(parent.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group gets SIGINT
    stderr = finish(parent)
    assert parent.returncode != 0 and "KeyboardInterrupt" in stderr
    assert "VecEnvWorker" not in stderr, "workers must ignore SIGINT and leave Ctrl-C to the parent"
    assert still_running(pids) == []
