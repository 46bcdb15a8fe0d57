"""baselines' deepq/experiments/train_cartpole.py, enjoy_cartpole.py and train_pong.py, with only the renames
(gym -> gymnasium, baselines -> baselines_tf2) and gymnasium's reset/step, and total_timesteps cut (CartPole from
100000, Pong from 1e7) so the file runs in seconds. Each test names the baselines file it mirrors."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import deepq

# baselines' scripts make CartPole-v0 (200 steps an episode), which gymnasium still registers but calls out of date
pytestmark = pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date:DeprecationWarning")
TRAIN_TIMESTEPS = 1200  # baselines: 100000; past learning_starts (1000), so 200 gradient steps are taken


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """baselines/deepq/experiments/train_cartpole.py: its callback, learn() call and `act.save`."""
    seen: list[tuple[int, int]] = []

    def callback(lcl: dict[str, Any], _glb: dict[str, Any]) -> bool:
        # stop training if reward exceeds 199
        is_solved = lcl['t'] > 100 and sum(lcl['episode_rewards'][-101:-1]) / 100 >= 199
        seen.append((lcl['t'], len(lcl['episode_rewards'])))
        return is_solved

    env = gymnasium.make("CartPole-v0")
    act = deepq.learn(
        env,
        network='mlp',
        lr=1e-3,
        total_timesteps=TRAIN_TIMESTEPS,
        buffer_size=50000,
        exploration_fraction=0.1,
        exploration_final_eps=0.02,
        print_freq=10,
        callback=callback
    )
    path = tmp_path_factory.mktemp("train_cartpole") / "cartpole_model.pkl"
    act.save(str(path))
    return {"act": act, "path": path, "seen": seen}


def enjoy(act: Any, episodes: int) -> list[float]:
    """baselines/deepq/experiments/enjoy_cartpole.py's loop (without env.render), for a few episodes."""
    env = gymnasium.make("CartPole-v0")
    rewards = []
    for episode in range(episodes):
        (obs, _), done = env.reset(seed=episode), False
        episode_rew = 0.0
        while not done:
            obs, rew, terminated, truncated, _ = env.step(act(obs[None])[0])
            done = terminated or truncated
            episode_rew += rew
        rewards.append(episode_rew)
    return rewards


def test_train_cartpole_calls_the_callback_with_t_and_episode_rewards_and_saves(trained: dict[str, Any]) -> None:
    """baselines/deepq/experiments/train_cartpole.py"""
    seen = trained["seen"]
    assert [t for t, _ in seen] == list(range(TRAIN_TIMESTEPS))  # once per step: the CartPole was not solved
    assert seen[-1][1] >= 2  # episodes ended; the list keeps the running one last, as baselines' did
    assert trained["path"].is_file()


def test_enjoy_cartpole_reloads_the_saved_act_and_plays(trained: dict[str, Any]) -> None:
    """baselines/deepq/experiments/enjoy_cartpole.py"""
    env = gymnasium.make("CartPole-v0")
    act = deepq.learn(env, network='mlp', total_timesteps=0, load_path=str(trained["path"]))
    rewards = enjoy(act, episodes=3)
    assert len(rewards) == 3 and all(1 <= reward <= 200 for reward in rewards)  # CartPole-v0 ends at 200
    observations = np.random.default_rng(0).uniform(-0.2, 0.2, size=(16, 4)).astype(np.float32)
    np.testing.assert_array_equal(act(observations, stochastic=False),
                                  trained["act"](observations, stochastic=False))


def test_enjoy_with_buffer_size_zero_loads_but_cannot_train(trained: dict[str, Any]) -> None:
    """enjoy_cartpole.py's reload with buffer_size=0: nothing is replayed when nothing is trained."""
    env = gymnasium.make("CartPole-v0")
    act = deepq.learn(env, network='mlp', total_timesteps=0, load_path=str(trained["path"]), buffer_size=0)
    assert len(enjoy(act, episodes=1)) == 1
    with pytest.raises(ValueError, match=r"buffer_size=0 keeps no transitions.*batch_size \(32\)"):
        deepq.learn(env, network='mlp', total_timesteps=100, buffer_size=0)


def test_learn_takes_a_whole_float_buffer_size_and_refuses_a_fractional_one() -> None:
    """baselines code often wrote sizes as floats (`buffer_size=5e4`); they are the ints they spell."""
    env = gymnasium.make("CartPole-v0")
    act = deepq.learn(env, network='mlp', total_timesteps=0, buffer_size=5e4)
    assert act.run_metadata["hyperparameters"]["buffer_size"] == 50000
    assert type(act.run_metadata["hyperparameters"]["buffer_size"]) is int
    with pytest.raises(ValueError, match=r"buffer_size must be an integer, got 5.5 \(a float is accepted only when "
                                         r"it is whole, e.g. 5e4\)"):
        deepq.learn(env, network='mlp', total_timesteps=0, buffer_size=5.5)


PONG_TIMESTEPS = 1200  # baselines: int(1e7)
PONG_LEARNING_STARTS = 1000  # baselines: 10000; lowered with total_timesteps so that 50 gradient steps are taken


def test_train_pong_trains_logs_saves_and_acts_on_pong_frames(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """baselines/deepq/experiments/train_pong.py's main(), renamed, with Pong shortened."""
    from baselines_tf2 import bench, logger
    from baselines_tf2.common.atari_wrappers import make_atari

    monkeypatch.setenv("OPENAI_LOGDIR", str(tmp_path / "log"))  # where the script's logger.configure() writes
    monkeypatch.chdir(tmp_path)  # where its model.save('pong_model.pkl') writes
    try:
        logger.configure()
        env = make_atari('PongNoFrameskip-v4')
        env = bench.Monitor(env, logger.get_dir())
        env = deepq.wrap_atari_dqn(env)

        model = deepq.learn(
            env,
            "conv_only",
            convs=[(32, 8, 4), (64, 4, 2), (64, 3, 1)],
            hiddens=[256],
            dueling=True,
            lr=1e-4,
            total_timesteps=PONG_TIMESTEPS,
            buffer_size=10000,
            exploration_fraction=0.1,
            exploration_final_eps=0.01,
            train_freq=4,
            learning_starts=PONG_LEARNING_STARTS,
            target_network_update_freq=1000,
            gamma=0.99,
        )

        model.save('pong_model.pkl')
        env.close()
    finally:
        logger.reset()
    log_dir = tmp_path / "log"
    assert (tmp_path / "pong_model.pkl").is_file()
    assert (log_dir / "monitor.csv").read_text().startswith("#")  # bench.Monitor's header line, in the logger's dir
    assert "Logging to" in (log_dir / "log.txt").read_text()
    assert (log_dir / "progress.csv").is_file()  # learn() logged through the script's logger configuration
    pong = deepq.wrap_atari_dqn(make_atari('PongNoFrameskip-v4'))
    obs, _ = pong.reset(seed=0)
    frames = np.asarray(obs)[None]
    assert frames.shape == (1, 84, 84, 4) and frames.dtype == np.uint8
    greedy = model(frames, stochastic=False)
    assert greedy.shape == (1,) and 0 <= int(greedy[0]) < pong.action_space.n


def test_a_bare_env_is_logged_and_act_has_baselines_methods(tmp_path: Path) -> None:
    """A gym env without a Monitor (baselines' train_cartpole) still gets its episodes logged; callbacks find
    baselines' num_episodes and mean_100ep_reward; print_freq/checkpoint_freq=None are accepted; ActWrapper has
    save_act() (in the logger's folder), a static load_act and step(obs, stochastic=...)."""
    from baselines_tf2 import logger
    from baselines_tf2.deepq.act import ActWrapper

    seen: list[tuple[int, float]] = []

    def callback(lcl: dict[str, Any], _glb: dict[str, Any]) -> bool:
        seen.append((lcl["num_episodes"], lcl["mean_100ep_reward"]))
        return False

    with logger.scoped_configure(str(tmp_path), ["csv"]):
        act = deepq.learn(gymnasium.make("CartPole-v1"), network="mlp", seed=0, total_timesteps=400,
                          learning_starts=100, print_freq=5, checkpoint_freq=None, callback=callback, num_hidden=8)
        act.save_act()
    with open(tmp_path / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    assert rows and all(int(row["episodes"]) % 5 == 0 for row in rows)  # every 5 episodes, as print_freq says
    assert all(math.isfinite(float(row["mean 100 episode reward"])) for row in rows)
    assert seen[-1][0] >= 10 and math.isfinite(seen[-1][1])
    loaded = ActWrapper.load_act(str(tmp_path / "model.pkl"))
    obs = np.zeros((3, 4), np.float32)
    np.testing.assert_array_equal(loaded.step(obs, stochastic=False)[0], act(obs, stochastic=False))
    deepq.learn(gymnasium.make("CartPole-v1"), network="mlp", total_timesteps=0, print_freq=None, num_hidden=8)
