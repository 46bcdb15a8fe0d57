"""mixed_bfloat16 computes the same policy and losses as float32, within bfloat16's precision."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.common.learner import Minibatch
from baselines_tf2.common.policies import PolicyWithValue
from baselines_tf2.ppo2.model import PPO2Model, ppo_losses
from baselines_tf2.ppo2.ppo2 import PPO2Config

OBS_SPACE = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ACTION_SPACE = gymnasium.spaces.Discrete(4)


def twin_policies() -> tuple[PolicyWithValue, PolicyWithValue]:
    """A float32 and a mixed_bfloat16 Nature-CNN policy holding the same (float32) weights."""
    reference = PolicyWithValue(OBS_SPACE, ACTION_SPACE, "cnn", {}, precision="float32")
    fast = PolicyWithValue(OBS_SPACE, ACTION_SPACE, "cnn", {}, precision="mixed_bfloat16")
    fast.set_weights(reference.get_weights())
    return reference, fast


def batch(size: int = 64) -> Minibatch:
    rng = np.random.default_rng(0)
    return Minibatch(
        obs=tf.constant(rng.integers(0, 256, (size, 84, 84, 4), dtype=np.uint8)),
        returns=tf.constant(rng.normal(size=size).astype(np.float32)),
        masks=tf.zeros(size),
        actions=tf.constant(rng.integers(0, 4, size)),
        values=tf.constant(rng.normal(scale=0.1, size=size).astype(np.float32)),
        neglogpacs=tf.constant(np.full(size, np.log(4.0), np.float32)),
        states=tf.zeros((0, 0)),
    )


def test_bf16_weights_stay_float32_and_outputs_are_float32() -> None:
    _reference, fast = twin_policies()
    assert all(variable.dtype == "float32" for variable in fast.net.weights)
    neglogp, entropy, values = fast.evaluate(batch().obs, batch().actions)
    assert neglogp.dtype == entropy.dtype == values.dtype == tf.float32


def test_bf16_policy_and_losses_match_float32_within_tolerance() -> None:
    reference, fast = twin_policies()
    minibatch = batch()
    terms = {}
    for name, policy in (("fp32", reference), ("bf16", fast)):
        neglogp, entropy, values = policy.evaluate(minibatch.obs, minibatch.actions)
        terms[name] = ppo_losses(neglogp, entropy, values, minibatch, tf.constant(0.1))
        np.testing.assert_allclose(values, reference.evaluate(minibatch.obs, minibatch.actions)[2], atol=0.05)
    for field in ("policy_loss", "value_loss", "policy_entropy"):
        np.testing.assert_allclose(float(getattr(terms["bf16"], field)), float(getattr(terms["fp32"], field)),
                                   rtol=0.02, atol=2e-3, err_msg=field)


def test_bf16_train_step_traces_once_and_tracks_float32_losses() -> None:
    reference, fast = twin_policies()
    models = [PPO2Model(policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5) for policy in (reference, fast)]
    first = [model.train_step(batch(), tf.constant(0.1)) for model in models]  # from identical weights
    for field in ("value_loss", "policy_entropy"):
        assert float(first[1][field]) == pytest.approx(float(first[0][field]), rel=0.02, abs=2e-3), field
    for clip in (0.08, 0.05):
        models[1].train_step(batch(), tf.constant(clip))
    assert models[1].train_step.experimental_get_tracing_count() == 1


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        PPO2Config(precision="float16")
