"""GAE and the Runner's returns: hand-worked numbers, lambda = 1 as n-step returns, time-limit bootstrapping."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.math_util import discount_with_dones
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.on_policy.runner import Runner, gae_advantages


def test_gae_matches_hand_computation_with_termination_and_bootstrap() -> None:
    gamma, lam = 0.9, 0.5  # gamma * lam = 0.45
    # env 0: a new episode starts at step 2 (dones[2] = 1), so step 1 is the last step of the first episode.
    # env 1: no episode start inside the rollout, but the step after the rollout starts one (last_dones = 1).
    rewards = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 1.0]])
    values = np.array([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0], [2.0, 0.0]])
    dones = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    advantages = gae_advantages(
        rewards, values, dones, last_values=np.array([10.0, 100.0]), last_dones=np.array([0.0, 1.0]),
        gamma=gamma, lam=lam,
    )
    # env 0, backwards:
    #   t=3: bootstrap from last_values: delta = 4 + 0.9 * 10 - 2.0 = 11.0;            A3 = 11.0
    #   t=2: delta = 3 + 0.9 * values[3] - 1.5 = 3 + 1.8 - 1.5 = 3.3;                  A2 = 3.3 + 0.45 * 11.0 = 8.25
    #   t=1: step 2 starts a new episode: no bootstrap, chain cut: delta = 2 - 1.0;    A1 = 1.0
    #   t=0: delta = 1 + 0.9 * 1.0 - 0.5 = 1.4;                                        A0 = 1.4 + 0.45 * 1.0 = 1.85
    # env 1: last_dones = 1, so last_values (100) is ignored:
    #   t=3: delta = 1 - 0 = 1;  A3 = 1;  A2 = 0.45;  A1 = 0.45**2 = 0.2025;  A0 = 0.45**3 = 0.091125
    np.testing.assert_allclose(advantages[:, 0], [1.85, 1.0, 8.25, 11.0], rtol=1e-6)
    np.testing.assert_allclose(advantages[:, 1], [0.091125, 0.2025, 0.45, 1.0], rtol=1e-6)
    assert advantages.dtype == np.float32


def _nstep_returns(
    rewards: np.ndarray, starts: np.ndarray, last_value: float, last_start: float, gamma: float
) -> np.ndarray:
    """One env's returns bootstrapped from last_value, via discount_with_dones' 'episode ended here' flags."""
    ended_after = np.append(starts[1:], last_start)  # step t ends an episode iff step t + 1 starts one
    if last_start:
        return discount_with_dones(rewards, ended_after, gamma)
    return discount_with_dones(np.append(rewards, last_value), np.append(ended_after, 0.0), gamma)[:-1]


def test_gae_with_lambda_one_equals_bootstrapped_discounted_returns() -> None:
    rng = np.random.default_rng(0)
    nsteps, nenvs, gamma = 7, 3, 0.95
    rewards = rng.normal(size=(nsteps, nenvs))
    values = rng.normal(size=(nsteps, nenvs))
    dones = (rng.random((nsteps, nenvs)) < 0.3).astype(np.float64)
    last_values = rng.normal(size=nenvs)
    last_dones = np.array([0.0, 1.0, 0.0])
    returns = gae_advantages(rewards, values, dones, last_values, last_dones, gamma=gamma, lam=1.0) + values
    for env in range(nenvs):
        expected = _nstep_returns(rewards[:, env], dones[:, env], last_values[env], last_dones[env], gamma)
        np.testing.assert_allclose(returns[:, env], expected, rtol=1e-5, atol=1e-5)


class CountingEnv(gymnasium.Env):
    """Observation = steps taken this episode, reward 1 per step; terminates after `terminate_after` steps if set."""

    def __init__(self, terminate_after: int | None = None) -> None:
        self.observation_space = gymnasium.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.terminate_after = terminate_after
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        terminated = self.terminate_after is not None and self.steps >= self.terminate_after
        return np.array([self.steps], np.float32), 1.0, terminated, False, {}


class ValueIsObsPlusTen:
    """Stub model: V(obs) = 10 + obs, action 0, neglogp 0; feed-forward (no state)."""

    initial_state = None

    def step(self, obs: np.ndarray, S: Any = None, M: Any = None) -> tuple[np.ndarray, np.ndarray, None, np.ndarray]:
        return np.zeros(len(obs), np.int64), self.value(obs), None, np.zeros(len(obs), np.float32)

    def value(self, obs: np.ndarray, S: Any = None, M: Any = None) -> np.ndarray:
        return 10.0 + np.asarray(obs, np.float32)[:, 0]


def test_runner_bootstraps_through_time_limit_but_not_through_termination() -> None:
    # env 0 is cut by a 3-step time limit (truncation); env 1 terminates by itself after 3 steps.
    env = DummyVecEnv([
        lambda: gymnasium.wrappers.TimeLimit(CountingEnv(), max_episode_steps=3),
        lambda: CountingEnv(terminate_after=3),
    ])
    gamma = 0.5
    rollout = Runner(env=env, model=ValueIsObsPlusTen(), nsteps=6, gamma=gamma, lam=1.0).run()
    # Both envs see obs 0, 1, 2, (episode ends, terminal obs 3), 0, 1, 2, (ends again); rewards are all 1.
    np.testing.assert_array_equal(rollout.obs[:, 0], [0, 1, 2, 0, 1, 2] * 2)
    np.testing.assert_array_equal(rollout.masks, [0, 0, 0, 1, 0, 0] * 2)
    # env 0 (truncated): the last step's return adds gamma * V(terminal obs 3) = 0.5 * 13 = 6.5 (not V(reset obs 0)):
    #   R2 = 1 + 6.5 = 7.5,  R1 = 1 + 0.5 * 7.5 = 4.75,  R0 = 1 + 0.5 * 4.75 = 3.375; the same for steps 3..5.
    np.testing.assert_allclose(rollout.returns[:6], [3.375, 4.75, 7.5] * 2, rtol=1e-6)
    # env 1 (terminated): no bootstrap at all: R2 = 1, R1 = 1.5, R0 = 1.75.
    np.testing.assert_allclose(rollout.returns[6:], [1.75, 1.5, 1.0] * 2, rtol=1e-6)
    np.testing.assert_allclose(rollout.values, [10, 11, 12] * 4)
    env.close()


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_runner_cuts_advantage_chain_at_truncation(lam: float) -> None:
    # With lambda < 1 the advantage at the truncated step is still one-step: r + gamma * V(terminal) - V(s).
    env = DummyVecEnv([lambda: gymnasium.wrappers.TimeLimit(CountingEnv(), max_episode_steps=2)])
    gamma = 0.5
    rollout = Runner(env=env, model=ValueIsObsPlusTen(), nsteps=4, gamma=gamma, lam=lam).run()
    advantages = rollout.returns - rollout.values
    # obs 0, 1 | 0, 1; truncated step (obs 1): A = 1 + 0.5 * V(2) - V(1) = 1 + 6 - 11 = -4
    # first step (obs 0): delta = 1 + 0.5 * 11 - 10 = -3.5; A = -3.5 + 0.5 * lam * (-4)
    np.testing.assert_allclose(advantages, [-3.5 - 2.0 * lam, -4.0] * 2, rtol=1e-6)
    env.close()
