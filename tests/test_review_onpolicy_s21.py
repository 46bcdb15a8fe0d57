"""Review of trpo_mpi, ppo1 and a2c (session 21): an episode-bounded run with a progress display finishes; network
options that do not fit each other are usage errors on the command line; ppo1's scripts refuse bad flags in one line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import pytest

from baselines_tf2 import run
from baselines_tf2.bench import Monitor
from baselines_tf2.ppo1 import mlp_policy, pposgd_simple
from baselines_tf2.training.callbacks import UNBOUNDED_TIMESTEPS
from baselines_tf2.training.checkpoint import read_metadata
from baselines_tf2.training.progress import INTERVAL_VARIABLE, TrainingProgress
from baselines_tf2.trpo_mpi import trpo_mpi

PPO1_SETTINGS = dict(clip_param=0.2, entcoeff=0.0, optim_epochs=1, optim_stepsize=3e-4, optim_batchsize=64,
                     gamma=0.99, lam=0.95)


def mlp_policy_fn(name: str, ob_space: Any, ac_space: Any) -> mlp_policy.MlpPolicy:
    return mlp_policy.MlpPolicy(name=name, ob_space=ob_space, ac_space=ac_space, hid_size=8, num_hid_layers=1)


def cartpole() -> gymnasium.Env:
    return Monitor(gymnasium.make("CartPole-v1"), None)


def test_trpo_bounded_by_episodes_with_a_progress_display_finishes(capsys: pytest.CaptureFixture[str]) -> None:
    # no step budget: the progress line's time estimate overflowed (OverflowError) when stderr is not a terminal
    model = trpo_mpi.learn(network="mlp", env=cartpole(), total_timesteps=0, max_episodes=2, timesteps_per_batch=64,
                           num_hidden=4, num_layers=1, progress_bar=True, seed=0)
    assert model is not None
    assert "Traceback" not in capsys.readouterr().err


def test_progress_lines_of_a_run_without_a_step_budget_or_with_a_huge_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No budget: steps and speed without a percentage or time left; a budget of 1e15 steps: days, not OverflowError."""
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    lines = []
    for total in (UNBOUNDED_TIMESTEPS, 10**15):
        stream = io.StringIO()
        progress = TrainingProgress(total, enabled=True, stream=stream)
        progress.update(64, [1.0, 3.0])
        progress.close()
        lines.append(stream.getvalue().splitlines()[-1])
    unbounded, huge = lines
    assert unbounded.startswith("training: 64 steps, ") and "mean return 2.00" in unbounded
    assert "%" not in unbounded and "left" not in unbounded
    assert huge.startswith(f"training: 64/{10**15} steps (0%), ") and " days, " in huge and huge.endswith(" left")


@pytest.mark.parametrize("bound", [{"max_episodes": 2}, {"max_seconds": 0.5}])
def test_ppo1_bounded_by_episodes_or_seconds_with_a_progress_display_finishes(bound: dict[str, float]) -> None:
    model = pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=64, progress_bar=True, seed=0,
                                **bound, **PPO1_SETTINGS)
    assert model is not None


@pytest.mark.parametrize("alg", ["a2c", "ppo2"])
@pytest.mark.parametrize("options", [
    ["--value_network=bogus"],
    ["--network=lstm", "--value_network=copy"],
    ["--network=lstm", "--nlstm=0"],
])
def test_cli_network_options_that_do_not_fit_exit_2_in_one_line(
    alg: str, options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [f"--alg={alg}", "--env=CartPole-v1", "--num_env=1", "--num_timesteps=100", f"--log_path={tmp_path}",
            *options]
    with pytest.raises(SystemExit) as exited:
        run.main(argv)
    assert exited.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("python -m baselines_tf2.run: error:")
    assert "value_network" in last_line or "nlstm" in last_line


@pytest.mark.parametrize(("script", "flags", "says"), [
    ("run_mujoco", ["--env=NoSuchEnv-v0", "--num-timesteps=1000"], "unknown environment id"),
    ("run_mujoco", ["--env=Pendulum-v1", "--num-timesteps=0"], "--num-timesteps"),
    ("run_atari", ["--env=CartPole-v1", "--num-timesteps=1000"], "not an atari env"),
])
def test_ppo1_scripts_refuse_bad_flags_with_exit_2_and_no_traceback(
    script: str, flags: list[str], says: str, tmp_path: Path
) -> None:
    env = {**os.environ, "OPENAI_LOGDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", f"baselines_tf2.ppo1.{script}", *flags], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and says in result.stderr


@pytest.mark.parametrize("bound", ["--max_iters=1", "--max_episodes=2"])
def test_trpo_cli_run_bounded_by_iterations_or_episodes_saves_its_final_model(bound: str, tmp_path: Path) -> None:
    # baselines' way to use these bounds: --num_timesteps=0 (only one bound may be given); the run trains
    status = run.main(["--alg=trpo_mpi", "--env=CartPole-v1", "--num_timesteps=0", "--timesteps_per_batch=64",
                       "--num_hidden=4", "--num_layers=1", f"--log_path={tmp_path}", bound])
    assert status == 0
    assert read_metadata(str(tmp_path / "model"))["timesteps"] >= 64


@pytest.mark.parametrize("alg", ["ppo2", "a2c"])
def test_a_single_env_given_where_a_vec_env_is_needed_is_a_clear_error(alg: str) -> None:
    learn = run.get_learn_function(alg)
    with pytest.raises(ValueError, match=r"env must be a VecEnv .* got TimeLimit; wrap a single env: DummyVecEnv"):
        learn(network="mlp", env=gymnasium.make("CartPole-v1"), total_timesteps=64)


def test_runs_bounded_by_iterations_count_as_training_for_the_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`--num_timesteps=0 --max_iters=N` trains: a second such run into the folder is refused (it would mix its
    checkpoints with the first's), and --load_path=<that folder> without --log_path goes on there."""
    monkeypatch.chdir(tmp_path)
    command = ["--alg=trpo_mpi", "--env=CartPole-v1", "--num_timesteps=0", "--max_iters=1",
               "--timesteps_per_batch=64", "--num_hidden=4", "--num_layers=1", "--seed=0"]
    assert run.main([*command, "--log_path=first"]) == 0
    assert "until max_iters=1; logs and checkpoints in first" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        run.main([*command, "--log_path=first"])
    assert exited.value.code == 2 and "already holds a run with checkpoints" in capsys.readouterr().err
    assert run.main([*command, "--load_path=first"]) == 0
    assert not (tmp_path / "runs").exists(), "went on in the loaded run folder, not a new default one"
    assert read_metadata(str(tmp_path / "first" / "model"))["timesteps"] == 128
