"""baselines' deepq/experiments/train_cartpole.py and enjoy_cartpole.py, with only the renames (gym -> gymnasium,
baselines -> baselines_tf2) and gymnasium's reset/step, and total_timesteps cut from 100000 so the file runs in
seconds. Each test names the baselines file it mirrors."""

from __future__ import annotations

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
