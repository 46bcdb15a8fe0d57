"""Reliability: checkpoint folders keep the newest K behind a `latest` pointer; SIGTERM/SIGINT stop training with a
final checkpoint that resumes the run; non-finite updates are skipped, and too many in a row stop the run without
writing bad weights; env workers that die or hang end the run with one error line and a checkpoint; the new flags'
bad values exit 2.

The command-line scenarios run concurrently (each pays TensorFlow's start-up), every one in its own session, which
is killed whole if the scenario fails. Runs on the misbehaving envs of tests/fault_envs.py go through
FAULT_ENV_SCRIPT, which registers them and then runs baselines_tf2.run as `python -m` does.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import math
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import gymnasium
import numpy as np
import pytest
from cli_helpers import MAX_PARALLEL, RUN, Finished, run_concurrently
from fault_envs import HangingEnv, NaNRewardCartPole

from baselines_tf2 import logger
from baselines_tf2.a2c import a2c
from baselines_tf2.bench import Monitor
from baselines_tf2.common.vec_env import (
    DummyVecEnv,
    ShmemVecEnv,
    SubprocVecEnv,
    VecEnvTimeoutError,
    VecEnvWorkerError,
)
from baselines_tf2.deepq import deepq
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.training.checkpoint import load_checkpoint, read_metadata
from baselines_tf2.training.nonfinite import NonFiniteUpdateError

TESTS = Path(__file__).resolve().parent
CLI_TIMEOUT_S = 180  # start-up (TensorFlow's import) plus training, several runs at once on 2 busy cores
STOP_TIMEOUT_S = 60  # from a signal or fault to the CLI's exit
NUM_ENV, NSTEPS = 2, 64
NBATCH = NUM_ENV * NSTEPS
LONG_UPDATES = 30  # CLI runs meant to be stopped part-way (30 updates take a few seconds)
GRADIENT_STEPS_PER_UPDATE = 4 * 4  # ppo2's default noptepochs * nminibatches
ERROR_PREFIX = "python -m baselines_tf2.run: error:"
PROCESS_VENVS = {"subproc": SubprocVecEnv, "shmem": ShmemVecEnv}
DEEPQ_NET = {"num_hidden": 16, "hiddens": [16]}


# ---------------------------------------------------------------------------------------------------------------
# processes


def process_table() -> dict[int, int]:
    """pid -> parent pid of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            table[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...)."""
    table = process_table()
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in table.items() if parent in frontier]
        found += children
        frontier = children
    return found


def proc_text(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def env_workers(cli_pid: int) -> list[int]:
    """The VecEnv worker processes of a CLI run: the forkserver's children (the forkserver is a child of the CLI)."""
    table = process_table()
    forkservers = [child for child, parent in table.items()
                   if parent == cli_pid and "forkserver" in proc_text(child, "cmdline")]
    return sorted(child for child, parent in table.items() if parent in forkservers)


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie entry is left."""
    stat = proc_text(pid, "stat")
    return not stat or stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def still_running(pids: list[int], within_s: float = 10.0) -> list[int]:
    """The pids still running after waiting up to `within_s` for all of them to end."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not all(process_gone(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if not process_gone(pid)]


class BackgroundRun:
    """`COMMAND ARGS` (by default `python -m baselines_tf2.run`) in its own session, output to files in `folder`;
    a context manager that kills the whole session on exit if it is still running."""

    def __init__(self, args: list[str], folder: Path, command: list[str] = RUN) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        env = {
            **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        }
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                command + args, cwd=folder, env=env, stdout=stdout, stderr=stderr, start_new_session=True
            )
        self.pid = self.process.pid
        self.started = time.monotonic()

    def __enter__(self) -> BackgroundRun:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.process.poll() is None:
            self.kill_session()
        self.process.wait()

    def kill_session(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = CLI_TIMEOUT_S) -> None:
        """Poll until `condition()`; fail if the run exits first or `timeout` passes since its start."""
        while not condition():
            if self.process.poll() is not None:
                stderr = self.finish().stderr[-3000:]
                pytest.fail(f"the run exited ({self.process.returncode}) before {what}:\n{stderr}")
            if time.monotonic() - self.started > timeout:
                pytest.fail(f"no {what} {timeout} s after the run started")
            time.sleep(0.01)

    def finish(self, timeout: float = STOP_TIMEOUT_S) -> Finished:
        """Wait for the exit (killing the session after `timeout` s, which fails the test); its status and output."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_session()
            self.process.wait()
            pytest.fail(f"the run did not exit within {timeout} s:\n{self.stderr_path.read_text()[-3000:]}")
        return Finished(self.process.returncode, self.stdout(), self.stderr_path.read_text(errors="replace"))


# The CLI with tests/fault_envs.py's env ids registered. The import is at module level so that the forkserver,
# which preloads a script's __main__, registers them too, and the env workers it forks inherit them.
FAULT_ENV_SCRIPT = """
import runpy

import fault_envs  # noqa: F401

if __name__ == "__main__":
    runpy.run_module("baselines_tf2.run", run_name="__main__")
"""


def cli_args(log_dir: Path, num_timesteps: int, *extra: str, env: str = "CartPole-v1", nsteps: int = NSTEPS
             ) -> list[str]:
    return ["--alg=ppo2", f"--env={env}", f"--num_env={NUM_ENV}", f"--nsteps={nsteps}",
            f"--num_timesteps={num_timesteps}", "--seed=0", f"--log_path={log_dir}", *extra]


def logged_rows(log_dir: Path) -> int:
    """Rows in the run's progress.csv (ppo2 logs update 1, then every 10th)."""
    try:
        return max(0, len((log_dir / "progress.csv").read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def one_error_line(stderr: str) -> str:
    """The CLI's error line; fails unless there is exactly one, it is the last line, and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr[-3000:]
    return errors[0]


# ---------------------------------------------------------------------------------------------------------------
# checkpoints


def numbered_checkpoints(log_dir: Path) -> list[str]:
    folder = log_dir / "checkpoints"
    return sorted((name for name in os.listdir(folder) if name.isdigit()), key=int) if folder.is_dir() else []


def latest_name(log_dir: Path) -> str:
    return (log_dir / "checkpoints" / "latest").read_text().strip()


def arrays(groups: dict[str, list[np.ndarray]], group: str) -> list[np.ndarray]:
    return [np.asarray(array) for array in groups[group]]


def optimizer_iterations(path: Path) -> int:
    """The optimizer's step count stored in a checkpoint (steps applied; skipped ones do not count)."""
    metadata, groups = load_checkpoint(path)
    names = [entry["name"] for entry in metadata["arrays"]["optimizer"]]
    (position,) = [i for i, name in enumerate(names) if name.endswith("/iteration")]
    return int(groups["optimizer"][position])


def all_finite(weights: list[np.ndarray]) -> bool:
    return all(np.isfinite(weight).all() for weight in weights)


def same_arrays(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def policy_arrays(model: Any) -> list[np.ndarray]:
    return [array for _, array in model.policy.get_weights()]


def read_progress(log_dir: Path) -> list[dict[str, str]]:
    with open(log_dir / "progress.csv", newline="") as file:
        return list(csv.DictReader(file))


def cartpoles(count: int = NUM_ENV) -> DummyVecEnv:
    return DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * count)


# ---------------------------------------------------------------------------------------------------------------
# 1. the checkpoints folder: newest K kept, `latest` names the newest, a run folder loads through it


# keep None: ppo2.learn's default keeps every checkpoint, as baselines' save_interval did (the CLI keeps 5)
@pytest.mark.parametrize("keep, kept", [(2, [4, 5]), (0, [1, 2, 3, 4, 5]), (None, [1, 2, 3, 4, 5])])
def test_checkpoint_folder_keeps_the_newest_and_latest_names_the_last(tmp_path: Path, keep: int | None,
                                                                     kept: list[int]) -> None:
    keeping = {} if keep is None else {"keep_checkpoints": keep}
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        model = ppo2.learn(network="mlp", env=cartpoles(), total_timesteps=5 * 2 * 16, seed=0, nsteps=16,
                           nminibatches=1, noptepochs=1, save_interval=1, **keeping)
    folder = tmp_path / "checkpoints"
    assert sorted(os.listdir(folder)) == [f"{update:05d}" for update in kept] + ["latest"]
    assert latest_name(tmp_path) == "00005"
    newest = read_metadata(folder / "00005")
    assert newest["training"]["update"] == 5 and newest["timesteps"] == 5 * 32
    for path in (tmp_path, folder):  # a run folder and a checkpoints folder both load the newest checkpoint
        assert read_metadata(path) == newest
        _, groups = load_checkpoint(path)
        assert same_arrays(arrays(groups, "policy"), policy_arrays(model))
    for update in kept[:-1]:  # the older ones kept hold the state after their own update
        assert read_metadata(folder / f"{update:05d}")["training"]["update"] == update


@pytest.mark.parametrize("keep, kept", [(0, [1, 2, 3, 4, 5]), (2, [4, 5])])
def test_a_finished_run_trained_further_numbers_its_checkpoints_after_the_earlier_ones(
        tmp_path: Path, keep: int, kept: list[int]) -> None:
    """A load that starts a new schedule in the same folder neither overwrites the earlier checkpoints nor has its
    own pruned in their place; interrupted and resumed, it keeps numbering where it was."""
    def train(total_updates: int, **kwargs: Any) -> Any:
        with logger.scoped_configure(str(tmp_path), ["csv"]):
            return ppo2.learn(network="mlp", env=cartpoles(), total_timesteps=total_updates * 2 * 16, seed=0,
                              nsteps=16, nminibatches=1, noptepochs=1, save_interval=1, keep_checkpoints=keep,
                              **kwargs)

    folder = tmp_path / "checkpoints"
    train(3)
    first_run = {name: (folder / name).read_bytes() for name in numbered_checkpoints(tmp_path)}
    train(2, load_path=str(tmp_path))  # 2 updates more, numbered 4 and 5
    assert numbered_checkpoints(tmp_path) == [f"{number:05d}" for number in kept]
    assert latest_name(tmp_path) == "00005"
    assert read_metadata(folder / "00005")["timesteps"] == 5 * 32
    for name in set(first_run) & set(numbered_checkpoints(tmp_path)):
        assert (folder / name).read_bytes() == first_run[name], f"checkpoint {name} of the first run was overwritten"
    # the second schedule resumed from its first update keeps numbering after the first run's checkpoints
    resumed_from = read_metadata(folder / "00004")
    assert resumed_from["training"]["update"] == 1 and resumed_from["training"]["checkpoint_offset"] == 3
    (folder / "00005").unlink()
    (folder / "latest").write_text("00004\n")
    train(2, load_path=str(folder / "00004"))
    assert latest_name(tmp_path) == "00005"
    assert read_metadata(folder / "00005")["training"]["update"] == 2


# ---------------------------------------------------------------------------------------------------------------
# 4. non-finite values: skipped steps, a stop after max_nonfinite_updates in a row, never a bad checkpoint


def test_ppo2_skips_the_steps_a_nan_reward_poisons_and_trains_on(tmp_path: Path) -> None:
    # env 0's reward is NaN on its step 100 only: inside update 2 (steps 64..127 of each env)
    env = DummyVecEnv([functools.partial(NaNRewardCartPole, nan_from=100, nan_until=101),
                       lambda: gymnasium.make("CartPole-v1")])
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        model = ppo2.learn(network="mlp", env=env, total_timesteps=6 * NBATCH, seed=0, nsteps=NSTEPS,
                           nminibatches=2, noptepochs=2, log_interval=1, save_interval=1, keep_checkpoints=0)
    skipped = [int(float(row["misc/nonfinite_updates_skipped"])) for row in read_progress(tmp_path)]
    assert len(skipped) == 6
    # nothing before the NaN; at most update 2's 4 gradient steps skipped; none after it
    assert skipped[0] == 0 and 0 < skipped[1] <= 4 and skipped[1:] == [skipped[1]] * 5
    assert all_finite(policy_arrays(model)) and model.timesteps == 6 * NBATCH
    after_nan = load_checkpoint(tmp_path / "checkpoints" / "00002")[1]
    assert not same_arrays(arrays(after_nan, "policy"), policy_arrays(model)), "training stopped changing weights"
    for name in numbered_checkpoints(tmp_path):
        assert all_finite(arrays(load_checkpoint(tmp_path / "checkpoints" / name)[1], "policy"))


def test_a2c_skips_the_one_update_a_nan_reward_poisons(tmp_path: Path) -> None:
    # env 0's reward is NaN on its step 12 only: inside update 3 (steps 10..14 of each env, nsteps = 5)
    env = DummyVecEnv([functools.partial(NaNRewardCartPole, nan_from=12, nan_until=13),
                       lambda: gymnasium.make("CartPole-v1")])
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        model = a2c.learn(network="mlp", env=env, total_timesteps=8 * 2 * 5, seed=0, log_interval=1)
    skipped = [int(float(row["nonfinite_updates_skipped"])) for row in read_progress(tmp_path)]
    assert skipped == [0, 0, 1, 1, 1, 1, 1, 1]  # a2c takes one gradient step per update
    assert all_finite(policy_arrays(model)) and model.timesteps == 8 * 2 * 5


def test_ppo2_stops_after_max_nonfinite_updates_and_keeps_the_last_good_weights(tmp_path: Path) -> None:
    kwargs = {"network": "mlp", "seed": 0, "nsteps": NSTEPS, "nminibatches": 2, "noptepochs": 2}
    initial = ppo2.learn(env=cartpoles(), total_timesteps=0, **kwargs)
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        with pytest.raises(NonFiniteUpdateError, match=r"gradient update 6\b.*non-finite value \(loss = nan"):
            ppo2.learn(env=DummyVecEnv([NaNRewardCartPole] * 2), total_timesteps=4 * NBATCH, save_interval=1,
                       max_nonfinite_updates=6, **kwargs)
    # update 1's 4 steps were all skipped and it was checkpointed; update 2's 2nd step was the 6th in a row
    assert numbered_checkpoints(tmp_path) == ["00001"]
    _, groups = load_checkpoint(tmp_path / "checkpoints" / "00001")
    assert same_arrays(arrays(groups, "policy"), policy_arrays(initial)), "a skipped step changed the weights"
    assert optimizer_iterations(tmp_path / "checkpoints" / "00001") == 0, "a skipped step moved the optimizer"
    assert int(float(read_progress(tmp_path)[0]["misc/nonfinite_updates_skipped"])) == 4


def test_deepq_skips_batches_holding_a_nan_reward_and_trains_on(tmp_path: Path) -> None:
    env = Monitor(NaNRewardCartPole(nan_from=150, nan_until=151), None)
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        act = deepq.learn(env, "mlp", seed=0, total_timesteps=400, learning_starts=50, train_freq=1, batch_size=32,
                          print_freq=1, **DEEPQ_NET)
    # the NaN transition stays in the replay buffer, so later batches that sample it are skipped too
    skipped = [row["nonfinite updates skipped"] for row in read_progress(tmp_path)]
    assert int(float(skipped[-1])) > 0
    assert all_finite(act.model.q_network.get_weights()) and act.timesteps == 400
    applied = optimizer_iterations(tmp_path / "checkpoints" / "00400")  # the final checkpoint
    assert 0 < applied < 350  # 350 train steps (t = 50..399): most applied, the ones sampling the NaN not


def test_deepq_stops_after_max_nonfinite_updates_and_keeps_the_initial_weights(tmp_path: Path) -> None:
    kwargs = {"seed": 0, **DEEPQ_NET}
    initial = deepq.learn(gymnasium.make("CartPole-v1"), "mlp", total_timesteps=0, **kwargs)
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        with pytest.raises(NonFiniteUpdateError, match=r"gradient update 3\b.*non-finite value \(loss = nan"):
            deepq.learn(NaNRewardCartPole(), "mlp", total_timesteps=200, learning_starts=10, train_freq=1,
                        batch_size=8, checkpoint_freq=1, max_nonfinite_updates=3, **kwargs)
    # train steps at t = 10, 11, 12 (all NaN); the state after t = 11 was checkpointed before the third one
    assert numbered_checkpoints(tmp_path) == ["00012"]
    _, groups = load_checkpoint(tmp_path / "checkpoints" / "00012")
    initial_weights = initial.model.q_network.get_weights()
    assert same_arrays(arrays(groups, "policy"), initial_weights)
    assert same_arrays(arrays(groups, "target"), initial_weights)
    assert optimizer_iterations(tmp_path / "checkpoints" / "00012") == 0


def test_deepq_best_model_ignores_a_nan_episode_return(tmp_path: Path) -> None:
    env = Monitor(NaNRewardCartPole(nan_from=3, nan_until=4), None)  # the first episode's return is NaN
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        deepq.learn(env, "mlp", seed=0, total_timesteps=400, learning_starts=50, checkpoint_freq=50, **DEEPQ_NET)
    best = read_metadata(tmp_path)["training"]["best_mean_reward"]
    # 400 steps of CartPole are more than 10 finite games: the best is their mean, never NaN and never withheld
    assert best is not None and math.isfinite(best), best


# ---------------------------------------------------------------------------------------------------------------
# 6. a hung env in a process VecEnv: VecEnvTimeoutError naming the worker, and the worker is gone


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind, ignore_sigterm", [("subproc", False), ("subproc", True), ("shmem", False)])
def test_hung_env_raises_timeout_naming_its_worker_and_the_worker_is_stopped(kind: str, ignore_sigterm: bool) -> None:
    venv = PROCESS_VENVS[kind]([HangingEnv, functools.partial(HangingEnv, hang_at=3, ignore_sigterm=ignore_sigterm)],
                               timeout=2.0)
    pids = [process.pid for process in venv.processes]
    venv.reset()
    venv.step(np.zeros(2, dtype=int))
    venv.step(np.zeros(2, dtype=int))
    start = time.monotonic()
    with pytest.raises(VecEnvTimeoutError) as caught:
        venv.step(np.zeros(2, dtype=int))
    assert 1.9 <= time.monotonic() - start < 8.0
    assert isinstance(caught.value, VecEnvWorkerError)
    assert caught.value.worker_index == 1 and list(caught.value.env_indices) == [1]
    assert "worker(s) [1] (envs [1]) did not answer 'step' within 2 s" in str(caught.value)
    assert venv.closed
    assert still_running(pids, within_s=5.0) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("timeout", [math.inf, 1e7])
def test_a_timeout_too_long_to_matter_is_refused_or_means_no_limit(timeout: float) -> None:
    """select() takes whole milliseconds in a C int: inf or ~1e7 s once raised OverflowError on the first reset."""
    try:
        venv = SubprocVecEnv([HangingEnv, HangingEnv], timeout=timeout)
    except ValueError as err:  # refusing it up front is fine
        assert "timeout" in str(err)
        return
    try:
        venv.reset()
        venv.step(np.zeros(2, dtype=int))
    finally:
        venv.close()


@pytest.mark.timeout(120)
def test_ppo2_on_a_hung_env_raises_timeout_after_checkpointing_the_last_update(tmp_path: Path) -> None:
    venv = SubprocVecEnv([HangingEnv, functools.partial(HangingEnv, hang_at=200)], timeout=2.0)
    pids = [process.pid for process in venv.processes]
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        with pytest.raises(VecEnvTimeoutError, match=r"worker\(s\) \[1\] \(envs \[1\]\)"):
            ppo2.learn(network="mlp", env=venv, total_timesteps=10 * NBATCH, seed=0, nsteps=NSTEPS,
                       nminibatches=2, noptepochs=1)
    # env 1's step 200 is in update 4 (steps 193..256): the state after update 3 was saved
    metadata, _ = load_checkpoint(tmp_path)
    assert metadata["training"]["update"] == 3 and metadata["timesteps"] == 3 * NBATCH
    assert still_running(pids, within_s=5.0) == []


# ---------------------------------------------------------------------------------------------------------------
# command-line scenarios, run concurrently; each test takes its scenario's outcome (or its failure)


class Outcome(NamedTuple):
    result: Finished
    log_dir: Path
    family: list[int]  # the run's processes (forkserver, workers, tracker) before the signal or fault
    resumed: Finished | None = None  # sigterm_then_resume: the resumed run
    stopped: tuple[list[str], str, dict[str, Any]] | None = None  # and the checkpoints, `latest`, and the run
    # folder's metadata right after the stop, before the resumed run added its own


def sigterm_then_resume(folder: Path, fault_env_cli: list[str]) -> Outcome:
    """SIGTERM (to the CLI process only, as `kill PID` or `docker stop`) after the first logged update; then the
    same command with --load_path=<run dir>. The default save_interval writes no checkpoint in LONG_UPDATES
    updates, so the only checkpoint before the resume is the stop's."""
    log_dir = folder / "run"
    with BackgroundRun(cli_args(log_dir, LONG_UPDATES * NBATCH), folder / "first") as run:
        run.wait_for(lambda: logged_rows(log_dir) >= 1 and len(env_workers(run.pid)) > 0, "a logged update")
        family = descendants(run.pid)
        os.kill(run.pid, signal.SIGTERM)
        result = run.finish()
    if not (log_dir / "checkpoints" / "latest").exists():
        return Outcome(result, log_dir, family)
    stopped = (numbered_checkpoints(log_dir), latest_name(log_dir), read_metadata(log_dir))
    with BackgroundRun(cli_args(log_dir, LONG_UPDATES * NBATCH, "--save_interval=1", "--keep_checkpoints=0",
                                f"--load_path={log_dir}"), folder / "resumed") as run:
        return Outcome(result, log_dir, family, run.finish(CLI_TIMEOUT_S), stopped)


def ctrl_c(presses: int) -> Callable[[Path, list[str]], Outcome]:
    def scenario(folder: Path, fault_env_cli: list[str]) -> Outcome:
        log_dir = folder / "run"
        args = cli_args(log_dir, LONG_UPDATES * NBATCH, "--save_interval=1", "--keep_checkpoints=2")
        with BackgroundRun(args, folder) as run:
            run.wait_for(lambda: (log_dir / "checkpoints" / "latest").exists(), "a checkpoint")
            family = descendants(run.pid)
            os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group gets SIGINT
            # the second press as soon as the first was noticed, while the run is stopping (if it has not already
            # stopped: then this is one press, and the same checks hold)
            while presses == 2 and run.process.poll() is None:
                if "received SIGINT" in run.stdout():
                    with contextlib.suppress(ProcessLookupError):  # the whole group may have exited meanwhile
                        os.killpg(run.pid, signal.SIGINT)
                    break
                time.sleep(0.005)
            return Outcome(run.finish(), log_dir, family)

    return scenario


def sigterm_to_the_group(folder: Path, fault_env_cli: list[str]) -> Outcome:
    """SIGTERM to every process of the run, as systemd's stop or Slurm's scancel send it, while the run waits on
    its workers (each env step takes 0.5 s)."""
    log_dir = folder / "run"
    with BackgroundRun(cli_args(log_dir, LONG_UPDATES * 8, env="SlowCartPole-v0", nsteps=4), folder,
                       fault_env_cli) as run:
        run.wait_for(lambda: logged_rows(log_dir) >= 1, "a logged update")
        deadline = time.monotonic() + 3.0  # the main thread blocked in poll(): waiting for the workers' step
        while "poll" not in proc_text(run.pid, "wchan") and time.monotonic() < deadline:
            time.sleep(0.01)
        family = descendants(run.pid)
        os.killpg(run.pid, signal.SIGTERM)
        return Outcome(run.finish(), log_dir, family)


def worker_killed(folder: Path, fault_env_cli: list[str]) -> Outcome:
    """SIGKILL to one env worker after the first logged update (no periodic checkpoint in LONG_UPDATES updates)."""
    log_dir = folder / "run"
    with BackgroundRun(cli_args(log_dir, LONG_UPDATES * NBATCH), folder) as run:
        run.wait_for(lambda: logged_rows(log_dir) >= 1 and len(env_workers(run.pid)) > 0, "a logged update")
        family = descendants(run.pid)
        os.kill(env_workers(run.pid)[-1], signal.SIGKILL)
        return Outcome(run.finish(), log_dir, family)


def hung_env(folder: Path, fault_env_cli: list[str]) -> Outcome:
    """Every env hangs on its step 300, inside update 5 (steps 257..320 of each env); --env_timeout=2."""
    log_dir = folder / "run"
    args = cli_args(log_dir, LONG_UPDATES * NBATCH, "--env_timeout=2", env="HangingCounter-v0")
    with BackgroundRun(args, folder, fault_env_cli) as run:
        run.wait_for(lambda: len(env_workers(run.pid)) == NUM_ENV, "the env workers")
        family = descendants(run.pid)
        return Outcome(run.finish(), log_dir, family)


def nonfinite(save_path_exists: bool) -> Callable[[Path, list[str]], Outcome]:
    """All rewards NaN, --max_nonfinite_updates=3, --save_path at an existing file or at a new path."""
    def scenario(folder: Path, fault_env_cli: list[str]) -> Outcome:
        folder.mkdir(parents=True)
        if save_path_exists:
            (folder / "model").write_bytes(b"an earlier model")
        log_dir = folder / "run"
        args = cli_args(log_dir, 4 * NBATCH, "--max_nonfinite_updates=3", f"--save_path={folder / 'model'}",
                        env="NaNRewardCartPole-v0")
        with BackgroundRun(args, folder / "cwd", fault_env_cli) as run:
            return Outcome(run.finish(CLI_TIMEOUT_S), log_dir, [])

    return scenario


SCENARIOS = {  # longest first
    "sigterm_then_resume": sigterm_then_resume,
    "sigterm_to_the_group": sigterm_to_the_group,
    "ctrl_c_once": ctrl_c(1),
    "ctrl_c_twice": ctrl_c(2),
    "worker_killed": worker_killed,
    "hung_env": hung_env,
    "nonfinite_over_an_existing_file": nonfinite(True),
    "nonfinite_to_a_new_path": nonfinite(False),
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Outcome]]]:
    root = tmp_path_factory.mktemp("cli_scenarios")
    script = root / "run_with_fault_envs.py"
    script.write_text(FAULT_ENV_SCRIPT)
    fault_env_cli = [sys.executable, str(script)]
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        yield {name: pool.submit(scenario, root / name, fault_env_cli) for name, scenario in SCENARIOS.items()}


# ---------------------------------------------------------------------------------------------------------------
# 2. SIGTERM: a final checkpoint, exit 143, no process left; --load_path=<run dir> resumes the run


def test_sigterm_stops_training_with_a_final_checkpoint_and_exit_143(cli: dict[str, Future[Outcome]]) -> None:
    result, log_dir, family, _, stopped = cli["sigterm_then_resume"].result()
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(family) >= 2, "the run should have had a forkserver and env workers"
    assert still_running(family) == [], "no worker, forkserver or tracker may outlive the run"
    assert stopped is not None, "no checkpoint was written on SIGTERM"
    names, latest, run_folder_metadata = stopped
    assert len(names) == 1 and latest == names[0]  # the stop's checkpoint, and `latest` names it
    update = int(names[0])
    assert 1 <= update < LONG_UPDATES
    assert run_folder_metadata["training"]["update"] == update and run_folder_metadata["timesteps"] == update * NBATCH
    # the resumed run (next test) wrote only later checkpoints: this file is still the stop's state
    _, groups = load_checkpoint(log_dir / "checkpoints" / names[0])  # checksums, shapes and dtypes verified
    assert all_finite(arrays(groups, "policy"))
    assert optimizer_iterations(log_dir / "checkpoints" / names[0]) == update * GRADIENT_STEPS_PER_UPDATE


def test_resuming_the_interrupted_run_finishes_it_where_an_uninterrupted_run_would(
    cli: dict[str, Future[Outcome]]
) -> None:
    interrupted, log_dir, _, resumed, stopped = cli["sigterm_then_resume"].result()
    assert resumed is not None and stopped is not None, f"no checkpoint on SIGTERM:\n{interrupted.stderr[-3000:]}"
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    stopped_at = int(stopped[1])
    names = numbered_checkpoints(log_dir)
    # the resumed run continues the numbering: its first checkpoint is the next update, and it ends at the last
    assert names == [f"{update:05d}" for update in range(stopped_at, LONG_UPDATES + 1)]
    assert 1 <= stopped_at < LONG_UPDATES
    for update in (stopped_at + 1, LONG_UPDATES):
        metadata = read_metadata(log_dir / "checkpoints" / f"{update:05d}")
        assert metadata["training"]["update"] == update and metadata["timesteps"] == update * NBATCH
    assert read_metadata(log_dir / "model")["timesteps"] == LONG_UPDATES * NBATCH
    # as many gradient steps in all as one uninterrupted run of LONG_UPDATES updates takes
    assert optimizer_iterations(log_dir / "model") == LONG_UPDATES * GRADIENT_STEPS_PER_UPDATE


def test_sigterm_to_the_whole_process_group_still_stops_gracefully(cli: dict[str, Future[Outcome]]) -> None:
    result, log_dir, family, *_ = cli["sigterm_to_the_group"].result()
    assert still_running(family) == []
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "training stopped by SIGTERM" in result.stdout
    assert read_metadata(log_dir)["training"]["update"] >= 1


# ---------------------------------------------------------------------------------------------------------------
# 3. Ctrl-C once: a final checkpoint, exit 130; twice: exit 130 at once, every checkpoint on disk still loads


@pytest.mark.parametrize("scenario", ["ctrl_c_once", "ctrl_c_twice"])
def test_ctrl_c_exits_130_and_leaves_loadable_checkpoints(cli: dict[str, Future[Outcome]], scenario: str) -> None:
    result, log_dir, family, *_ = cli[scenario].result()
    # a shell shows 130 for both: exit(130), or death by SIGINT when the second press lands while Python is
    # already finalizing after exit(130) (it restores SIGINT's default action then)
    allowed = (128 + signal.SIGINT,) if scenario == "ctrl_c_once" else (128 + signal.SIGINT, -signal.SIGINT)
    assert result.returncode in allowed, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr[-3000:]
    assert still_running(family) == []
    names = numbered_checkpoints(log_dir)
    assert names and latest_name(log_dir) in names
    for name in names:
        metadata, groups = load_checkpoint(log_dir / "checkpoints" / name)
        assert metadata["training"]["update"] == int(name) and all_finite(arrays(groups, "policy"))
    assert sorted(os.listdir(log_dir / "checkpoints")) == sorted(names + ["latest"]), "a partial file was left"
    if scenario == "ctrl_c_once":  # the stop's checkpoint is the newest, and `latest` names it
        assert latest_name(log_dir) == names[-1]
        assert "training stopped by SIGINT" in result.stdout


# ---------------------------------------------------------------------------------------------------------------
# 4 (CLI). non-finite updates: one error line, exit 1, no final model written or overwritten


@pytest.mark.parametrize("scenario", ["nonfinite_over_an_existing_file", "nonfinite_to_a_new_path"])
def test_cli_stops_on_nonfinite_updates_with_one_error_line_and_no_final_model(
    cli: dict[str, Future[Outcome]], scenario: str
) -> None:
    result, log_dir, *_ = cli[scenario].result()
    assert result.returncode == 1, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    assert re.search(r"gradient update 3\b.*non-finite value \(loss = nan.*max_nonfinite_updates = 3", line), line
    save_path = log_dir.parent / "model"
    if scenario == "nonfinite_over_an_existing_file":
        assert save_path.read_bytes() == b"an earlier model"
    else:
        assert not save_path.exists()
    assert not (log_dir / "model").exists()
    for name in numbered_checkpoints(log_dir):
        assert all_finite(arrays(load_checkpoint(log_dir / "checkpoints" / name)[1], "policy"))


# ---------------------------------------------------------------------------------------------------------------
# 5. env workers that die or hang during a CLI run: exit 1, one error line, a loadable checkpoint, nothing left


def test_cli_worker_killed_mid_run_exits_1_with_a_checkpoint_of_the_last_update(
    cli: dict[str, Future[Outcome]]
) -> None:
    result, log_dir, family, *_ = cli["worker_killed"].result()
    assert result.returncode == 1, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    assert re.search(r"worker \d+ \(envs \[[\d, ]+\]\) died unexpectedly \(killed by SIGKILL\)", line), line
    assert still_running(family) == []
    # no periodic checkpoint in LONG_UPDATES updates: this one was written because of the fault
    metadata, groups = load_checkpoint(log_dir)
    update = metadata["training"]["update"]
    assert 1 <= update < LONG_UPDATES and metadata["timesteps"] == update * NBATCH
    assert latest_name(log_dir) == f"{update:05d}" and all_finite(arrays(groups, "policy"))
    assert not (log_dir / "model").exists(), "a run that failed must not write a final model"


def test_cli_hung_env_exits_1_after_env_timeout_with_a_checkpoint(cli: dict[str, Future[Outcome]]) -> None:
    result, log_dir, family, *_ = cli["hung_env"].result()
    assert result.returncode == 1, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    assert re.search(r"worker\(s\) \[[\d, ]+\] \(envs \[[\d, ]+\]\) did not answer 'step' within 2 s", line), line
    assert still_running(family) == [], "the hung workers must be stopped"
    metadata, _ = load_checkpoint(log_dir)
    assert metadata["training"]["update"] == 4 and metadata["timesteps"] == 4 * NBATCH
    assert not (log_dir / "model").exists()


# ---------------------------------------------------------------------------------------------------------------
# 7. bad values of the new flags exit 2 naming the flag


BAD_FLAG_VALUES = {
    "keep_checkpoints_negative": ("--keep_checkpoints=-1", r"--keep_checkpoints\b.*>= 0.*-1"),
    "keep_checkpoints_word": ("--keep_checkpoints=all", r"--keep_checkpoints: invalid int value: 'all'"),
    "max_nonfinite_updates_zero": ("--max_nonfinite_updates=0", r"--max_nonfinite_updates\b.*>= 1.*\b0\b"),
    "max_nonfinite_updates_fraction": ("--max_nonfinite_updates=2.5", r"--max_nonfinite_updates: invalid int"),
    "env_timeout_zero": ("--env_timeout=0", r"--env_timeout\b.*positive.*\b0"),
    "env_timeout_negative": ("--env_timeout=-3", r"--env_timeout\b.*positive.*-3"),
    "env_timeout_nan": ("--env_timeout=nan", r"--env_timeout\b.*positive.*nan"),
    "env_timeout_word": ("--env_timeout=soon", r"--env_timeout: invalid float value: 'soon'"),
    "deterministic_with_a_value": ("--deterministic=yes", r"--deterministic: ignored explicit argument 'yes'"),
}


@pytest.fixture(scope="module")
def flag_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    """The bad values with --num_timesteps=0, and a short run with --env_timeout=inf."""
    root = tmp_path_factory.mktemp("flags")
    commands = {
        name: RUN + ["--env=CartPole-v1", "--num_timesteps=0", flag] for name, (flag, _) in BAD_FLAG_VALUES.items()
    }
    commands["env_timeout_inf"] = RUN + cli_args(root / "inf", 2 * NBATCH, "--env_timeout=inf")
    return run_concurrently(commands, root, timeout=CLI_TIMEOUT_S)


@pytest.mark.parametrize("case", sorted(BAD_FLAG_VALUES))
def test_bad_value_of_a_new_flag_exits_2_naming_it(flag_results: dict[str, Finished], case: str) -> None:
    result = flag_results[case]
    assert result.returncode == 2, result.stderr[-2000:]
    line = one_error_line(result.stderr)
    assert re.search(BAD_FLAG_VALUES[case][1], line), line


def test_cli_env_timeout_inf_is_refused_or_means_no_limit(flag_results: dict[str, Finished]) -> None:
    result = flag_results["env_timeout_inf"]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode == 2:
        assert "--env_timeout" in one_error_line(result.stderr)
    else:
        assert result.returncode == 0, result.stderr[-3000:]
