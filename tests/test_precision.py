"""mixed_bfloat16 computes the same policy, Q-values and losses as float32, within bfloat16's precision."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium
import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.deepq.act import build_act
from baselines_tf2.deepq.deepq import DQNConfig
from baselines_tf2.deepq.deepq_learner import DQNModel, TransitionBatch
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.nn.tf_util import cpu_has_native_bf16, resolve_precision
from baselines_tf2.on_policy.learner import Minibatch
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
    for model in models:
        model.set_cliprange(0.1)
    first = [model.train_step(batch()) for model in models]  # from identical weights
    for field in ("value_loss", "policy_entropy"):
        assert float(first[1][field]) == pytest.approx(float(first[0][field]), rel=0.02, abs=2e-3), field
    for clip in (0.08, 0.05):
        models[1].set_cliprange(clip)
        models[1].train_step(batch())
    assert models[1].train_step.experimental_get_tracing_count() == 1


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        PPO2Config(precision="float16")


def twin_q_models() -> tuple[DQNModel, DQNModel]:
    """A float32 and a mixed_bfloat16 DQN (baselines' Atari Q-network) holding the same float32 weights."""
    acts = [build_act(OBS_SPACE, ACTION_SPACE, "conv_only", {}, lr=1e-4, double_q=True, precision=precision)
            for precision in ("float32", "mixed_bfloat16")]
    acts[1].model.q_network.set_weights(acts[0].model.q_network.get_weights())
    acts[1].model.update_target()
    acts[0].model.update_target()
    return acts[0].model, acts[1].model


def transition_batch(size: int = 32) -> TransitionBatch:
    rng = np.random.default_rng(1)
    return TransitionBatch(
        obs=tf.constant(rng.integers(0, 256, (size, 84, 84, 4), dtype=np.uint8)),
        actions=tf.constant(rng.integers(0, 4, size)),
        rewards=tf.constant(rng.choice([0.0, 1.0], size).astype(np.float32)),
        next_obs=tf.constant(rng.integers(0, 256, (size, 84, 84, 4), dtype=np.uint8)),
        discounts=tf.fill([size], 0.99),
        weights=tf.ones([size]),
    )


def test_bf16_q_network_trains_in_bf16_within_tolerance_of_float32() -> None:
    reference, fast = twin_q_models()
    assert all(variable.dtype == "float32" for variable in fast.q_network.weights)
    minibatch = transition_batch()
    results = [model.train_step(minibatch) for model in (reference, fast)]
    assert float(results[1]["loss"]) == pytest.approx(float(results[0]["loss"]), rel=0.02, abs=1e-3)
    np.testing.assert_allclose(results[1]["td_errors"].numpy(), results[0]["td_errors"].numpy(), atol=0.03)
    assert not np.array_equal(results[1]["td_errors"].numpy(), results[0]["td_errors"].numpy())  # really bf16


def test_bf16_q_network_acts_in_float32() -> None:
    """Acting on a frame or two runs in float32 under mixed_bfloat16: the float32 model's Q-values and actions."""
    reference, fast = twin_q_models()
    obs = transition_batch(2).obs
    q_fast = fast.q_values(obs)
    assert q_fast.dtype == tf.float32
    np.testing.assert_allclose(q_fast.numpy(), reference.q_values(obs).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fast.act(obs.numpy(), 0.0), reference.act(obs.numpy(), 0.0))


def test_unknown_dqn_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        DQNConfig(precision="float16")


def fake_cpuinfo(tmp_path, flags: str) -> str:
    """A /proc/cpuinfo-shaped file whose one processor reports `flags`; its path."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test cpu\nflags\t\t: {flags}\n")
    return str(cpuinfo)


# Only AMX was measured (docs/benchmarks.md), so only amx_bf16 counts: AVX-512 BF16 alone stays float32.
CPU_FLAGS_AND_AUTO = [
    ("fpu vme avx512f avx512_bf16 amx_bf16 amx_tile", "mixed_bfloat16"),
    ("fpu vme amx_bf16 amx_tile", "mixed_bfloat16"),
    ("fpu vme avx512f avx512_bf16", "float32"),
    ("fpu vme avx512f avx2", "float32"),
]


@pytest.mark.parametrize("flags, expected", CPU_FLAGS_AND_AUTO)
def test_auto_precision_picks_bf16_only_with_amx(tmp_path, flags: str, expected: str) -> None:
    cpuinfo = fake_cpuinfo(tmp_path, flags)
    assert cpu_has_native_bf16(cpuinfo) is (expected == "mixed_bfloat16")
    assert resolve_precision("auto", cpuinfo) == expected


def test_unreadable_cpuinfo_means_float32(tmp_path) -> None:
    missing = str(tmp_path / "missing")
    assert cpu_has_native_bf16(missing) is False
    assert resolve_precision("auto", missing) == "float32"


def test_explicit_precision_ignores_the_cpu(tmp_path) -> None:
    cpuinfo = fake_cpuinfo(tmp_path, "fpu vme avx2")
    assert resolve_precision("float32", cpuinfo) == "float32"
    assert resolve_precision("mixed_bfloat16", cpuinfo) == "mixed_bfloat16"
    with pytest.raises(ValueError, match="auto, float32, mixed_bfloat16"):
        resolve_precision("float16", cpuinfo)


@pytest.mark.parametrize("action_space", [ACTION_SPACE, gymnasium.spaces.Box(-1, 1, (2,), np.float32)],
                         ids=["discrete", "box"])
def test_bf16_policy_heads_compute_in_float32(action_space: gymnasium.Space) -> None:
    """bf16 logits would round away the small changes PPO's probability ratios measure."""
    policy = PolicyWithValue(OBS_SPACE, action_space, "cnn", {}, precision="mixed_bfloat16")
    heads = [policy.net.pd_head, *policy.net.pd_head._flatten_layers(include_self=False), policy.net.value_head]
    assert all(layer.compute_dtype == "float32" for layer in heads)
    assert policy.net.torso.layers[-1].compute_dtype == "bfloat16"


def compiled_apply(optimizer: keras.optimizers.Optimizer, variables: list[keras.Variable]) -> Callable[[Any], Any]:
    """A tf.function applying a list of gradients to `variables` with `optimizer` (both bound here, once)."""
    return tf.function(lambda grads: optimizer.apply(grads, variables))


def test_fused_adam_matches_keras_adam() -> None:
    """FusedAdam's kernel takes the same steps as Keras Adam, and keeps the same slot variables."""
    rng = np.random.default_rng(0)
    shapes = [(64, 32), (32,), (3, 3, 4, 8)]
    initial = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    gradients = [[tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in shapes] for _ in range(5)]
    trained = []
    for optimizer_class in (keras.optimizers.Adam, FusedAdam):
        variables = [keras.Variable(array) for array in initial]
        optimizer = optimizer_class(learning_rate=1e-3, epsilon=1e-5)
        optimizer.build(variables)
        step = compiled_apply(optimizer, variables)
        for grads in gradients:
            step(grads)
        trained.append(([variable.numpy() for variable in variables], [v.numpy() for v in optimizer.variables]))
    (weights, slots), (fused_weights, fused_slots) = trained
    assert not np.allclose(weights[0], initial[0])
    for expected, got in zip(weights + slots, fused_weights + fused_slots):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
