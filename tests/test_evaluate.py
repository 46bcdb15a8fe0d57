"""`python -m baselines_tf2.evaluate`: real scores from ppo2, deepq and Atari checkpoints; no-op starts; bad input.

Every CLI run pays TensorFlow's import, so all of them run concurrently in one module fixture.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from cli_helpers import Finished, run_concurrently

from baselines_tf2 import logger
from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.common.atari_wrappers import EpisodicLifeEnv
from baselines_tf2.common.cmd_util import make_vec_env
from baselines_tf2.common.vec_env import VecFrameStack
from baselines_tf2.tools.evaluation import acting_epsilon, epsilon_greedy, set_noop_starts

DEEPQ_EPSILON = ALGORITHMS["deepq"].eval_epsilon
EVALUATE = [sys.executable, "-m", "baselines_tf2.evaluate"]
TIMEOUT_S = 120
CARTPOLE_MAX_RETURN = 500


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A ppo2 CartPole model trained for 2048 steps, a briefly trained deepq one, an untrained ppo2 Breakout one."""
    from baselines_tf2.deepq import deepq
    from baselines_tf2.ppo2 import ppo2

    root = tmp_path_factory.mktemp("evaluate_checkpoints")
    paths = {name: str(root / name) for name in ("ppo2", "deepq", "atari")}
    with logger.scoped_configure(str(root / "logs"), ["csv"]):
        env = make_vec_env("CartPole-v1", "classic_control", 2, seed=0, force_dummy=True)
        ppo2.learn(network="mlp", env=env, total_timesteps=2048, nsteps=256, seed=0).save(paths["ppo2"])
        env.close()
        env = make_vec_env("CartPole-v1", "classic_control", 1, seed=0)
        deepq.learn(env, "mlp", seed=0, total_timesteps=300, learning_starts=100).save(paths["deepq"])
        env.close()
        env = VecFrameStack(make_vec_env("BreakoutNoFrameskip-v4", "atari", 1, seed=0), 4)
        ppo2.learn(network="cnn", env=env, total_timesteps=0, nsteps=128, seed=0).save(paths["atari"])
        env.close()
    Path(root / "corrupt").write_bytes(Path(paths["ppo2"]).read_bytes()[:300])
    paths["corrupt"] = str(root / "corrupt")
    paths["out"] = str(root)
    return paths


# name -> (arguments, with {ppo2}/{deepq}/{atari}/{corrupt}/{out} filled in from the fixture)
RUNS = {
    "ppo2_json_to_stdout": ["{ppo2}", "--episodes", "5", "--seed", "0", "--json", "-"],
    "deepq": ["{deepq}", "--episodes", "4", "--seed", "0", "--json", "{out}/deepq.json"],
    "atari_noop_starts": ["{atari}", "--episodes", "1", "--noop_starts", "5", "--seed", "0",
                          "--json", "{out}/atari.json"],
}
# name -> (arguments, text the one error line must contain); all fail before TensorFlow is imported
BAD_INPUT = {
    "missing_checkpoint": (["{out}/nothing_here", "--episodes", "1"], "no checkpoint at"),
    "corrupt_checkpoint": (["{corrupt}", "--episodes", "1"], "truncated/corrupt"),
    "zero_episodes": (["{ppo2}", "--episodes", "0"], "--episodes must be >= 1, got 0"),
    "epsilon_above_one": (["{ppo2}", "--epsilon", "1.5"], "--epsilon must lie in [0, 1], got 1.5"),
    "zero_noop_starts": (["{atari}", "--noop_starts", "0"], "--noop_starts must be >= 1, got 0"),
    "epsilon_and_deterministic": (["{ppo2}", "--epsilon", "0.1", "--deterministic"], "not allowed with argument"),
    "json_in_missing_folder": (["{ppo2}", "--json", "{out}/no/such/folder/x.json"], "--json: cannot write"),
}


@pytest.fixture(scope="module")
def finished(checkpoints: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    commands = {name: EVALUATE + [arg.format(**checkpoints) for arg in args] for name, args in RUNS.items()}
    commands.update({name: EVALUATE + [arg.format(**checkpoints) for arg in args]
                     for name, (args, _) in BAD_INPUT.items()})
    return run_concurrently(commands, tmp_path_factory.mktemp("evaluate_cwd"), timeout=TIMEOUT_S)


def check_report(report: dict, episodes: int) -> list[float]:
    """The report's scores, after checking their count and that the summary is computed from them."""
    scores = report["scores"]
    assert len(scores) == episodes == report["settings"]["episodes"] == report["summary"]["episodes"]
    assert len(report["lengths"]) == episodes and all(length >= 1 for length in report["lengths"])
    summary = report["summary"]
    assert summary["mean"] == pytest.approx(np.mean(scores))
    assert summary["std"] == pytest.approx(np.std(scores))
    assert (summary["min"], summary["median"], summary["max"]) == pytest.approx(
        (min(scores), np.median(scores), max(scores)))
    return scores


def test_ppo2_scores_are_cartpole_episode_returns_and_json_dash_keeps_stdout_pure(
    finished: dict[str, Finished]
) -> None:
    result = finished["ppo2_json_to_stdout"]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    scores = check_report(report, 5)
    assert all(score == int(score) and 1 <= score <= CARTPOLE_MAX_RETURN for score in scores)
    assert scores == report["lengths"]  # CartPole pays 1 per step: each return is its episode's length
    assert report["settings"] == {"alg": "ppo2", "env_id": "CartPole-v1", "episodes": 5, "actions": "sampled",
                                  "epsilon": None, "noop_starts": None, "seed": 0}
    assert "successes" not in report and "success_rate" not in report["summary"]  # CartPole has no is_success
    assert "mean ± std" in result.stderr  # the table still shows, on stderr
    assert "mean length" in result.stderr and f"{np.mean(report['lengths']):.6g} steps" in result.stderr


def test_deepq_defaults_to_epsilon_greedy(finished: dict[str, Finished], checkpoints: dict[str, str]) -> None:
    result = finished["deepq"]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(Path(checkpoints["out"], "deepq.json").read_text())
    scores = check_report(report, 4)
    assert all(score == int(score) and 1 <= score <= CARTPOLE_MAX_RETURN for score in scores)
    assert report["settings"]["actions"] == "epsilon-greedy"
    assert report["settings"]["epsilon"] == DEEPQ_EPSILON
    assert "mean ± std" in result.stdout and f"wrote {checkpoints['out']}/deepq.json" in result.stdout


def test_atari_checkpoint_plays_whole_games_with_noop_starts(
    finished: dict[str, Finished], checkpoints: dict[str, str]
) -> None:
    result = finished["atari_noop_starts"]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(Path(checkpoints["out"], "atari.json").read_text())
    [score] = check_report(report, 1)
    assert score == int(score) and score >= 0  # Breakout's game score over all 5 lives, unclipped
    # a whole game: 5 lives, each at least the 24 agent steps the ball takes to fall past the paddle (the shortest
    # of 150 random-play lives), so an episode cut at the first life lost would be shorter
    [length] = report["lengths"]
    assert length >= 5 * 24, length
    assert report["settings"]["noop_starts"] == 5 and report["settings"]["env_id"] == "BreakoutNoFrameskip-v4"


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(finished: dict[str, Finished], case: str) -> None:
    result = finished[case]
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    error_line = result.stderr.strip().splitlines()[-1]
    assert error_line.startswith("python -m baselines_tf2.evaluate: error:"), result.stderr[-2000:]
    assert BAD_INPUT[case][1] in error_line
    assert "Traceback" not in result.stderr


def test_noop_starts_on_an_env_without_noop_exit_2(
    checkpoints: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked once the env is rebuilt (after TensorFlow loads), so run in-process rather than in a subprocess."""
    from baselines_tf2.evaluate import main

    assert main([checkpoints["ppo2"], "--episodes", "1", "--noop_starts", "30"]) == 2
    assert capsys.readouterr().err.strip() == (
        "python -m baselines_tf2.evaluate: error: no-op starts need an Atari game whose action 0 is NOOP; "
        "CartPole-v1 has no action meanings"
    )


def test_noop_starts_replace_make_ataris_noops_instead_of_adding_more() -> None:
    """After a real reset the game has run the no-op frames plus FireResetEnv's FIRE and action 2 (4 frames each)."""
    env = make_vec_env("BreakoutNoFrameskip-v4", "atari", 1, seed=0)
    ale = env.unwrapped.envs[0].unwrapped.ale
    episodic_life = env.unwrapped.envs[0]
    while not isinstance(episodic_life, EpisodicLifeEnv):
        episodic_life = episodic_life.env
    fire_reset_frames = 8

    def noop_frames_after_resets() -> set[int]:
        frames = set()
        for seed in range(12):
            episodic_life.was_real_done = True  # as after a game over: the reset restarts the game
            env.seed(seed)
            env.reset()
            frames.add(ale.getEpisodeFrameNumber() - fire_reset_frames)
        return frames

    try:
        own = noop_frames_after_resets()
        assert min(own) >= 1 and 3 < max(own) <= 30  # make_atari's own 1..30
        set_noop_starts(env, 3, "BreakoutNoFrameskip-v4")
        assert noop_frames_after_resets() == {1, 2, 3}
    finally:
        env.close()


def test_epsilon_greedy_replaces_greedy_actions_at_rate_epsilon() -> None:
    space = gymnasium.spaces.Discrete(4)
    greedy = lambda obs, dones: np.full(len(obs), 3)  # noqa: E731
    obs, dones = np.zeros((10_000, 1)), np.zeros(10_000)
    rng = np.random.default_rng(0)
    assert (epsilon_greedy(greedy, space, 0.0, rng)(obs, dones) == 3).all()
    uniform = epsilon_greedy(greedy, space, 1.0, rng)(obs, dones)
    assert np.bincount(uniform, minlength=4) == pytest.approx([2500] * 4, rel=0.1)
    changed = (epsilon_greedy(greedy, space, 0.2, rng)(obs, dones) != 3).mean()
    assert changed == pytest.approx(0.2 * 3 / 4, abs=0.02)  # a random draw of action 3 looks greedy
    with pytest.raises(ValueError, match="needs a Discrete action space"):
        epsilon_greedy(greedy, gymnasium.spaces.Box(-1, 1, (2,)), 0.1, rng)


def test_default_action_choice_per_algorithm() -> None:
    assert DEEPQ_EPSILON == 0.001 and ALGORITHMS["ppo2"].eval_epsilon is None and ALGORITHMS["a2c"].eval_epsilon is None
    assert acting_epsilon(DEEPQ_EPSILON, None, False) == DEEPQ_EPSILON
    assert acting_epsilon(None, None, False) is None  # sampled
    assert acting_epsilon(None, None, True) == 0.0
    assert acting_epsilon(None, 0.05, False) == 0.05
    with pytest.raises(ValueError, match="epsilon must lie in"):
        acting_epsilon(DEEPQ_EPSILON, -0.1, False)


def test_json_path_starting_with_tilde_is_the_home_folders(checkpoints: dict[str, str], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--json=~/... is written in the home folder, as checkpoint paths read it (it was refused as ./~)."""
    from baselines_tf2.evaluate import main

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main([checkpoints["ppo2"], "--episodes", "1", "--json", "~/scores.json"]) == 0, capsys.readouterr().err
    assert len(json.loads((tmp_path / "scores.json").read_text())["scores"]) == 1
