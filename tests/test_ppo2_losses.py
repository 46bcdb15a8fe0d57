"""PPO2 and A2C loss terms and TF1-style RMSprop against numbers worked by hand; their configs' range checks."""

from __future__ import annotations

import math

import gymnasium
import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.a2c.a2c import A2CConfig
from baselines_tf2.a2c.model import A2CModel, TF1RMSprop, a2c_losses
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.learner import Minibatch
from baselines_tf2.ppo2.model import PPO2Model, normalized_advantages, ppo_losses
from baselines_tf2.ppo2.ppo2 import PPO2Config


def _minibatch(returns: list[float], values: list[float], neglogpacs: list[float]) -> Minibatch:
    """A minibatch whose obs/actions/masks/states the loss functions do not read."""
    size = len(returns)
    return Minibatch(
        obs=tf.zeros([size, 1]),
        returns=tf.constant(returns, tf.float32),
        masks=tf.zeros([size]),
        actions=tf.zeros([size], tf.int64),
        values=tf.constant(values, tf.float32),
        neglogpacs=tf.constant(neglogpacs, tf.float32),
        states=tf.zeros([0, 0]),
    )


# Four samples, clip range 0.2. values V and returns R give advantages A = R - V = [1, -1, 1, -1]:
# mean 0, std 1, so the normalised advantages are A itself (up to the 1e-8).
VALUES = [0.0, 1.0, 2.0, 0.5]
RETURNS = [1.0, 0.0, 3.0, -0.5]
# Probability ratios pi/pi_old = [1.5, 1.5, 0.5, 0.9], from neglogpac = old - log(ratio).
RATIOS = np.array([1.5, 1.5, 0.5, 0.9])
OLD_NEGLOGP = [1.0, 1.0, 1.0, 1.0]
NEGLOGP = [1.0 - math.log(r) for r in RATIOS]
VPRED = [0.5, -1.0, 3.5, 0.4]
ENTROPY = [0.1, 0.2, 0.3, 0.4]
CLIP = 0.2


def _ppo_terms(neglogpac: tf.Tensor | None = None):
    batch = _minibatch(RETURNS, VALUES, OLD_NEGLOGP)
    neglogpac = tf.constant(NEGLOGP, tf.float32) if neglogpac is None else neglogpac
    return ppo_losses(neglogpac, tf.constant(ENTROPY), tf.constant(VPRED), batch, tf.constant(CLIP))


def test_ppo_policy_loss_clips_where_the_ratio_leaves_the_trust_region() -> None:
    # per sample max(-A * r, -A * clip(r, 0.8, 1.2)):
    #   s0: A=+1, r=1.5: max(-1.5, -1.2) = -1.2   (clipped: no credit beyond 1.2)
    #   s1: A=-1, r=1.5: max( 1.5,  1.2) =  1.5   (unclipped: the pessimistic branch)
    #   s2: A=+1, r=0.5: max(-0.5, -0.8) = -0.5   (unclipped)
    #   s3: A=-1, r=0.9: max( 0.9,  0.9) =  0.9   (inside the range)
    # mean = (-1.2 + 1.5 - 0.5 + 0.9) / 4 = 0.175
    terms = _ppo_terms()
    assert float(terms.policy_loss) == pytest.approx(0.175, abs=1e-5)
    # |r - 1| > 0.2 for s0, s1, s2
    assert float(terms.clipfrac) == pytest.approx(0.75)
    # approxkl = 0.5 * mean((log r)^2) = 0.5 * (2 * 0.405465^2 + 0.693147^2 + 0.105361^2) / 4 = 0.1025447
    assert float(terms.approxkl) == pytest.approx(0.1025447, abs=1e-5)
    assert float(terms.policy_entropy) == pytest.approx(0.25)


def test_ppo_policy_gradient_is_zero_on_clipped_samples() -> None:
    neglogpac = tf.Variable(NEGLOGP, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = _ppo_terms(neglogpac).policy_loss
    gradient = tape.gradient(loss, neglogpac).numpy()
    # d/d neglogp of -A * r / 4 with r = exp(old - neglogp) is A * r / 4 on the unclipped samples
    np.testing.assert_allclose(gradient, [0.0, -1.5 / 4, 0.5 / 4, -0.9 / 4], rtol=1e-5, atol=1e-7)


def test_ppo_value_loss_takes_the_worse_of_clipped_and_unclipped() -> None:
    # vpred_clipped = V + clip(vpred - V, -0.2, 0.2); per sample max((vpred - R)^2, (vpred_clipped - R)^2):
    #   s0: V=0,   R=1,    vpred=0.5:  clipped 0.2;  max(0.25, 0.64) = 0.64  (clipped branch)
    #   s1: V=1,   R=0,    vpred=-1.0: clipped 0.8;  max(1.00, 0.64) = 1.00  (unclipped branch)
    #   s2: V=2,   R=3,    vpred=3.5:  clipped 2.2;  max(0.25, 0.64) = 0.64  (clipped branch)
    #   s3: V=0.5, R=-0.5, vpred=0.4:  inside;       max(0.81, 0.81) = 0.81
    # value_loss = 0.5 * (0.64 + 1.0 + 0.64 + 0.81) / 4 = 0.38625
    assert float(_ppo_terms().value_loss) == pytest.approx(0.38625, abs=1e-5)


def test_normalized_advantages() -> None:
    # A = R - V = [2, 4, 6, 8]: mean 5, std sqrt(5) -> [-3, -1, 1, 3] / sqrt(5)
    normalized = normalized_advantages(tf.constant([2.0, 5.0, 8.0, 11.0]), tf.constant([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_allclose(normalized.numpy(), np.array([-3.0, -1.0, 1.0, 3.0]) / math.sqrt(5.0), rtol=1e-5)
    # equal advantages: 0 / (0 + 1e-8) = 0, not NaN
    constant = normalized_advantages(tf.constant([1.0, 1.0, 1.0]), tf.constant([0.0, 0.0, 0.0]))
    np.testing.assert_array_equal(constant.numpy(), [0.0, 0.0, 0.0])


def test_a2c_losses_use_raw_advantages() -> None:
    # A = R - V = [1, -2, 0.5] (not normalised); neglogp = [0.5, 1.0, 2.0]
    # policy_loss = mean(A * neglogp) = (0.5 - 2.0 + 1.0) / 3 = -0.5 / 3
    # value_loss = mean((vpred - R)^2) with vpred = [1, 0, 1], R = [2, -1, 1]: (1 + 1 + 0) / 3 = 2 / 3
    batch = _minibatch(returns=[2.0, -1.0, 1.0], values=[1.0, 1.0, 0.5], neglogpacs=[0.0, 0.0, 0.0])
    terms = a2c_losses(tf.constant([0.5, 1.0, 2.0]), tf.constant([0.3, 0.6, 0.9]), tf.constant([1.0, 0.0, 1.0]), batch)
    assert float(terms.policy_loss) == pytest.approx(-0.5 / 3, abs=1e-6)
    assert float(terms.value_loss) == pytest.approx(2.0 / 3, abs=1e-6)
    assert float(terms.policy_entropy) == pytest.approx(0.6, abs=1e-6)


def _one_rmsprop_step(optimizer: keras.optimizers.Optimizer, gradient: np.ndarray) -> np.ndarray:
    variable = keras.Variable(np.zeros(3, np.float32))  # from 0, so float32 keeps the step's digits
    optimizer.build([variable])
    optimizer.apply([tf.constant(gradient)], [variable])
    return -variable.numpy()


def test_tf1_rmsprop_first_step_starts_from_unit_mean_square() -> None:
    lr, rho, eps = 0.01, 0.99, 1e-5
    gradient = np.array([0.5, -2.0, 0.01], np.float32)
    change = _one_rmsprop_step(TF1RMSprop(learning_rate=lr, rho=rho, epsilon=eps), gradient)
    # TF1: ms = rho * 1 + (1 - rho) * g^2, step = lr * g / sqrt(ms + eps); e.g. for g = 0.5:
    #   ms = 0.99 + 0.01 * 0.25 = 0.9925, step = 0.01 * 0.5 / sqrt(0.99251) = 0.0050188
    expected = lr * gradient / np.sqrt(rho * 1.0 + (1.0 - rho) * gradient**2 + eps)
    np.testing.assert_allclose(change, expected, rtol=1e-5)
    assert change[0] == pytest.approx(0.0050188, rel=1e-4)
    # Keras' stock RMSprop starts the slot at 0: step = lr * g / sqrt(0.01 * g^2 + eps), about 10x larger.
    stock = _one_rmsprop_step(keras.optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps), gradient)
    assert abs(stock[0]) > 5 * abs(change[0])


@pytest.fixture(scope="module")
def cartpole_policy() -> PolicyWithValue:
    return PolicyWithValue(
        gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32), gymnasium.spaces.Discrete(2), "mlp", {"num_hidden": 16}
    )


def test_ppo2_adam_epsilon_is_baselines(cartpole_policy: PolicyWithValue) -> None:
    model = PPO2Model(cartpole_policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.epsilon == pytest.approx(1e-5)


def test_a2c_optimizer_is_tf1_rmsprop_with_alpha_and_epsilon(cartpole_policy: PolicyWithValue) -> None:
    model = A2CModel(cartpole_policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, alpha=0.95, epsilon=1e-4)
    assert isinstance(model.optimizer, TF1RMSprop)
    assert model.optimizer.rho == pytest.approx(0.95)
    assert model.optimizer.epsilon == pytest.approx(1e-4)
    # the learner builds the optimizer eagerly; every mean-square slot must start at 1
    assert all(np.all(velocity.numpy() == 1.0) for velocity in model.optimizer._velocities)


# ---- hyperparameter checks: the API raises what the CLI turns into exit status 2 ----------------------------


@pytest.mark.parametrize(
    "config_class, kwargs, error, message",
    [
        (PPO2Config, {"lr": -3e-4}, ValueError, r"lr must be a number > 0, got -0.0003"),
        (PPO2Config, {"cliprange": 0.0}, ValueError, r"cliprange must be a number > 0, got 0.0"),
        (PPO2Config, {"gamma": 1.5}, ValueError, r"gamma must be a number in \[0, 1\], got 1.5"),
        (PPO2Config, {"lam": -0.1}, ValueError, r"lam must be a number in \[0, 1\], got -0.1"),
        (PPO2Config, {"nsteps": 0}, ValueError, r"nsteps must be an integer >= 1, got 0"),
        (PPO2Config, {"noptepochs": 2.5}, ValueError,
         r"noptepochs must be an integer, got 2.5 \(a float is accepted only when it is whole"),
        (PPO2Config, {"ent_coef": -0.01}, ValueError, r"ent_coef must be a number >= 0, got -0.01"),
        (PPO2Config, {"vf_coef": -0.5}, ValueError, r"vf_coef must be a number >= 0, got -0.5"),
        (PPO2Config, {"max_grad_norm": 0.0}, ValueError, r"max_grad_norm must be a number > 0, got 0.0"),
        (PPO2Config, {"lr": "fast"}, TypeError, r"lr must be a number or a callable .*, got 'fast'"),
        (PPO2Config, {"gamma": "high"}, TypeError, r"gamma must be a number, got 'high'"),
        (A2CConfig, {"lr": 0}, ValueError, r"lr must be a number > 0, got 0"),
        (A2CConfig, {"gamma": -0.5}, ValueError, r"gamma must be a number in \[0, 1\], got -0.5"),
        (A2CConfig, {"alpha": 1.0}, ValueError, r"alpha must be a number in \[0, 1\), got 1.0"),
        (A2CConfig, {"ent_coef": -1.0}, ValueError, r"ent_coef must be a number >= 0, got -1.0"),
        (A2CConfig, {"max_grad_norm": -1.0}, ValueError, r"max_grad_norm must be a number > 0, got -1.0"),
    ],
)
def test_config_rejects_out_of_range_hyperparameters(
    config_class: type, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        config_class(**kwargs)


def test_config_accepts_schedules_and_no_clipping() -> None:
    ppo2 = PPO2Config(lr=lambda frac: 3e-4 * frac, cliprange=lambda frac: 0.2 * frac, max_grad_norm=None)
    assert ppo2.max_grad_norm is None
    assert ppo2.lr_schedule()(0.5) == pytest.approx(1.5e-4) and ppo2.cliprange(0.5) == pytest.approx(0.1)
    assert PPO2Config(lr=3e-4).lr_schedule()(0.5) == pytest.approx(3e-4)  # a number is a constant schedule
    a2c = A2CConfig(max_grad_norm=None, gamma=1.0, ent_coef=0.0)
    assert (a2c.max_grad_norm, a2c.gamma, a2c.ent_coef) == (None, 1.0, 0.0)


def test_nminibatches_that_do_not_divide_the_batch_name_the_valid_divisors() -> None:
    with pytest.raises(ValueError, match=r"5 \* 2 = 10 is not divisible by nminibatches = 4; use a divisor of 10 "
                                         r"\(1, 2, 5, 10\)"):
        PPO2Config(nsteps=5, nminibatches=4).check_batch(nenvs=2, recurrent=False)
