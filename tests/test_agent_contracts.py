"""Contracts every algorithm keeps, one test body each, parametrized over ALGORITHMS (a new algorithm is covered by
adding one AgentCase; its Task names the env, the probe observations and how greedy actions compare):

1. save -> learn(total_timesteps=0, load_path=...) gives the same greedy actions (discrete: equal; continuous:
   close);
2. a checkpoint of another algorithm is refused with CheckpointError, naming what it is;
3. `python -m baselines_tf2.run` stopped by SIGTERM exits 143 with a loadable checkpoint behind
   <log_path>/checkpoints/latest, and the same command with --load_path=<log_path> finishes the run (exit 0,
   <log_path>/model holding every step);
4. with --deterministic --seed=0 a run stopped by SIGTERM and resumed ends with the weights of an uninterrupted run.

Only public entry points are used: learn(), .save(), the run CLI, and the checkpoint file format (a zip of
metadata.json and arrays/<group>/<index>.npy, docs/design.md; `checkpoints/latest` names the newest file,
docs/reliability.md). Errors are matched by class name, not by the module they live in.

The CLI scenarios (3 and 4) each pay TensorFlow's start-up, so the ones the selected tests need start together in a
module fixture, MAX_PARALLEL at a time, and each test waits for its own.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import pytest
from cli_helpers import MAX_PARALLEL, RUN, Finished, run_one

from baselines_tf2 import logger

PROBES = 256  # observations the greedy actions are compared at
CLI_TIMEOUT_S = 240  # TensorFlow's start-up plus training, several runs sharing 2 cores
STOP_TIMEOUT_S = 60  # from SIGTERM to the exit
SIGTERM_STATUS = 128 + signal.SIGTERM


@dataclass(frozen=True)
class Task:
    """An env the agents train on, the observations their greedy actions are probed at, and how those compare."""

    env_id: str
    env_type: str
    probe_scale: tuple[float, ...]  # standard deviation of each dimension of the (normal, zero-mean) probes
    action_shape: tuple[int, ...]  # of one greedy action
    discrete_actions: int | None  # Discrete(n): n, compared exactly; None for Box actions, compared with allclose

    def probe_observations(self) -> np.ndarray:
        return np.random.default_rng(0).normal(scale=self.probe_scale, size=(PROBES, len(self.probe_scale))
                                               ).astype(np.float32)

    def act_alike(self, actions: np.ndarray, expected: np.ndarray) -> bool:
        if self.discrete_actions is not None:
            return np.array_equal(actions, expected)
        return actions.shape == expected.shape and np.allclose(actions, expected, rtol=1e-5, atol=1e-6)

    def check_varied(self, actions: np.ndarray) -> None:
        """AssertionError unless the probes' greedy actions differ enough for a comparison of them to mean much."""
        if self.discrete_actions is not None:
            assert set(actions.tolist()) == set(range(self.discrete_actions)), "every action must occur"
        else:
            assert np.ptp(actions) > 1e-3, f"the actions must vary across the probes, all are near {actions.flat[0]}"


CARTPOLE = Task("CartPole-v1", "classic_control", probe_scale=(1.0, 1.0, 0.1, 1.0), action_shape=(),
                discrete_actions=2)
PENDULUM = Task("Pendulum-v1", "classic_control", probe_scale=(0.7, 0.7, 2.0), action_shape=(1,),
                discrete_actions=None)  # (cos, sin, angular velocity) -> torque in [-2, 2]


@dataclass(frozen=True)
class AgentCase:
    """How to train one algorithm briefly on its task's env, in-process and through the run CLI."""

    name: str  # --alg
    module: str  # the module whose learn() trains it
    task: Task
    num_env: int
    network_kwargs: dict[str, Any]
    learn_kwargs: dict[str, Any]  # a few seconds of in-process training
    cli_args: list[str]  # hyperparameters for the CLI runs (besides the network kwargs)
    cli_timesteps: int  # long enough that SIGTERM after the first periodic checkpoint lands mid-run
    checkpoint_args: list[str]  # periodic checkpoints, so that a stop can be timed after one
    exact_args: list[str] = field(default_factory=list)  # what else --deterministic resumes need to be exact

    def __str__(self) -> str:
        return self.name

    def learn(self, env: Any, **kwargs: Any) -> Any:
        return importlib.import_module(self.module).learn(env=env, network="mlp", **self.network_kwargs, **kwargs)

    def make_env(self) -> Any:
        """A fresh VecEnv of the task (in-process) as this algorithm trains on it."""
        from baselines_tf2.common.cmd_util import make_vec_env

        return make_vec_env(self.task.env_id, self.task.env_type, self.num_env, seed=0, force_dummy=True)

    def cli(self, log_dir: Path, *extra: str) -> list[str]:
        network = [f"--{key}={value!r}" for key, value in self.network_kwargs.items()]
        return [*RUN, f"--alg={self.name}", f"--env={self.task.env_id}", *network, *self.cli_args,
                *self.checkpoint_args, f"--num_timesteps={self.cli_timesteps}", "--seed=0", "--precision=float32",
                f"--log_path={log_dir}", *extra]


ALGORITHMS = [
    AgentCase("ppo2", "baselines_tf2.ppo2.ppo2", CARTPOLE, 2, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 256, "nsteps": 32, "nminibatches": 2, "noptepochs": 2},
              cli_args=["--num_env=2", "--nsteps=32", "--nminibatches=2", "--noptepochs=2"],
              cli_timesteps=40 * 64, checkpoint_args=["--save_interval=5"]),
    AgentCase("a2c", "baselines_tf2.a2c.a2c", CARTPOLE, 2, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 200, "nsteps": 5},
              cli_args=["--num_env=2", "--nsteps=5"],
              cli_timesteps=300 * 10, checkpoint_args=["--save_interval=20"]),
    AgentCase("trpo_mpi", "baselines_tf2.trpo_mpi.trpo_mpi", PENDULUM, 1, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 256, "timesteps_per_batch": 64, "max_kl": 0.01},
              cli_args=["--timesteps_per_batch=64"],
              cli_timesteps=40 * 64, checkpoint_args=["--save_interval=5"]),
    AgentCase("deepq", "baselines_tf2.deepq", CARTPOLE, 1, {"num_hidden": 16, "hiddens": [16]},
              learn_kwargs={"total_timesteps": 300, "learning_starts": 100, "buffer_size": 1000},
              cli_args=["--learning_starts=200", "--buffer_size=2000", "--print_freq=1000"],
              cli_timesteps=1500, checkpoint_args=["--checkpoint_freq=100"],
              exact_args=["--save_replay"]),  # without its replay buffer a resumed DQN refills it and differs
    AgentCase("ddpg", "baselines_tf2.ddpg.ddpg", PENDULUM, 1, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 200, "nb_rollout_steps": 20, "nb_train_steps": 10,
                            "nb_epoch_cycles": 2, "batch_size": 32, "buffer_size": 1000},
              cli_args=["--nb_rollout_steps=20", "--nb_train_steps=10", "--nb_epoch_cycles=2", "--batch_size=32",
                        "--buffer_size=2000"],
              cli_timesteps=1000, checkpoint_args=["--checkpoint_freq=100"], exact_args=["--save_replay"]),
    # TD3, SAC: updates begin (step 50) before the first checkpoint (step 100), so the stops come mid-training
    AgentCase("td3", "baselines_tf2.td3.td3", PENDULUM, 1, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 300, "learning_starts": 100, "batch_size": 32, "buffer_size": 1000},
              cli_args=["--learning_starts=50", "--batch_size=32", "--buffer_size=2000", "--log_interval=1000"],
              cli_timesteps=1000, checkpoint_args=["--checkpoint_freq=100"], exact_args=["--save_replay"]),
    AgentCase("sac", "baselines_tf2.sac.sac", PENDULUM, 1, {"num_hidden": 16},
              learn_kwargs={"total_timesteps": 300, "learning_starts": 100, "batch_size": 32, "buffer_size": 1000},
              cli_args=["--learning_starts=50", "--batch_size=32", "--buffer_size=2000", "--log_interval=1000"],
              cli_timesteps=1000, checkpoint_args=["--checkpoint_freq=100"], exact_args=["--save_replay"]),
]
CASES = [pytest.param(case, id=case.name) for case in ALGORITHMS]
# The CLI scenarios pay TensorFlow's start-up several times each; TD3 runs SAC's loop, agent and checkpoint code
# and TRPO PPO2's (only their compiled updates differ, covered in-process here and in their own tests), so they
# skip them to keep the suite inside its time budget.
CLI_CASES = [pytest.param(case, id=case.name) for case in ALGORITHMS if case.name not in ("td3", "trpo_mpi")]
# Each loader refuses the checkpoints of the next two algorithms in the list (cyclically), so every loader and
# every kind of checkpoint is tried twice without paying for all n * (n - 1) pairs.
OTHER_PAIRS = [pytest.param(loader, other, id=f"{other.name}_into_{loader.name}")
               for index, loader in enumerate(ALGORITHMS)
               for other in (ALGORITHMS[(index + 1) % len(ALGORITHMS)], ALGORITHMS[(index + 2) % len(ALGORITHMS)])]


def greedy_actions(model: Any, obs: np.ndarray) -> np.ndarray:
    """The greedy / most likely actions of what learn() returned (play's acting interface, common to all)."""
    return np.asarray(model.policy.act_deterministic(obs)[0])


def load(case: AgentCase, path: Path, log_dir: Path) -> Any:
    """learn(total_timesteps=0, load_path=path) on a fresh env, logging to `log_dir`."""
    env = case.make_env()
    try:
        with logger.scoped_configure(str(log_dir), ["csv"]):
            return case.learn(env, total_timesteps=0, seed=1, load_path=str(path))
    finally:
        env.close()


# ---- the checkpoint file format ---------------------------------------------------------------------------


def newest_checkpoint(log_dir: Path) -> Path:
    """The file <log_dir>/checkpoints/latest names."""
    folder = log_dir / "checkpoints"
    return folder / (folder / "latest").read_text().strip()


def checkpoint_metadata(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json"))


def checkpoint_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a checkpoint by its member name (arrays/<group>/<index>.npy)."""
    with zipfile.ZipFile(path) as archive:
        return {name: np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
                for name in archive.namelist() if name.startswith("arrays/")}


# ---- in-process: trained models, saved once per algorithm ------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[AgentCase], tuple[Any, Path]]:
    """case -> (the model learn() returned after a short run, its saved checkpoint); each trained on first use."""
    cache: dict[str, tuple[Any, Path]] = {}

    def get(case: AgentCase) -> tuple[Any, Path]:
        if case.name not in cache:
            folder = tmp_path_factory.mktemp(f"trained_{case.name}")
            env = case.make_env()
            try:
                with logger.scoped_configure(str(folder / "log"), ["csv"]):
                    model = case.learn(env, seed=0, **case.learn_kwargs)
            finally:
                env.close()
            model.save(str(folder / "model"))
            cache[case.name] = (model, folder / "model")
        return cache[case.name]

    return get


@pytest.mark.parametrize("case", CASES)
def test_save_then_learn_with_load_path_gives_identical_greedy_actions(
    trained: Callable[[AgentCase], tuple[Any, Path]], case: AgentCase, tmp_path: Path
) -> None:
    model, path = trained(case)
    obs = case.task.probe_observations()
    expected = greedy_actions(model, obs)
    case.task.check_varied(expected)
    loaded = greedy_actions(load(case, path, tmp_path), obs)
    assert case.task.act_alike(loaded, expected), f"reloaded: {loaded[:8].tolist()}, saved: {expected[:8].tolist()}"
    # the control: a fresh model of another seed acts otherwise, so the equality above comes from the file
    env = case.make_env()
    try:
        with logger.scoped_configure(str(tmp_path / "fresh"), ["csv"]):
            fresh = case.learn(env, total_timesteps=0, seed=1)
    finally:
        env.close()
    assert not case.task.act_alike(greedy_actions(fresh, obs), expected)


@pytest.mark.parametrize("case", CASES)
def test_bad_inputs_are_named_before_any_network_or_file_sees_them(
    trained: Callable[[AgentCase], tuple[Any, Path]], case: AgentCase, tmp_path: Path
) -> None:
    model, _path = trained(case)
    size = len(case.task.probe_scale)
    wrong = np.zeros((3, size + 1), np.float32)
    shapes = rf"observations of shape \({size + 1},\) given to .* built for \({size},\)"
    with pytest.raises(ValueError, match=shapes):
        greedy_actions(model, wrong)
    with pytest.raises(ValueError, match=shapes):
        model.step(wrong[0])  # one observation of the wrong size, without its batch axis
    with pytest.raises(IsADirectoryError, match="is a folder"):
        model.save(str(tmp_path))
    assert list(tmp_path.iterdir()) == [], "nothing is left in the folder"
    env = case.make_env()
    try:
        with logger.scoped_configure(str(tmp_path / "log"), ["csv"]):
            with pytest.raises(TypeError, match="total_timesteps must be a number, got '100'"):
                case.learn(env, total_timesteps="100")
    finally:
        env.close()


SINGLE_ENV_CASES = [pytest.param(case, id=case.name) for case in ALGORITHMS if case.num_env == 1]


@pytest.mark.parametrize("case", SINGLE_ENV_CASES)
def test_a_single_gymnasium_env_and_the_same_seed_repeat_the_run(case: AgentCase, tmp_path: Path) -> None:
    import gymnasium

    def run(index: int) -> np.ndarray:
        with logger.scoped_configure(str(tmp_path / str(index)), ["csv"]):
            model = case.learn(gymnasium.make(case.task.env_id), seed=0, **case.learn_kwargs)
        return greedy_actions(model, case.task.probe_observations())

    first, second = run(0), run(1)
    # the env's first reset is seeded too: gymnasium would otherwise draw its start state from OS entropy
    assert np.array_equal(first, second), f"first run: {first[:8].tolist()}, second: {second[:8].tolist()}"


@pytest.mark.parametrize("loader, other", OTHER_PAIRS)
def test_checkpoint_of_another_algorithm_is_refused_with_checkpoint_error(
    trained: Callable[[AgentCase], tuple[Any, Path]], loader: AgentCase, other: AgentCase, tmp_path: Path
) -> None:
    _model, path = trained(other)
    assert checkpoint_metadata(path)["alg"] == other.name
    with pytest.raises(Exception) as caught:
        load(loader, path, tmp_path)
    assert type(caught.value).__name__ == "CheckpointError", repr(caught.value)
    assert repr(other.name) in str(caught.value), str(caught.value)  # says what the file is


# ---- through the CLI: SIGTERM, resume, exact resume -------------------------------------------------------


class Stopped(NamedTuple):
    result: Finished
    checkpoint: Path | None  # a copy of the file `latest` named right after the stop (later runs may prune it)


class SigtermOutcome(NamedTuple):
    log_dir: Path
    stopped: Stopped
    resumed: Finished | None  # the same command with --load_path=<log_dir>


class ExactOutcome(NamedTuple):
    whole: Finished
    whole_final: Path | None
    stopped: Stopped
    resumed: Finished | None
    resumed_final: Path | None


def quiet_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}


def run_until_sigterm(argv: list[str], log_dir: Path, folder: Path) -> Stopped:
    """Start the CLI in its own session; once a periodic checkpoint exists send SIGTERM to it (the CLI process
    only, as `kill PID`); its exit and a copy of the checkpoint `latest` then names."""
    folder.mkdir(parents=True, exist_ok=True)
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(argv, cwd=folder, env=quiet_env(), stdout=stdout, stderr=stderr,
                                   start_new_session=True)
    started = time.monotonic()
    try:
        while not (log_dir / "checkpoints" / "latest").exists():
            if process.poll() is not None or time.monotonic() - started > CLI_TIMEOUT_S:
                break
            time.sleep(0.01)
        else:
            process.send_signal(signal.SIGTERM)
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    result = Finished(process.returncode, out.read_text(errors="replace"), err.read_text(errors="replace"))
    checkpoint = None
    if (log_dir / "checkpoints" / "latest").exists():
        checkpoint = folder / "stopped_checkpoint"
        shutil.copyfile(newest_checkpoint(log_dir), checkpoint)
    return Stopped(result, checkpoint)


def sigterm_then_resume(case: AgentCase, folder: Path) -> SigtermOutcome:
    log_dir = folder / "run"
    folder.mkdir(parents=True, exist_ok=True)
    stopped = run_until_sigterm(case.cli(log_dir), log_dir, folder / "first")
    if stopped.result.returncode != SIGTERM_STATUS or stopped.checkpoint is None:
        return SigtermOutcome(log_dir, stopped, None)
    resumed = run_one(case.cli(log_dir, f"--load_path={log_dir}"), folder, CLI_TIMEOUT_S)
    return SigtermOutcome(log_dir, stopped, resumed)


def exact_resume(case: AgentCase, folder: Path) -> ExactOutcome:
    """An uninterrupted --deterministic run, and the same run stopped by SIGTERM and resumed in its own folder."""
    deterministic = ["--deterministic", *case.exact_args]
    whole_dir, part_dir = folder / "whole", folder / "part"
    folder.mkdir(parents=True, exist_ok=True)
    whole = run_one(case.cli(whole_dir, *deterministic), folder, CLI_TIMEOUT_S)
    whole_final = newest_checkpoint(whole_dir) if whole.returncode == 0 else None
    stopped = run_until_sigterm(case.cli(part_dir, *deterministic), part_dir, folder / "first")
    if stopped.result.returncode != SIGTERM_STATUS or stopped.checkpoint is None:
        return ExactOutcome(whole, whole_final, stopped, None, None)
    resumed = run_one(case.cli(part_dir, *deterministic, f"--load_path={part_dir}"), folder, CLI_TIMEOUT_S)
    resumed_final = newest_checkpoint(part_dir) if resumed.returncode == 0 else None
    return ExactOutcome(whole, whole_final, stopped, resumed, resumed_final)


SCENARIOS = {"sigterm": sigterm_then_resume, "exact": exact_resume}
SCENARIO_OF_TEST = {  # which scenario each CLI test reads
    "test_sigterm_exits_143_and_leaves_a_loadable_checkpoint": "sigterm",
    "test_resuming_a_sigterm_stopped_run_finishes_it": "sigterm",
    "test_deterministic_run_stopped_and_resumed_ends_with_the_uninterrupted_weights": "exact",
}


@pytest.fixture(scope="module")
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[dict[tuple[str, str], Future]]:
    """(scenario, algorithm) -> its outcome, for the scenarios the selected tests of this module read, started in
    the order the tests read them (so no test's timeout runs while it waits behind scenarios read later)."""
    wanted: dict[tuple[str, str], None] = {}  # an ordered set
    for item in request.session.items:
        scenario = SCENARIO_OF_TEST.get(getattr(item, "originalname", ""))
        if item.module is request.module and scenario and hasattr(item, "callspec"):
            wanted.setdefault((scenario, item.callspec.params["case"].name))
    root = tmp_path_factory.mktemp("cli")
    cases = {case.name: case for case in ALGORITHMS}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        yield {key: pool.submit(SCENARIOS[key[0]], cases[key[1]], root / f"{key[0]}_{key[1]}")
               for key in wanted}


def explain(result: Finished | None) -> str:
    if result is None:
        return "(not run)"
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES)
def test_sigterm_exits_143_and_leaves_a_loadable_checkpoint(
    cli: dict[tuple[str, str], Future], case: AgentCase, tmp_path: Path
) -> None:
    outcome: SigtermOutcome = cli["sigterm", case.name].result()
    stopped = outcome.stopped
    assert stopped.result.returncode == SIGTERM_STATUS, explain(stopped.result)
    assert "Traceback" not in stopped.result.stderr, explain(stopped.result)
    assert stopped.checkpoint is not None, "no checkpoint behind <log_path>/checkpoints/latest"
    metadata = checkpoint_metadata(stopped.checkpoint)
    assert metadata["alg"] == case.name
    assert 0 < metadata["timesteps"] < case.cli_timesteps, "the stop must come mid-run for this test to mean much"
    loaded = load(case, stopped.checkpoint, tmp_path)
    assert loaded.timesteps == metadata["timesteps"]
    assert greedy_actions(loaded, case.task.probe_observations()).shape == (PROBES, *case.task.action_shape)


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES)
def test_resuming_a_sigterm_stopped_run_finishes_it(
    cli: dict[tuple[str, str], Future], case: AgentCase, tmp_path: Path
) -> None:
    outcome: SigtermOutcome = cli["sigterm", case.name].result()
    assert outcome.resumed is not None, f"the stop gave no checkpoint to resume:\n{explain(outcome.stopped.result)}"
    assert outcome.resumed.returncode == 0, explain(outcome.resumed)
    model_path = outcome.log_dir / "model"
    assert model_path.is_file(), "the resumed run wrote no <log_path>/model"
    assert checkpoint_metadata(model_path)["timesteps"] == case.cli_timesteps
    assert load(case, model_path, tmp_path).timesteps == case.cli_timesteps


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES)
def test_deterministic_run_stopped_and_resumed_ends_with_the_uninterrupted_weights(
    cli: dict[tuple[str, str], Future], case: AgentCase
) -> None:
    outcome: ExactOutcome = cli["exact", case.name].result()
    assert outcome.whole.returncode == 0, explain(outcome.whole)
    assert outcome.stopped.result.returncode == SIGTERM_STATUS, explain(outcome.stopped.result)
    assert outcome.resumed is not None and outcome.resumed.returncode == 0, explain(outcome.resumed)
    assert outcome.whole_final is not None and outcome.resumed_final is not None
    stopped_at = checkpoint_metadata(outcome.stopped.checkpoint)["timesteps"]
    assert 0 < stopped_at < case.cli_timesteps
    for final in (outcome.whole_final, outcome.resumed_final):
        assert checkpoint_metadata(final)["timesteps"] == case.cli_timesteps
    whole, resumed = checkpoint_arrays(outcome.whole_final), checkpoint_arrays(outcome.resumed_final)
    at_stop = checkpoint_arrays(outcome.stopped.checkpoint)
    policy = sorted(name for name in whole if name.startswith("arrays/policy/"))
    assert policy and any(not np.array_equal(whole[name], at_stop[name]) for name in policy), \
        "training after the stop changed no weight, so the equality below would mean nothing"
    assert sorted(resumed) == sorted(whole)
    for name in sorted(whole):
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
