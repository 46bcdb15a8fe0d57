"""--restart_crashed_envs: a killed or hung env worker is replaced and training goes on, with the restarts counted."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import logger
from baselines_tf2.common.vec_env import ShmemVecEnv, SubprocVecEnv, VecEnvTimeoutError
from baselines_tf2.ppo2 import ppo2

PROCESS_VENVS = {"subproc": SubprocVecEnv, "shmem": ShmemVecEnv}


class HangingEnv(gymnasium.Env):
    """Counts steps; step `hang_at` sleeps far longer than any timeout here."""

    observation_space = gymnasium.spaces.Box(0.0, 1e6, (1,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, hang_at: int | None) -> None:
        self.hang_at = hang_at
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        if self.t == self.hang_at:
            time.sleep(3600)
        return np.full(1, self.t, np.float32), 1.0, False, False, {}


class CrashOnceEnv(gymnasium.Wrapper):
    """CartPole whose process dies (as a segfaulting emulator would) at step `crash_at`, once per `marker` file."""

    def __init__(self, marker: str, crash_at: int) -> None:
        super().__init__(gymnasium.make("CartPole-v1"))
        self.marker = marker
        self.crash_at = crash_at
        self.t = 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        if self.t == self.crash_at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        return self.env.step(action)


@pytest.mark.parametrize("kind", sorted(PROCESS_VENVS))
def test_killed_worker_is_replaced_and_its_env_reports_a_restart(kind: str) -> None:
    venv = PROCESS_VENVS[kind]([lambda: HangingEnv(None)] * 2, restart_crashed=True)
    try:
        venv.seed(0)
        venv.reset()
        venv.step([0, 0])
        old_pid = venv.processes[1].pid
        os.kill(old_pid, signal.SIGKILL)
        obs, rewards, dones, infos = venv.step([0, 0])
        assert dones.tolist() == [False, True]
        assert infos[1]["env_restarted"] and "SIGKILL" in infos[1]["env_error"]
        assert obs[:, 0].tolist() == [2.0, 0.0]  # env 0 went on; env 1 starts over from a reset
        assert rewards.tolist() == [1.0, 0.0]
        assert venv.restarts == 1 and venv.processes[1].pid != old_pid
        obs, _rewards, dones, _infos = venv.step([0, 0])
        assert obs[:, 0].tolist() == [3.0, 1.0] and not dones.any()
    finally:
        venv.close()
    assert not any(process.is_alive() for process in venv.processes)


def test_hung_worker_times_out_and_is_replaced() -> None:
    venv = SubprocVecEnv([lambda: HangingEnv(None), lambda: HangingEnv(2)], timeout=1.0, restart_crashed=True)
    try:
        venv.seed(0)
        venv.reset()
        venv.step([0, 0])
        start = time.monotonic()
        _obs, _rewards, dones, infos = venv.step([0, 0])
        assert time.monotonic() - start < 10
        assert dones.tolist() == [False, True] and "env_timeout" in infos[1]["env_error"]
        assert venv.restarts == 1
    finally:
        venv.close()


def test_hung_worker_without_restarts_raises_a_timeout_naming_it() -> None:
    venv = SubprocVecEnv([lambda: HangingEnv(None), lambda: HangingEnv(1)], timeout=1.0)
    venv.seed(0)
    venv.reset()
    with pytest.raises(VecEnvTimeoutError, match=r"worker\(s\) \[1\] \(envs \[1\]\).*within 1 s"):
        venv.step([0, 0])
    assert venv.closed
    for process in venv.processes:
        process.join(5)
        assert not process.is_alive()


def test_training_goes_on_after_a_worker_crash_and_logs_the_restart(tmp_path: Path) -> None:
    markers = [str(tmp_path / f"crashed-{index}") for index in range(2)]
    venv = SubprocVecEnv([lambda marker=marker: CrashOnceEnv(marker, crash_at=50) for marker in markers],
                         restart_crashed=True)
    try:
        venv.seed(0)
        with logger.scoped_configure(str(tmp_path / "run"), ["csv"]):
            ppo2.learn(network="mlp", env=venv, total_timesteps=2 * 64 * 6, nsteps=64, nminibatches=2, seed=0,
                       log_interval=1, num_hidden=16)
    finally:
        venv.close()
    assert all(os.path.exists(marker) for marker in markers)  # the crashes really happened
    with open(tmp_path / "run" / "progress.csv", newline="") as file:
        restarts = [int(row["misc/env_restarts"]) for row in csv.DictReader(file)]
    assert len(restarts) == 6 and restarts[-1] == 2  # both envs' workers crashed once each
