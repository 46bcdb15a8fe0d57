"""Old checkpoints keep working: the files in tests/fixtures/checkpoints_0 (written by baselines_tf2 0.1.0 before its
internals moved; see tests/fixtures/make_old_checkpoints.py) still load through learn(load_path=...) with the
greedy actions and values recorded when they were written, still play with `python -m baselines_tf2.evaluate`,
and still load and play through `python -m baselines_tf2.run --play`.

Only public entry points are used (learn(), make_vec_env, the two command lines), so the tests hold whatever
module the loading code lives in. Never regenerate the fixtures to make these tests pass: they stand for files
users already have.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from cli_helpers import RUN, Finished, run_concurrently

from baselines_tf2 import logger

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkpoints_0"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
ALGS = ["ppo2", "a2c", "deepq"]
EVALUATE = [sys.executable, "-m", "baselines_tf2.evaluate"]
TIMEOUT_S = 240  # TensorFlow's start-up plus a few CartPole episodes, several commands sharing 2 cores


def fixture_path(alg: str) -> Path:
    return FIXTURES / EXPECTED["fixtures"][alg]["file"]


def observations() -> np.ndarray:
    return np.asarray(EXPECTED["observations"], dtype=np.float32)


def network_flags(alg: str) -> list[str]:
    """--name=value for the fixture's network kwargs (Python literals, as the run CLI parses them)."""
    return [f"--{key}={value!r}" for key, value in EXPECTED["fixtures"][alg]["network_kwargs"].items()]


def explain(result: Finished) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"


def load_through_learn(alg: str) -> Any:
    """learn(total_timesteps=0, load_path=fixture) on a fresh CartPole env of the shape it was trained on."""
    from baselines_tf2.common.cmd_util import make_vec_env

    entry = EXPECTED["fixtures"][alg]
    kwargs = {"network": entry["network"], "total_timesteps": 0, "seed": 0, "load_path": str(fixture_path(alg)),
              **entry["network_kwargs"]}
    if alg == "deepq":
        from baselines_tf2 import deepq

        return deepq.learn(env=gymnasium.make(EXPECTED["env_id"]), **kwargs)
    if alg == "ppo2":
        from baselines_tf2.ppo2 import ppo2 as module
    else:
        from baselines_tf2.a2c import a2c as module
    env = make_vec_env(EXPECTED["env_id"], "classic_control", 2, seed=0, force_dummy=True)
    try:
        return module.learn(env=env, **kwargs)
    finally:
        env.close()


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    """evaluate and run --play on every fixture, run concurrently (each command pays TensorFlow's import)."""
    root = tmp_path_factory.mktemp("old_checkpoints")
    commands = {}
    for alg in ALGS:
        commands[f"evaluate_{alg}"] = EVALUATE + [str(fixture_path(alg)), "--episodes", "2", "--seed", "0"]
        commands[f"run_{alg}"] = RUN + [
            f"--alg={alg}", f"--env={EXPECTED['env_id']}", "--num_timesteps=0", f"--load_path={fixture_path(alg)}",
            "--play", "--play_episodes=1", "--seed=0", f"--log_path={root / ('run_' + alg)}", *network_flags(alg),
        ]
    return run_concurrently(commands, root, timeout=TIMEOUT_S)


def test_fixtures_are_small_and_discriminating() -> None:
    """The recorded greedy actions include both CartPole actions, so comparing them can catch wrong weights."""
    for alg in ALGS:
        assert fixture_path(alg).stat().st_size < 200_000, alg
        actions = EXPECTED["fixtures"][alg]["greedy_actions"]
        assert len(actions) == len(EXPECTED["observations"]) == 8 and set(actions) == {0, 1}, alg


@pytest.mark.parametrize("alg", ALGS)
def test_old_checkpoint_loads_through_learn_with_the_recorded_greedy_actions(alg: str, tmp_path: Path) -> None:
    entry = EXPECTED["fixtures"][alg]
    obs = observations()
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        loaded = load_through_learn(alg)
    if alg == "deepq":
        np.testing.assert_array_equal(np.asarray(loaded(obs, stochastic=False)), entry["greedy_actions"])
    else:
        np.testing.assert_array_equal(np.asarray(loaded.policy.act_deterministic(obs)[0]), entry["greedy_actions"])
        values = np.asarray(loaded.policy.value(obs), dtype=np.float64).reshape(-1)
        np.testing.assert_allclose(values, entry["values"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("alg", ALGS)
def test_old_checkpoint_plays_with_evaluate(cli_results: dict[str, Finished], alg: str) -> None:
    result = cli_results[f"evaluate_{alg}"]
    assert result.returncode == 0, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    assert EXPECTED["env_id"] in result.stdout, explain(result)  # the env rebuilt from the checkpoint's recipe


@pytest.mark.parametrize("alg", ALGS)
def test_old_checkpoint_loads_and_plays_through_the_run_cli(cli_results: dict[str, Finished], alg: str) -> None:
    result = cli_results[f"run_{alg}"]
    assert result.returncode == 0, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
