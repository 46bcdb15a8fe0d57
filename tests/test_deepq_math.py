"""DQN math with hand-worked numbers: Huber loss, (double-)Q targets, the weighted loss, clipping, target sync, tracing.

A linear Q-network with weights set by hand (Q(s) = s @ W, no hidden layers) makes every Q-value known.
"""

from __future__ import annotations

import gymnasium
import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.deepq.act import build_act
from baselines_tf2.deepq.deepq_learner import (
    DQNModel,
    TransitionBatch,
    huber_loss,
    td_targets,
)
from baselines_tf2.deepq.models import QNetwork
from baselines_tf2.nn.tf_util import clip_gradients_per_variable

OBS_SPACE = gymnasium.spaces.Box(-10.0, 10.0, (2,), np.float32)
# Online Q(s=[a, b]) = [a, b, 2a - b]; target Q(s=[a, b]) = [b, a, 0].
ONLINE_W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]], np.float32)
TARGET_W = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)


def linear_q_network() -> QNetwork:
    """Identity torso -> one Dense(3) head, no hidden layers, no dueling: Q(s) = s @ W + b."""
    torso = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    network = QNetwork(torso, 3, hiddens=[], dueling=False, layer_norm=False)
    network(tf.zeros([1, 2]))
    return network


def set_head(network: QNetwork, kernel: np.ndarray) -> None:
    network.action_stream.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])


def linear_model(
    *, double_q: bool, grad_norm_clipping: float | None = 10.0, optimizer: keras.optimizers.Optimizer | None = None
) -> DQNModel:
    online, target = linear_q_network(), linear_q_network()
    model = DQNModel(OBS_SPACE, online, target, lr=1e-3, double_q=double_q, grad_norm_clipping=grad_norm_clipping,
                     optimizer=optimizer)
    set_head(online, ONLINE_W)
    set_head(target, TARGET_W)
    return model


def hand_batch(weights: list[float] = (2.0, 0.5), rewards: list[float] = (1.5, 0.5)) -> TransitionBatch:
    return TransitionBatch(
        obs=tf.constant([[1.0, 2.0], [3.0, 0.0]]),  # online Q: [1, 2, 0] and [3, 0, 6]
        actions=tf.constant([1, 2], tf.int64),  # chosen Q: 2 and 6
        rewards=tf.constant(rewards, tf.float32),
        next_obs=tf.constant([[2.0, 1.0], [0.0, 1.0]]),
        discounts=tf.constant([0.9, 0.5]),
        weights=tf.constant(weights, tf.float32),
    )


def test_huber_loss_is_quadratic_inside_delta_and_linear_outside() -> None:
    x = tf.constant([0.0, 0.5, -1.0, 3.0, -2.5])
    # |x| <= 1: 0.5 x^2 -> 0, 0.125, 0.5;  |x| > 1: |x| - 0.5 -> 2.5, 2.0
    np.testing.assert_allclose(huber_loss(x).numpy(), [0.0, 0.125, 0.5, 2.5, 2.0], rtol=1e-6)
    # delta = 2: 0.5 * 1.5^2 = 1.125 inside; 2 * (3 - 1) = 4 outside
    np.testing.assert_allclose(huber_loss(tf.constant([1.5, -3.0]), delta=2.0).numpy(), [1.125, 4.0], rtol=1e-6)


def test_double_q_target_uses_the_online_argmax_evaluated_by_the_target() -> None:
    rewards = tf.constant([1.0, 0.0])
    discounts = tf.constant([0.5, 0.0])  # the second transition ended: its target is just its reward
    next_q_target = tf.constant([[1.0, 4.0, 2.0], [9.0, 9.0, 9.0]])
    next_q_online = tf.constant([[0.0, 1.0, 5.0], [1.0, 0.0, 0.0]])
    # double Q: online argmax of row 0 is action 2 (5.0); the target values it at 2.0 -> 1 + 0.5 * 2 = 2.0
    np.testing.assert_allclose(td_targets(rewards, discounts, next_q_target, next_q_online).numpy(), [2.0, 0.0])
    # plain Q: max of the target row 0 is 4.0 (action 1) -> 1 + 0.5 * 4 = 3.0
    np.testing.assert_allclose(td_targets(rewards, discounts, next_q_target, None).numpy(), [3.0, 0.0])


@pytest.mark.parametrize(
    "double_q, expected_td, expected_loss",
    [
        # next_obs [2, 1]: online Q [2, 1, 3] -> argmax 2; target Q [1, 2, 0]    -> double 0, plain max 2
        # next_obs [0, 1]: online Q [0, 1, -1] -> argmax 1; target Q [1, 0, 0]   -> double 0, plain max 1
        # double: targets 1.5 + 0.9 * 0 = 1.5 and 0.5 + 0.5 * 0 = 0.5; TD = 2 - 1.5 = 0.5, 6 - 0.5 = 5.5
        #   Huber 0.125 (inside) and 5.0 (outside); weighted 2 * 0.125 = 0.25, 0.5 * 5 = 2.5; mean 1.375
        (True, [0.5, 5.5], 1.375),
        # plain: targets 1.5 + 0.9 * 2 = 3.3 and 0.5 + 0.5 * 1 = 1.0; TD = -1.3, 5.0
        #   Huber 0.8 and 4.5; weighted 1.6 and 2.25; mean 1.925
        (False, [-1.3, 5.0], 1.925),
    ],
    ids=["double_q", "plain_q"],
)
def test_loss_gives_hand_td_errors_and_importance_weighted_huber(
    double_q: bool, expected_td: list[float], expected_loss: float
) -> None:
    model = linear_model(double_q=double_q)
    loss, td_errors, chosen_q = model.loss(hand_batch())
    np.testing.assert_allclose(chosen_q.numpy(), [2.0, 6.0], rtol=1e-6)
    np.testing.assert_allclose(td_errors.numpy(), expected_td, rtol=1e-6)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-6)


def test_clip_gradients_per_variable_rescales_each_variable_separately() -> None:
    big, small = tf.constant([30.0, 40.0]), tf.constant([[0.3, 0.4]])  # norms 50 and 0.5
    clipped, global_norm = clip_gradients_per_variable([big, small, tf.zeros([3])], 10.0)
    np.testing.assert_allclose(clipped[0].numpy(), [6.0, 8.0], rtol=1e-6)  # scaled to norm 10
    np.testing.assert_allclose(clipped[1].numpy(), [[0.3, 0.4]], rtol=1e-6)  # already below: unchanged
    np.testing.assert_array_equal(clipped[2].numpy(), [0.0, 0.0, 0.0])  # a zero gradient stays zero
    assert float(global_norm) == pytest.approx((50.0**2 + 0.5**2) ** 0.5, rel=1e-6)  # the norm before clipping


def sgd_step_changes(grad_norm_clipping: float | None) -> list[float]:
    """Norm of each variable's change after one train_step with SGD(lr=1), i.e. the norm of the applied gradient."""
    model = linear_model(
        double_q=True, grad_norm_clipping=grad_norm_clipping, optimizer=keras.optimizers.SGD(learning_rate=1.0)
    )
    variables = model.q_network.trainable_variables
    before = [v.numpy().copy() for v in variables]
    model.train_step(hand_batch(weights=[1e6, 1e6], rewards=[1e3, -1e3]))  # huge TD errors and weights
    return [float(np.linalg.norm(v.numpy() - b)) for v, b in zip(variables, before)]


def test_train_step_clips_each_applied_gradient_to_norm_10() -> None:
    clipped = sgd_step_changes(10.0)
    # The kernel's raw gradient is ~1e6; clipped, its SGD step has norm exactly 10 (the bias's too).
    assert max(clipped) == pytest.approx(10.0, rel=1e-4)
    assert all(change <= 10.0 * (1 + 1e-5) for change in clipped)
    # The same step without clipping moves far more: the check above would catch dead clipping code.
    assert max(sgd_step_changes(None)) > 1e4


def test_adam_uses_baselines_epsilon() -> None:
    assert linear_model(double_q=True).optimizer.epsilon == pytest.approx(1e-8)


def test_train_step_leaves_target_alone_and_update_target_copies_exactly() -> None:
    model = linear_model(double_q=True)
    target_before = [w.numpy().copy() for w in model.target_network.weights]
    online_before = [w.numpy().copy() for w in model.q_network.weights]
    for _ in range(3):
        model.train_step(hand_batch())
    for weight, before in zip(model.target_network.weights, target_before):
        np.testing.assert_array_equal(weight.numpy(), before)
    assert any(not np.array_equal(w.numpy(), b) for w, b in zip(model.q_network.weights, online_before))
    model.update_target()
    for target, online in zip(model.target_network.weights, model.q_network.weights):
        np.testing.assert_array_equal(target.numpy(), online.numpy())


def test_train_step_traces_once_over_several_calls() -> None:
    model = linear_model(double_q=True)
    for scale in (1.0, 2.0, 3.0):
        model.train_step(hand_batch(weights=[scale, 1.0], rewards=[scale, 0.0]))
    assert model.train_step.experimental_get_tracing_count() == 1


@pytest.fixture(scope="module")
def cartpole_act():
    env = gymnasium.make("CartPole-v1")
    return build_act(env.observation_space, env.action_space, "mlp", {"num_hidden": 16, "hiddens": [16]},
                     lr=1e-3, double_q=True)


def test_act_traces_once_across_batch_sizes_and_epsilons(cartpole_act) -> None:
    rng = np.random.default_rng(0)
    for batch_size, epsilon in ((1, 0.0), (5, 0.5), (1, 1.0), (5, 0.02)):
        cartpole_act(rng.normal(size=(batch_size, 4)).astype(np.float32), update_eps=epsilon)
        cartpole_act(rng.normal(size=(batch_size, 4)), stochastic=False)  # float64 in: cast, not retraced
    assert cartpole_act.model.greedy_actions.experimental_get_tracing_count() == 1


def test_epsilon_zero_is_argmax_and_epsilon_one_is_uniform() -> None:
    keras.utils.set_random_seed(0)
    model = linear_model(double_q=True)
    obs = model.obs_tensor(np.random.default_rng(1).normal(size=(300, 2)))
    greedy = model.act(obs, 0.0)
    np.testing.assert_array_equal(greedy, np.argmax(model.q_values(obs).numpy(), axis=1))
    assert set(greedy) == {1, 2}  # Q = [a, b, 2a - b]: a > b makes 2a - b the largest, a < b makes b
    one_state = model.obs_tensor(np.tile([[1.0, 2.0]], (6000, 1)))  # greedy would always pick action 1
    frequencies = np.bincount(model.act(one_state, 1.0), minlength=3) / 6000
    np.testing.assert_allclose(frequencies, [1 / 3] * 3, atol=0.03)


def test_fully_exploring_steps_skip_the_network(cartpole_act) -> None:
    """With epsilon 1 every action is random, so the Q-network is never run (most early DQN steps)."""
    calls = []
    model = cartpole_act.model
    original = model.greedy_actions
    model.greedy_actions = lambda obs: calls.append(obs) or original(obs)
    try:
        for _ in range(50):
            model.act(np.zeros((1, 4), np.float32), 1.0)
        assert not calls
        model.act(np.zeros((1, 4), np.float32), 0.0)
        assert len(calls) == 1
    finally:
        model.greedy_actions = original
