"""baselines' `her` paths added for the porting table: `her_sampler` on hand-built episode batches, `her.util`,
`her.experiment.config` on FetchReach-v4, and `python -m baselines_tf2.her.experiment.play` on a checkpoint."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from baselines_tf2.her import util
from baselines_tf2.her.her_sampler import make_sample_her_transitions

# ---- her_sampler on a hand-built episode batch (no env, no TensorFlow) ------------------------------------------
#
# Every value says where it comes from: episode b observes [b, t] at step t and has achieved the goal [b, t, 0]
# there (t = 0..T); its desired goal is [b, -1, 0], which nothing achieves; info_step is 100 * b + t. A sampled
# transition's 'o' names it (episode, step) and its goal says where the goal was taken from.

EPISODES, T = 6, 5
BATCH = 20_000


def episode_batch(with_next: bool = True) -> dict[str, np.ndarray]:
    """baselines' layout: 'o' and 'ag' [B, T+1, .], 'g', 'u' and 'info_*' [B, T, .], plus 'o_2'/'ag_2' as its
    buffer adds them."""
    b, t = np.meshgrid(np.arange(EPISODES), np.arange(T + 1), indexing="ij")
    batch = {
        "o": np.stack([b, t], axis=-1).astype(np.float32),
        "ag": np.stack([b, t, np.zeros_like(t)], axis=-1).astype(np.float32),
        "g": np.stack([b[:, :T], np.full((EPISODES, T), -1), np.zeros((EPISODES, T))], axis=-1).astype(np.float32),
        "u": np.zeros((EPISODES, T, 2), np.float32),
        "info_step": (100 * b[:, :T] + t[:, :T])[..., None].astype(np.float32),
    }
    if with_next:
        batch["o_2"], batch["ag_2"] = batch["o"][:, 1:], batch["ag"][:, 1:]
    return batch


class RecordingReward:
    """Fetch's sparse reward (0 where the achieved goal is the desired one, else -1), remembering its arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, ag_2: np.ndarray, g: np.ndarray, info: dict[str, np.ndarray]) -> np.ndarray:
        self.calls.append({"ag_2": ag_2, "g": g, "info": info})
        return -np.any(ag_2 != g, axis=-1).astype(np.float32)


def sample(strategy: str, replay_k: int = 4, *, seed: int = 0, batch: dict[str, np.ndarray] | None = None,
           size: int = BATCH) -> tuple[dict[str, np.ndarray], RecordingReward]:
    reward = RecordingReward()
    sampler = make_sample_her_transitions(strategy, replay_k, reward, rng=np.random.default_rng(seed))
    return sampler(episode_batch() if batch is None else batch, size), reward


def test_future_goals_are_achieved_later_in_the_same_episode_for_four_fifths_of_the_batch() -> None:
    transitions, _ = sample("future", replay_k=4)
    episode, step = transitions["o"][:, 0], transitions["o"][:, 1]
    relabelled = transitions["g"][:, 1] != -1
    # replay_k = 4: future_p = 1 - 1/(1 + 4) = 0.8; the binomial std over 20000 draws is 0.003
    assert relabelled.mean() == pytest.approx(0.8, abs=0.015)
    goal_episode, goal_step = transitions["g"][relabelled, 0], transitions["g"][relabelled, 1]
    np.testing.assert_array_equal(goal_episode, episode[relabelled])
    # future_t = t + 1 + floor(U * (T - t)): every step from t + 1 to T, none before
    offsets = goal_step - step[relabelled]
    assert offsets.min() == 1 and goal_step.max() == T
    for t in range(T):  # from step t the goal step is uniform over the T - t steps t+1..T
        steps = goal_step[step[relabelled] == t]
        assert sorted(set(steps.tolist())) == list(range(t + 1, T + 1))
    # the others keep their own desired goal
    np.testing.assert_array_equal(transitions["g"][~relabelled, 0], episode[~relabelled])


@pytest.mark.parametrize("replay_k, expected", [(1, 0.5), (0, 0.0)])
def test_the_relabelled_fraction_is_one_minus_one_over_one_plus_replay_k(replay_k: int, expected: float) -> None:
    transitions, _ = sample("future", replay_k=replay_k)
    assert (transitions["g"][:, 1] != -1).mean() == pytest.approx(expected, abs=0.015)


def test_rewards_are_reward_fun_of_the_next_achieved_goal_and_the_batch_goal_with_the_info_entries() -> None:
    transitions, reward = sample("future", size=500)
    (call,) = reward.calls
    np.testing.assert_array_equal(call["g"], transitions["g"])
    # ag_2 is the goal achieved after the sampled step: [b, t + 1, 0]
    np.testing.assert_array_equal(call["ag_2"][:, 1], transitions["o"][:, 1] + 1)
    np.testing.assert_array_equal(call["info"]["step"][:, 0], 100 * transitions["o"][:, 0] + transitions["o"][:, 1])
    np.testing.assert_array_equal(transitions["r"], -np.any(call["ag_2"] != call["g"], axis=-1).astype(np.float32))
    # a goal taken from step t + 1 is the one achieved right after the step: reward 0 there, -1 elsewhere
    reached = transitions["g"][:, 1] == transitions["o"][:, 1] + 1
    assert reached.any() and (transitions["r"][reached] == 0).all() and (transitions["r"][~reached] == -1).all()
    assert all(value.shape[0] == 500 for value in transitions.values())


def test_o_2_and_ag_2_are_added_when_the_batch_lacks_them() -> None:
    with_next, _ = sample("future", size=300)
    without, _ = sample("future", size=300, batch=episode_batch(with_next=False))
    assert sorted(without) == sorted(with_next)
    for key, value in with_next.items():
        np.testing.assert_array_equal(without[key], value, err_msg=key)
    np.testing.assert_array_equal(with_next["o_2"][:, 1], with_next["o"][:, 1] + 1)


def test_strategies_none_final_and_episode() -> None:
    never, _ = sample("none")
    assert (never["g"][:, 1] == -1).all()
    final, _ = sample("final")
    relabelled = final["g"][:, 1] != -1
    assert relabelled.mean() == pytest.approx(0.8, abs=0.015) and (final["g"][relabelled, 1] == T).all()
    anywhere, _ = sample("episode")
    relabelled = anywhere["g"][:, 1] != -1
    np.testing.assert_array_equal(anywhere["g"][relabelled, 0], anywhere["o"][relabelled, 0])
    assert sorted(set(anywhere["g"][relabelled, 1].tolist())) == list(range(1, T + 1))  # any achieved goal


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="valid: future, final, episode, none"):
        make_sample_her_transitions("futur", 4, RecordingReward())
    sampler = make_sample_her_transitions("future", 4, RecordingReward())
    short = {**episode_batch(), "ag": episode_batch()["ag"][:, :T]}
    with pytest.raises(ValueError, match=r"'ag' has shape \(6, 5, 3\).*\(6, 6\)"):
        sampler(short, 10)


def test_the_modules_at_baselines_her_paths_start_without_tensorflow() -> None:
    probe = ("import sys\n"
             "import baselines_tf2.her.her_sampler, baselines_tf2.her.util, baselines_tf2.her.experiment.config\n"
             "import baselines_tf2.her.experiment.play\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
             "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ---- her.util ------------------------------------------------------------------------------------------------


def test_util_episode_helpers() -> None:
    episode = {"o": [np.full((2, 3), t) for t in range(4)], "u": [np.full((2, 1), t) for t in range(3)]}
    batch = util.convert_episode_to_batch_major(episode)  # [T(+1), B, .] -> [B, T(+1), .]
    assert batch["o"].shape == (2, 4, 3) and batch["u"].shape == (2, 3, 1)
    assert batch["o"][1, 2, 0] == 2
    assert util.transitions_in_episode_batch(batch) == 6


def test_store_args_and_import_function() -> None:
    class Agent:
        @util.store_args
        def __init__(self, hidden: int, layers: int = 3, **kwargs: Any) -> None:
            self.seen_layers = self.layers  # set before __init__ runs, as baselines' decorator did

    agent = Agent(256, scope="ddpg")
    assert (agent.hidden, agent.layers, agent.seen_layers, agent.scope) == (256, 3, 3, "ddpg")
    assert util.import_function("baselines_tf2.her.util:store_args") is util.store_args
    with pytest.raises(ValueError, match="package.module:name"):
        util.import_function("baselines_tf2.her.util.store_args")


# ---- her.experiment.config on FetchReach-v4 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fetch_params() -> dict[str, Any]:
    from baselines_tf2.her.experiment import config

    return config.prepare_params({**config.DEFAULT_PARAMS, "env_name": "FetchReach-v4", "lr": 0.002})


def test_prepare_params_and_configure_dims(fetch_params: dict[str, Any]) -> None:
    from baselines_tf2.her import config as her_config
    from baselines_tf2.her.experiment import config

    assert config.DEFAULT_PARAMS is her_config.DEFAULT_PARAMS and "make_env" not in config.DEFAULT_PARAMS
    assert fetch_params["T"] == 50 and fetch_params["gamma"] == pytest.approx(1 - 1 / 50)
    ddpg = fetch_params["ddpg_params"]
    assert ddpg["pi_lr"] == ddpg["Q_lr"] == fetch_params["_Q_lr"] == 0.002 and "Q_lr" not in fetch_params
    assert config.configure_dims(fetch_params) == {"o": 10, "u": 4, "g": 3, "info_is_success": 1}


def test_configure_her_rewards_with_the_envs_compute_reward(fetch_params: dict[str, Any]) -> None:
    from baselines_tf2.her.experiment import config

    env = config.cached_make_env(fetch_params["make_env"])
    rng = np.random.default_rng(0)
    batch = {"o": rng.normal(size=(4, 51, 10)), "ag": rng.normal(scale=0.03, size=(4, 51, 3)),
             "g": rng.normal(scale=0.03, size=(4, 50, 3)), "u": np.zeros((4, 50, 4)),
             "info_is_success": np.zeros((4, 50, 1))}
    transitions = config.configure_her(fetch_params)(batch, 400)
    expected = env.unwrapped.compute_reward(transitions["ag_2"], transitions["g"], {})  # type: ignore[attr-defined]
    np.testing.assert_array_equal(transitions["r"], expected)
    assert set(np.unique(transitions["r"])) == {-1.0, 0.0}
    assert "replay_strategy" in fetch_params  # left as it was


def test_configure_ddpg_raises_naming_the_tf2_way_and_small_helpers() -> None:
    from baselines_tf2.her.experiment import config

    with pytest.raises(NotImplementedError, match=r"baselines_tf2\.her\.her\.learn.*baselines_tf2\.her\.ddpg\.DDPG"):
        config.configure_ddpg({}, {})
    np.testing.assert_array_equal(config.simple_goal_subtract(np.ones(3), np.arange(3)), [1, 0, -1])
    with pytest.raises(ValueError, match="different shapes"):
        config.simple_goal_subtract(np.ones(3), np.ones(2))
    lines: list[str] = []

    class Lines:
        def info(self, line: str) -> None:
            lines.append(line)

    config.log_params({"b": 2, "a": 1}, logger=Lines())
    assert lines == ["a: 1", "b: 2"]


# ---- python -m baselines_tf2.her.experiment.play -------------------------------------------------------------

SUMMARY = re.compile(r"^(\d+) deterministic episodes of FetchReach-v4 \(seed (\d+)\) with .*: success rate "
                     r"(\S+) \((\d+)/(\d+)\), mean return (\S+)$", re.M)
EPISODE = re.compile(r"^episode \d+: score (-?[\d.]+), 50 steps, success (yes|no)$", re.M)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A HER agent after one 50-step epoch of tiny networks on FetchReach-v4, saved twice: as trained (the
    checkpoint records the make_vec_env recipe of its env) and without the env recipe."""
    from baselines_tf2 import logger
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.her import her

    root = tmp_path_factory.mktemp("her_play")
    env = make_vec_env("FetchReach-v4", "robotics", 1, seed=0, force_dummy=True, flatten_dict_observations=False)
    try:
        with logger.scoped_configure(str(root / "log"), ["csv"]):
            agent = her.learn(network="mlp", env=env, total_timesteps=50, seed=0, n_cycles=1, n_batches=2,
                              n_test_rollouts=1, layers=1, hidden=16, batch_size=32)
    finally:
        env.close()
    paths = {"recipe": root / "policy", "no_recipe": root / "policy_no_recipe"}
    agent.save(str(paths["recipe"]))
    agent.save(str(paths["no_recipe"]), extra_metadata={"env": {"recipe": None, "wrappers": []}})
    return paths


def play(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The script's stdout, run in-process under a logger that writes no stdout (as after a training in-process)."""
    from baselines_tf2 import logger
    from baselines_tf2.her.experiment import play as play_module

    with tempfile.TemporaryDirectory() as log_dir, logger.scoped_configure(log_dir, ["csv"]):
        assert play_module.main(argv) == 0
    return capsys.readouterr().out


def test_play_prints_the_success_rate_and_mean_return_of_its_episodes(checkpoints: dict[str, Path],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = play([str(checkpoints["recipe"]), "--n_test_rollouts", "2", "--seed", "1"], capsys)
    (summary,) = SUMMARY.findall(out)
    episodes, seed, rate, wins, total, mean_return = summary
    assert (episodes, seed, total) == ("2", "1", "2")
    scores = [(float(score), success == "yes") for score, success in EPISODE.findall(out)]
    assert len(scores) == 2, out
    assert int(wins) == sum(success for _score, success in scores) and float(rate) == pytest.approx(int(wins) / 2)
    assert float(mean_return) == pytest.approx(np.mean([score for score, _success in scores]), abs=1e-4)
    # the same seed plays the same episodes; --env plays a checkpoint that does not record its env
    again = play([str(checkpoints["no_recipe"]), "--n_test_rollouts", "2", "--seed", "1", "--env", "FetchReach-v4"],
                 capsys)
    assert EPISODE.findall(again) == EPISODE.findall(out)


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from baselines_tf2.her.experiment import play as play_module

    with pytest.raises(SystemExit) as caught:
        play_module.main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


def test_baselines_pickled_policies_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkl = tmp_path / "policy_best.pkl"
    pkl.write_bytes(pickle.dumps({"info": {"env_name": "FetchReach-v1"}}))
    assert "is a pickle (baselines' policy .pkl)" in usage_error([str(pkl)], capsys)
    renamed = tmp_path / "policy_best"  # found by its first byte too
    renamed.write_bytes(pkl.read_bytes())
    assert "never unpickles" in usage_error([str(renamed)], capsys)


def test_usage_errors_exit_2(checkpoints: dict[str, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert "must be at least 1" in usage_error([str(checkpoints["recipe"]), "--n_test_rollouts", "0"], capsys)
    assert "give --env" in usage_error([str(checkpoints["no_recipe"])], capsys)
    assert "not a goal env" in usage_error([str(checkpoints["recipe"]), "--env", "CartPole-v1"], capsys)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a checkpoint")
    assert "garbage" in usage_error([str(garbage)], capsys)
    # as a command (before TensorFlow is imported)
    result = subprocess.run([sys.executable, "-m", "baselines_tf2.her.experiment.play", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_get_actions_takes_baselines_call(checkpoints: dict[str, Path]) -> None:
    """baselines' policy.get_actions(o, ag, g, noise_eps, random_eps, use_target_net, compute_Q) on our agent."""
    from baselines_tf2.her.her import policy_from_checkpoint
    from baselines_tf2.training.checkpoint import load_checkpoint

    path = str(checkpoints["recipe"])
    agent = policy_from_checkpoint(*load_checkpoint(path), path)
    rng = np.random.default_rng(0)
    o, ag, g = rng.normal(size=(5, 10)), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    greedy = agent.get_actions(o, ag, g)
    expected = agent({"observation": o, "achieved_goal": ag, "desired_goal": g})
    np.testing.assert_allclose(greedy, expected, rtol=1e-6)
    one = agent.get_actions(o[0], ag[0], g[0])  # a batch of one comes back as one action
    assert one.shape == (4,)
    np.testing.assert_allclose(one, expected[0], rtol=1e-6)
    actions, q = agent.get_actions(o, ag, g, compute_Q=True, noise_eps=0.5)
    assert actions.shape == (5, 4) and q.shape == (5, 1)
    # Q of the actor's own (noiseless) actions, as baselines' Q_pi_tf
    np.testing.assert_allclose(q[:, 0], agent.greedy_q(agent.obs_tensor(
        {"observation": o, "achieved_goal": ag, "desired_goal": g})).numpy().ravel(), rtol=1e-5)
    _, target_q = agent.get_actions(o, ag, g, compute_Q=True, use_target_net=True)
    assert not np.allclose(target_q, q)  # one epoch of training moved the main networks off their targets
    np.random.seed(0)
    noisy = agent.get_actions(o, ag, g, noise_eps=0.2)
    assert np.all(np.abs(noisy) <= 1.0) and not np.allclose(noisy, greedy)
    np.random.seed(0)
    np.testing.assert_array_equal(agent.get_actions(o, ag, g, noise_eps=0.2), noisy)  # NumPy's global generator
    replaced = agent.get_actions(np.repeat(o, 40, 0), np.repeat(ag, 40, 0), np.repeat(g, 40, 0), random_eps=1.0)
    assert replaced.std() > 0.4  # every row uniform in [-1, 1] (std 0.58), not the actor's
    target = agent.get_actions(o, ag, g, use_target_net=True)
    assert target.shape == (5, 4)
