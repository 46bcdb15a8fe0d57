"""baselines' common/tests/util.py without TensorFlow: `simple_test`, `reward_per_episode_test` and `rollout`.

baselines built each model in a fresh tf.Graph and tf.Session and called tf.set_random_seed(0); here learn(seed=...)
seeds TensorFlow and models share no graph, so those lines are gone. An env is seeded with reset(seed=0) where
baselines called env.seed(0), and the one-env VecEnv's reward and done arrays are read at index 0 where baselines
let float() and `if done:` unwrap them. The rest is baselines' code.
"""

from __future__ import annotations

from typing import Any, Callable

import gymnasium
import numpy as np

from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv

N_TRIALS = 10000
N_EPISODES = 100

EnvFn = Callable[[], gymnasium.Env]
LearnFn = Callable[[DummyVecEnv], Any]


def simple_test(env_fn: EnvFn, learn_fn: LearnFn, min_reward_fraction: float, n_trials: int = N_TRIALS) -> None:
    """Train on one env seeded 0, then sample actions for `n_trials` steps; their rewards must sum to more than
    `min_reward_fraction * n_trials`."""

    def seeded_env_fn() -> gymnasium.Env:
        env = env_fn()
        env.reset(seed=0)
        return env

    np.random.seed(0)
    env = DummyVecEnv([seeded_env_fn])
    model = learn_fn(env)
    sum_rew = 0.0
    done = True
    for _ in range(n_trials):
        if done:
            obs = env.reset()
            state = model.initial_state
        if state is not None:
            a, _v, state, _ = model.step(obs, S=state, M=[False])
        else:
            a, _v, _, _ = model.step(obs)
        obs, rew, dones, _ = env.step(a)
        done = bool(dones[0])
        sum_rew += float(rew[0])
    print(f"Reward in {n_trials} trials is {sum_rew}")
    assert sum_rew > min_reward_fraction * n_trials, \
        f"sum of rewards {sum_rew} is less than {min_reward_fraction} of the total number of trials {n_trials}"


def reward_per_episode_test(env_fn: EnvFn, learn_fn: LearnFn, min_avg_reward: float,
                            n_trials: int = N_EPISODES) -> None:
    """Train on one env, then play `n_trials` episodes sampling actions; their mean return must exceed
    `min_avg_reward`."""
    env = DummyVecEnv([env_fn])
    model = learn_fn(env)
    _observations, _actions, rewards = rollout(env, model, n_trials)
    avg_rew = sum(sum(r) for r in rewards) / n_trials
    print(f"Average reward in {n_trials} episodes is {avg_rew}")
    assert avg_rew > min_avg_reward, \
        f"average reward in {n_trials} episodes ({avg_rew}) is less than {min_avg_reward}"


def rollout(env: DummyVecEnv, model: Any, n_trials: int) -> tuple[list[list[Any]], list[list[Any]], list[list[float]]]:
    """Play `n_trials` episodes on a one-env VecEnv; each episode's observations, actions and rewards."""
    rewards = []
    actions = []
    observations = []
    for _ in range(n_trials):
        obs = env.reset()
        state = model.initial_state if hasattr(model, "initial_state") else None
        episode_rew = []
        episode_actions = []
        episode_obs = []
        while True:
            if state is not None:
                a, _v, state, _ = model.step(obs, S=state, M=[False])
            else:
                a, _v, _, _ = model.step(obs)
            obs, rew, done, _ = env.step(a)
            episode_rew.append(float(rew[0]))
            episode_actions.append(a)
            episode_obs.append(obs)
            if done[0]:
                break
        rewards.append(episode_rew)
        actions.append(episode_actions)
        observations.append(episode_obs)
    return observations, actions, rewards
