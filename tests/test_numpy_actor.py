"""Rollouts of small MLP policies act through a NumPy snapshot: it must be the same policy as the TensorFlow one."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from baselines_tf2.nn.numpy_actor import NumpyActor
from baselines_tf2.nn.policies import PolicyWithValue

BOX_OBS = gymnasium.spaces.Box(-5.0, 5.0, (6,), np.float64)
CASES = {
    "gaussian, copied value torso": (gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32), {}, "copy"),
    "gaussian, layer norm, relu": (gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32),
                                   {"layer_norm": True, "activation": "relu"}, "shared"),
    "categorical": (gymnasium.spaces.Discrete(4), {"num_hidden": 16}, "shared"),
}


def perturbed_policy(action_space: gymnasium.Space, network_kwargs: dict, value_network: str) -> PolicyWithValue:
    """An MLP policy whose every weight is random and O(1), so the heads' outputs are far from their init."""
    policy = PolicyWithValue(BOX_OBS, action_space, "mlp", network_kwargs, value_network=value_network, seed=3)
    rng = np.random.default_rng(0)
    policy.set_weights([rng.normal(0.0, 0.5, array.shape).astype(np.float32) for _name, array in policy.get_weights()])
    return policy


@pytest.mark.parametrize("case", CASES)
def test_snapshot_values_and_log_probabilities_equal_the_tensorflow_policy(case: str) -> None:
    policy = perturbed_policy(*CASES[case])
    obs = np.random.default_rng(1).uniform(-2, 2, (5, 6))
    actor = policy.rollout_actor(steps=1, nenvs=5)
    assert isinstance(actor, NumpyActor)
    actions, values, states, neglogp = actor.step(obs)
    assert states is None
    np.testing.assert_allclose(values, policy.value(obs), rtol=1e-5, atol=1e-5)
    tf_neglogp, _entropy, tf_values = policy.evaluate(obs.astype(np.float32), actions)
    np.testing.assert_allclose(neglogp, tf_neglogp.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(actor.value(obs), tf_values.numpy(), rtol=1e-5, atol=1e-5)
    assert actions.dtype == (np.float32 if isinstance(policy.action_space, gymnasium.spaces.Box) else np.int64)


@pytest.mark.parametrize("case", CASES)
def test_snapshot_samples_follow_the_policy_distribution(case: str) -> None:
    policy = perturbed_policy(*CASES[case])
    draws = 4000
    obs = np.full((1, 6), 0.7)
    actor = policy.rollout_actor(steps=draws, nenvs=1)
    actions = np.concatenate([actor.step(obs)[0] for _ in range(draws)])
    if isinstance(policy.action_space, gymnasium.spaces.Box):
        mean = policy.act_deterministic(obs)[0][0]
        std = np.exp(policy.net.pd_head.logstd.numpy())
        np.testing.assert_allclose(actions.mean(axis=0), mean, atol=5 * std.max() / np.sqrt(draws))
        np.testing.assert_allclose(actions.std(axis=0), std, rtol=0.08)
    else:
        all_actions = np.arange(policy.action_space.n)
        probabilities = np.exp(-policy.evaluate(np.repeat(obs, len(all_actions), 0).astype(np.float32),
                                                all_actions)[0].numpy())
        frequencies = np.bincount(actions, minlength=len(all_actions)) / draws
        np.testing.assert_allclose(frequencies, probabilities, atol=5 * np.sqrt(0.25 / draws))


def test_snapshot_noise_runs_out_after_its_steps() -> None:
    actor = perturbed_policy(*CASES["categorical"]).rollout_actor(steps=2, nenvs=1)
    obs = np.zeros((1, 6))
    actor.step(obs)
    actor.step(obs)
    with pytest.raises(RuntimeError, match="covers 2 steps"):
        actor.step(obs)


@pytest.mark.parametrize("network, kwargs, precision", [
    ("lstm", {"nlstm": 8}, "float32"),
    ("mlp", {"activation": "gelu"}, "float32"),
    ("mlp", {}, "mixed_bfloat16"),
])
def test_policies_without_an_exact_numpy_twin_act_through_tensorflow(network: str, kwargs: dict,
                                                                     precision: str) -> None:
    policy = PolicyWithValue(BOX_OBS, gymnasium.spaces.Discrete(3), network, kwargs, precision=precision)
    assert policy.rollout_actor(steps=4, nenvs=1) is policy
