"""Action distributions against hand-computed numbers, and the heads that feed them."""

from __future__ import annotations

import math

import gymnasium
import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.nn.distributions import (
    BernoulliPd,
    CategoricalPd,
    DiagGaussianPd,
    MultiCategoricalPd,
    make_pd,
    make_pd_head,
)

LOGITS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_categorical_neglogp_is_minus_log_softmax() -> None:
    pd = CategoricalPd(LOGITS)
    # row 0: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2) = 0.40761; row 1: uniform over 3 -> log 3
    expected = [math.log(1 + math.exp(-1) + math.exp(-2)), math.log(3.0)]
    for dtype in (np.int32, np.int64):
        actions = np.array([2, 1], dtype)
        np.testing.assert_allclose(pd.neglogp(actions), expected, rtol=1e-6)
        np.testing.assert_allclose(pd.logp(actions), -np.asarray(expected), rtol=1e-6)


def test_categorical_rejects_float_actions() -> None:
    with pytest.raises(TypeError, match="integers"):
        CategoricalPd(LOGITS).neglogp(np.array([2.0, 1.0], np.float32))


def test_categorical_entropy_and_kl_match_hand_formulas() -> None:
    p = softmax(LOGITS)
    q_logits = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, -1.0]], np.float32)
    q = softmax(q_logits)
    pd, other = CategoricalPd(LOGITS), CategoricalPd(q_logits)
    np.testing.assert_allclose(pd.entropy(), -(p * np.log(p)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(pd.entropy()[1], math.log(3.0), rtol=1e-6)
    np.testing.assert_allclose(pd.kl(other), (p * (np.log(p) - np.log(q))).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(pd.kl(pd), [0.0, 0.0], atol=1e-6)


def test_categorical_entropy_is_finite_with_impossible_actions() -> None:
    pd = CategoricalPd(np.array([[0.0, 0.0, -np.inf]], np.float32))
    np.testing.assert_allclose(pd.entropy(), [math.log(2.0)], rtol=1e-6)


def test_categorical_mode_is_argmax_int64() -> None:
    mode = CategoricalPd(np.array([[0.1, 5.0, -1.0], [3.0, 2.0, 1.0]], np.float32)).mode()
    assert mode.dtype == tf.int64
    np.testing.assert_array_equal(mode, [1, 0])


@pytest.mark.parametrize("seeded", [True, False])
def test_categorical_sample_frequencies_match_probabilities(seeded: bool) -> None:
    probs = np.array([0.2, 0.5, 0.3], np.float32)
    pd = CategoricalPd(np.tile(np.log(probs), (20_000, 1)))
    if seeded:
        samples = pd.sample(tf.random.Generator.from_seed(0))
    else:
        tf.random.set_seed(0)
        samples = pd.sample()
    assert samples.dtype == tf.int64 and tuple(samples.shape) == (20_000,)
    # std of a frequency over 20k draws is <= 0.0036, so 0.015 is > 4 sigma
    np.testing.assert_allclose(np.bincount(samples.numpy(), minlength=3) / 20_000, probs, atol=0.015)


def test_seeded_samples_repeat_with_the_same_seed() -> None:
    pd = CategoricalPd(np.zeros((100, 6), np.float32))
    generator = tf.random.Generator.from_seed(7)
    first, next_draw = pd.sample(generator), pd.sample(generator)
    np.testing.assert_array_equal(first, pd.sample(tf.random.Generator.from_seed(7)))
    assert len(np.unique(first)) > 1
    assert not np.array_equal(first, next_draw)  # the generator advances between calls


def test_gaussian_neglogp_matches_closed_form() -> None:
    mean = np.array([[0.0, 1.0]], np.float32)
    logstd = np.array([0.0, math.log(2.0)], np.float32)
    x = np.array([[1.0, 1.0]], np.float32)
    pd = DiagGaussianPd(mean, logstd)
    # 0.5 * ((1 - 0) / 1)^2 + 0.5 * ((1 - 1) / 2)^2 + 0.5 * log(2 pi) * 2 + (0 + log 2)
    expected = 0.5 + math.log(2 * math.pi) + math.log(2.0)
    np.testing.assert_allclose(pd.neglogp(x), [expected], rtol=1e-6)
    np.testing.assert_allclose(pd.logp(x.astype(np.float64)), [-expected], rtol=1e-6)


def test_gaussian_entropy_kl_and_mode_match_hand_formulas() -> None:
    mean = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    logstd = np.array([0.5, -0.25], np.float32)  # state-independent, broadcast over the batch
    other_mean, other_logstd = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32), np.array([[0.0, 0.3]] * 2, np.float32)
    pd, other = DiagGaussianPd(mean, logstd), DiagGaussianPd(other_mean, other_logstd)
    entropy = np.sum(logstd + 0.5 * math.log(2 * math.pi * math.e)) * np.ones(2)
    np.testing.assert_allclose(pd.entropy(), entropy, rtol=1e-6)
    std, other_std = np.exp(logstd), np.exp(other_logstd)
    # per dim: log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
    kl = np.sum(np.log(other_std / std) + (std**2 + (mean - other_mean) ** 2) / (2 * other_std**2) - 0.5, -1)
    np.testing.assert_allclose(pd.kl(other), kl, rtol=1e-5)
    np.testing.assert_allclose(pd.kl(pd), [0.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(pd.mode(), mean)


def test_gaussian_samples_have_the_right_moments() -> None:
    mean, logstd = np.array([1.0, -2.0], np.float32), np.array([0.0, math.log(0.5)], np.float32)
    pd = DiagGaussianPd(np.tile(mean, (20_000, 1)), logstd)
    samples = pd.sample(tf.random.Generator.from_seed(1)).numpy()
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples.mean(0), mean, atol=0.03)
    np.testing.assert_allclose(samples.std(0), [1.0, 0.5], atol=0.03)


def test_multi_categorical_sums_its_components() -> None:
    logits = np.array([[1.0, 2.0, 3.0, 0.5, -0.5]], np.float32)  # nvec = [3, 2]
    pd = MultiCategoricalPd([3, 2], logits)
    first, second = CategoricalPd(logits[:, :3]), CategoricalPd(logits[:, 3:])
    action = np.array([[2, 1]], np.int64)
    np.testing.assert_allclose(pd.neglogp(action), first.neglogp([2]) + second.neglogp([1]), rtol=1e-6)
    np.testing.assert_allclose(pd.entropy(), first.entropy() + second.entropy(), rtol=1e-6)
    np.testing.assert_array_equal(pd.mode(), [[2, 0]])
    sample = pd.sample(tf.random.Generator.from_seed(0)).numpy()
    assert sample.shape == (1, 2) and 0 <= sample[0, 0] < 3 and 0 <= sample[0, 1] < 2


def test_bernoulli_matches_hand_formulas() -> None:
    pd = BernoulliPd(np.array([[0.0, math.log(3.0)]], np.float32))  # p = [0.5, 0.75]
    # -log 0.5 - log(1 - 0.75) = log 2 + log 4
    np.testing.assert_allclose(pd.neglogp(np.array([[1, 0]], np.int8)), [math.log(8.0)], rtol=1e-6)
    binary_entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    np.testing.assert_allclose(pd.entropy(), [math.log(2.0) + binary_entropy], rtol=1e-6)
    np.testing.assert_allclose(pd.kl(pd), [0.0], atol=1e-6)
    np.testing.assert_array_equal(pd.mode(), [[0, 1]])
    samples = BernoulliPd(np.full((20_000, 1), math.log(3.0), np.float32)).sample(tf.random.Generator.from_seed(0))
    assert samples.dtype == tf.int8
    assert abs(float(np.mean(samples)) - 0.75) < 0.015


def assert_orthogonal_columns(kernel: np.ndarray, gain: float) -> None:
    np.testing.assert_allclose(kernel.T @ kernel, gain**2 * np.eye(kernel.shape[1]), atol=1e-6)


def test_discrete_head_gives_logits_with_small_orthogonal_init() -> None:
    space = gymnasium.spaces.Discrete(6)
    head = make_pd_head(space)
    logits = head(np.ones((4, 64), np.float32))
    assert tuple(logits.shape) == (4, 6)
    kernel, bias = head.get_weights()
    assert_orthogonal_columns(kernel, 0.01)
    np.testing.assert_array_equal(bias, 0.0)
    assert isinstance(make_pd(space, logits), CategoricalPd)
    assert head.name == "pi"


def test_box_head_gives_mean_and_trainable_logstd_starting_at_zero() -> None:
    space = gymnasium.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
    head = make_pd_head(space, init_scale=0.5, name="policy")
    latent = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    with tf.GradientTape() as tape:
        mean, logstd = head(latent)
        pd = make_pd(space, (mean, logstd))
        loss = tf.reduce_sum(pd.neglogp(np.zeros((4, 3), np.float32)))
    assert isinstance(pd, DiagGaussianPd) and head.name == "policy"
    assert tuple(mean.shape) == tuple(logstd.shape) == (4, 3)
    np.testing.assert_array_equal(logstd, 0.0)
    logstd_weight = next(w for w in head.trainable_weights if w.name == "logstd")
    kernel = next(w for w in head.trainable_weights if w.name == "kernel").numpy()
    assert_orthogonal_columns(kernel, 0.5)
    # neglogp(0) = sum_j (mean_j^2 / 2 e^(2 logstd_j) + logstd_j) + const, so at logstd = 0 its gradient summed over
    # the batch is sum_b (1 - mean_bj^2)
    gradient = tape.gradient(loss, logstd_weight)
    np.testing.assert_allclose(np.reshape(gradient, -1), np.sum(1.0 - np.square(mean), axis=0), rtol=1e-5)
    assert pd.sample().dtype == tf.float32


def test_multi_discrete_and_multi_binary_heads_match_their_distributions() -> None:
    latent = np.ones((2, 8), np.float32)
    multi_discrete = gymnasium.spaces.MultiDiscrete([3, 4])
    logits = make_pd_head(multi_discrete)(latent)
    assert tuple(logits.shape) == (2, 7)
    assert isinstance(make_pd(multi_discrete, logits), MultiCategoricalPd)
    multi_binary = gymnasium.spaces.MultiBinary(5)
    logits = make_pd_head(multi_binary)(latent)
    assert tuple(logits.shape) == (2, 5)
    assert isinstance(make_pd(multi_binary, logits), BernoulliPd)


@pytest.mark.parametrize(
    ("space", "reason"),
    [
        (gymnasium.spaces.Dict({"a": gymnasium.spaces.Discrete(2)}), "Dict"),
        (gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)]), "Tuple"),
        (gymnasium.spaces.Box(-1.0, 1.0, shape=(2, 2)), "1-D"),
        (gymnasium.spaces.Discrete(3, start=1), "start at 0"),
    ],
)
def test_unsupported_spaces_raise_type_error_naming_what_works(space: gymnasium.Space, reason: str) -> None:
    for make in (lambda: make_pd_head(space), lambda: make_pd(space, np.zeros((1, 3), np.float32))):
        with pytest.raises(TypeError, match=reason) as error:
            make()
        assert "supported: Discrete, Box" in str(error.value)


def test_box_pd_needs_mean_and_logstd() -> None:
    with pytest.raises(TypeError, match="mean, logstd"):
        make_pd(gymnasium.spaces.Box(-1.0, 1.0, shape=(2,)), np.zeros((1, 2), np.float32))


@pytest.mark.parametrize(
    "space", [gymnasium.spaces.Discrete(4), gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)]
)
def test_policy_step_runs_in_tf_function_and_traces_once(space: gymnasium.Space) -> None:
    head = make_pd_head(space)
    head.build((None, 8))  # variables created eagerly: creating them inside the first trace forces a second one
    generator = tf.random.Generator.from_seed(3)

    @tf.function
    def step(latent: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        pd = make_pd(space, head(latent))
        actions = pd.sample(generator)
        return actions, pd.neglogp(actions), pd.entropy()

    for seed in (0, 1):
        latent = tf.constant(np.random.default_rng(seed).normal(size=(5, 8)), tf.float32)
        actions, neglogp, entropy = step(latent)
        assert actions.dtype == (tf.int64 if isinstance(space, gymnasium.spaces.Discrete) else tf.float32)
        np.testing.assert_allclose(neglogp, make_pd(space, head(latent)).neglogp(actions), rtol=1e-5)
        assert tuple(entropy.shape) == (5,)
    assert step.experimental_get_tracing_count() == 1


def test_head_weights_round_trip(tmp_path: object) -> None:
    space = gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    latent_in = keras.Input((8,))
    saved = keras.Model(latent_in, make_pd_head(space)(latent_in))
    saved.get_layer("pi").logstd.assign([0.3, -0.7])
    path = f"{tmp_path}/head.weights.h5"
    saved.save_weights(path)
    latent_in = keras.Input((8,))
    rebuilt = keras.Model(latent_in, make_pd_head(space)(latent_in))
    rebuilt.load_weights(path)
    latent = np.ones((1, 8), np.float32)
    for before, after in zip(saved(latent), rebuilt(latent)):
        np.testing.assert_array_equal(before, after)
