"""Exact resume: a --deterministic run stopped by SIGTERM and resumed ends with the parameters of an
uninterrupted run, on envs whose games were in mid-episode when it stopped (PPO2 through the CLI; deepq with
its replay buffer saved)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import RUN, run_one

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import make_vec_env
from baselines_tf2.common.vec_env import VecNormalize
from baselines_tf2.deepq import deepq
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.training.checkpoint import load_checkpoint, read_metadata
from baselines_tf2.training.stop_signals import TrainingInterrupted

NUM_ENV, NSTEPS, NUPDATES = 2, 32, 20
TIMESTEPS = NUM_ENV * NSTEPS * NUPDATES
STOP_AFTER_UPDATES = 4  # SIGTERM once progress.csv shows this many updates
ENV_ARGS = {
    "cartpole": ["--env=CartPole-v1", "--num_hidden=16"],
    "breakout": ["--env=BreakoutNoFrameskip-v4", "--nminibatches=2"],  # frame stacks, lives, fire resets
}


def command(env: str, log_dir: Path, *extra: str) -> list[str]:
    return [*RUN, "--alg=ppo2", *ENV_ARGS[env], f"--num_env={NUM_ENV}", f"--nsteps={NSTEPS}",
            f"--num_timesteps={TIMESTEPS}", "--seed=3", "--deterministic", "--log_interval=1", "--save_interval=1000",
            "--precision=float32", f"--log_path={log_dir}", *extra]


def updates_logged(log_dir: Path) -> int:
    try:
        with open(log_dir / "progress.csv", newline="") as file:
            return sum(1 for _ in csv.DictReader(file))
    except (FileNotFoundError, csv.Error):
        return 0


def run_until_sigterm(argv: list[str], log_dir: Path, timeout: float) -> int:
    """Start the CLI, send SIGTERM once it has logged a few updates, return its exit status."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while updates_logged(log_dir) < STOP_AFTER_UPDATES:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the run ended or stalled before update {STOP_AFTER_UPDATES}: {process.stderr.read()}")
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode


def final_weights(path: Path) -> list[np.ndarray]:
    return load_checkpoint(path)[1]["policy"]


@pytest.mark.parametrize("env", [pytest.param("breakout", marks=pytest.mark.slow)])  # CartPole: test_agent_contracts
def test_sigterm_then_resume_gives_the_uninterrupted_parameters(env: str, tmp_path: Path) -> None:
    whole = run_one(command(env, tmp_path / "whole", f"--save_path={tmp_path / 'whole.ckpt'}"), tmp_path, timeout=600)
    assert whole.returncode == 0, whole.stderr

    status = run_until_sigterm(command(env, tmp_path / "part"), tmp_path / "part", timeout=300)
    assert status == 128 + signal.SIGTERM
    stopped_at = read_metadata(tmp_path / "part")["training"]["update"]
    assert STOP_AFTER_UPDATES <= stopped_at < NUPDATES  # it really stopped part-way

    resumed = run_one(command(env, tmp_path / "rest", f"--load_path={tmp_path / 'part'}",
                              f"--save_path={tmp_path / 'resumed.ckpt'}"), tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert updates_logged(tmp_path / "rest") == NUPDATES - stopped_at

    expected, actual = final_weights(tmp_path / "whole.ckpt"), final_weights(tmp_path / "resumed.ckpt")
    initial_difference = max(float(np.max(np.abs(a - b))) for a, b in zip(expected, final_weights(tmp_path / "part")))
    assert initial_difference > 0  # training after the stop changed the weights, so equality below means something
    for saved, restored in zip(expected, actual, strict=True):
        np.testing.assert_array_equal(restored, saved)


def deepq_run(log_dir: Path, *, load_path: Path | None = None, stop_at: int | None = None,
              save_replay: bool = True) -> list[np.ndarray] | None:
    """A short deterministic deepq run on CartPole (SIGTERM to itself at step `stop_at`); its final weights."""
    def stop_when_due(local_vars: dict, _globals: dict) -> bool:
        if local_vars["t"] == stop_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    env = make_vec_env("CartPole-v1", "classic_control", 1, seed=0, resumable=True)
    try:
        with logger.scoped_configure(str(log_dir), ["csv"]):
            deepq.learn(env, "mlp", seed=0, total_timesteps=1500, learning_starts=300, buffer_size=1000,
                        prioritized_replay=True, checkpoint_freq=100_000, deterministic=True, save_replay=save_replay,
                        load_path=None if load_path is None else str(load_path), callback=stop_when_due,
                        num_hidden=16)
    except TrainingInterrupted:
        return None
    finally:
        env.close()
    return load_checkpoint(log_dir / "checkpoints")[1]["policy"]


@pytest.mark.parametrize("save_replay", [True, False])
def test_deepq_resume_with_its_replay_buffer_repeats_the_uninterrupted_run(tmp_path: Path, save_replay: bool) -> None:
    whole = deepq_run(tmp_path / "whole", save_replay=save_replay)
    assert deepq_run(tmp_path / "part", stop_at=900, save_replay=save_replay) is None
    assert read_metadata(tmp_path / "part")["training"]["t"] == 901
    resumed = deepq_run(tmp_path / "rest", load_path=tmp_path / "part", save_replay=save_replay)
    differences = [float(np.max(np.abs(a - b))) for a, b in zip(whole, resumed)]
    if save_replay:
        assert max(differences) == 0.0
    else:  # the buffer refills from scratch, so training differs: the replay buffer is what made it exact
        assert max(differences) > 0.0


def ppo2_normalized_run(
    log_dir: Path, *, load_path: Path | None = None, stop_at: int | None = None
) -> list[np.ndarray] | None:
    """A short deterministic PPO2 run on CartPole behind VecNormalize (SIGTERM to itself after update `stop_at`)."""
    def stop_when_due(local_vars: dict) -> None:
        if local_vars["update"] == stop_at:
            os.kill(os.getpid(), signal.SIGTERM)

    env = VecNormalize(make_vec_env("CartPole-v1", "classic_control", 2, seed=0, resumable=True))
    try:
        with logger.scoped_configure(str(log_dir), ["csv"]):
            model = ppo2.learn(network="mlp", env=env, total_timesteps=2 * 32 * 12, nsteps=32, nminibatches=2,
                               seed=0, deterministic=True, load_path=None if load_path is None else str(load_path),
                               callback=stop_when_due, num_hidden=16)
    except TrainingInterrupted:
        return None
    finally:
        env.close()
    return [weights for _name, weights in model.policy.get_weights()]


def test_ppo2_behind_vec_normalize_resumes_exactly(tmp_path: Path) -> None:
    """The normalizer's statistics and running returns come back with the run, or the resumed updates would differ."""
    whole = ppo2_normalized_run(tmp_path / "whole")
    assert ppo2_normalized_run(tmp_path / "part", stop_at=5) is None
    assert read_metadata(tmp_path / "part")["vec_normalize"]["ob_rms"] is not None
    resumed = ppo2_normalized_run(tmp_path / "rest", load_path=tmp_path / "part")
    for saved, restored in zip(whole, resumed, strict=True):
        np.testing.assert_array_equal(restored, saved)


def ppo2_cartpole_run(log_dir: Path, *, load_path: Path | None = None,
                      stop_after: int | None = None) -> list[np.ndarray]:
    """A short deterministic PPO2 run on CartPole whose callback ends it (returns False) after update `stop_after`."""
    env = make_vec_env("CartPole-v1", "classic_control", 2, seed=0, resumable=True)
    try:
        with logger.scoped_configure(str(log_dir), ["csv"]):
            model = ppo2.learn(network="mlp", env=env, total_timesteps=2 * 32 * 12, nsteps=32, nminibatches=2,
                               seed=0, deterministic=True, load_path=None if load_path is None else str(load_path),
                               callback=lambda local_vars: local_vars["update"] != stop_after, num_hidden=16)
    finally:
        env.close()
    return [weights for _name, weights in model.policy.get_weights()]


def test_a_run_a_callback_ended_leaves_a_checkpoint_that_resumes_it_exactly(tmp_path: Path) -> None:
    """A callback's stop ends the run as a signal does: the state after its last update is checkpointed, so
    `load_path` continues that run to its end, as if it had not stopped."""
    whole = ppo2_cartpole_run(tmp_path / "whole")
    stopped = ppo2_cartpole_run(tmp_path / "part", stop_after=5)
    state = read_metadata(tmp_path / "part")["training"]
    assert state["update"] == 5 and state["total_timesteps"] == 2 * 32 * 12
    for saved, at_stop in zip(final_weights(tmp_path / "part"), stopped, strict=True):
        np.testing.assert_array_equal(saved, at_stop)
    resumed = ppo2_cartpole_run(tmp_path / "rest", load_path=tmp_path / "part")
    assert read_metadata(tmp_path / "rest")["training"]["update"] == 12
    for saved, restored in zip(whole, resumed, strict=True):
        np.testing.assert_array_equal(restored, saved)
