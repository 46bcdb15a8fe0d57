"""Policies and the PPO2 update as compiled code: one trace per run, recurrent state handling, valid actions."""

from __future__ import annotations

import re

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.envs import BoxIdentityEnv, DiscreteIdentityEnv
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.runner import Rollout, Runner
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.ppo2.model import PPO2Model

CARTPOLE_OBS = gymnasium.make("CartPole-v1").observation_space
CARTPOLE_ACTIONS = gymnasium.spaces.Discrete(2)
ATARI_OBS = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ATARI_ACTIONS = gymnasium.spaces.Discrete(4)


def random_rollout(policy: PolicyWithValue, nbatch: int, seed: int = 0) -> Rollout:
    """A feed-forward rollout of `nbatch` random observations with the policy's own actions and values."""
    rng = np.random.default_rng(seed)
    if policy.obs_dtype == "uint8":
        obs = rng.integers(0, 256, (nbatch, *policy.obs_shape), dtype=np.uint8)
    else:
        obs = rng.normal(size=(nbatch, *policy.obs_shape)).astype(np.float32)
    actions, values, _states, neglogpacs = policy.step(obs)
    return Rollout(
        obs=obs,
        returns=(values + rng.normal(size=nbatch)).astype(np.float32),
        masks=np.zeros(nbatch, np.float32),
        actions=actions,
        values=values,
        neglogpacs=neglogpacs,
        states=None,
        episodes=[],
    )


def anneal_updates(model: PPO2Model, rollout: Rollout, nminibatches: int) -> None:
    """Three updates with a learning rate and clip range annealed as learn() anneals them."""
    rng = np.random.default_rng(0)
    for frac in (1.0, 0.6, 0.2):
        model.set_cliprange(0.2 * frac)
        model.update(rollout, lr=3e-4 * frac, noptepochs=2, nminibatches=nminibatches, rng=rng)


@pytest.mark.parametrize(
    "observation_space, action_space, network, network_kwargs, nbatch",
    [
        (CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 16}, 32),
        (ATARI_OBS, ATARI_ACTIONS, "cnn", {}, 8),
    ],
    ids=["mlp", "cnn"],
)
def test_train_step_and_acting_functions_trace_once(
    observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str, network_kwargs: dict, nbatch: int
) -> None:
    policy = PolicyWithValue(observation_space, action_space, network, network_kwargs, nenvs=8)
    model = PPO2Model(policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
    rollout = random_rollout(policy, nbatch)
    weights_before = [array.copy() for _name, array in policy.get_weights()]
    anneal_updates(model, rollout, nminibatches=2)
    assert model.train_step.experimental_get_tracing_count() == 1
    assert model.optimizer.learning_rate.numpy() == pytest.approx(3e-4 * 0.2)
    assert any(not np.array_equal(a, b) for a, (_n, b) in zip(weights_before, policy.get_weights())), "no update"
    for batch_size in (1, 8, 1):
        obs = rollout.obs[:batch_size]
        policy.step(obs)
        policy.value(obs)
        policy.act_deterministic(obs)
    assert policy._step_fn.experimental_get_tracing_count() == 1
    assert policy._value_fn.experimental_get_tracing_count() == 1
    assert policy._mode_fn.experimental_get_tracing_count() == 1


def test_step_rejects_observations_of_the_wrong_shape() -> None:
    policy = PolicyWithValue(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 8})
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        policy.step(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize(
    "space, raw, expected",
    [
        (gymnasium.spaces.Discrete(3), [0, 2], [[1, 0, 0], [0, 0, 1]]),
        (gymnasium.spaces.Discrete(3, start=-1), [-1, 1], [[1, 0, 0], [0, 0, 1]]),
        (gymnasium.spaces.MultiDiscrete([2, 3]), [[1, 0], [0, 2]], [[0, 1, 1, 0, 0], [1, 0, 0, 0, 1]]),
    ],
    ids=["discrete", "discrete_start_-1", "multidiscrete"],
)
def test_discrete_observations_reach_the_network_one_hot(space: gymnasium.Space, raw: list, expected: list) -> None:
    """baselines' encoding: Discrete one-hot counted from the space's start, MultiDiscrete the components' one-hots
    side by side; the exported model encodes the same way."""
    from baselines_tf2.nn.policies import encode_observation, observation_encoding
    from baselines_tf2.tools.inference_model import inference_model

    assert observation_encoding(space) == ((len(expected[0]),), "float32")
    np.testing.assert_array_equal(np.asarray(encode_observation(space, np.asarray(raw))), expected)
    policy = PolicyWithValue(space, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 8})
    exported = inference_model(policy)(np.asarray(raw, np.int32))
    greedy, _state = policy.act_deterministic(np.asarray(raw))
    np.testing.assert_array_equal(np.asarray(exported["actions"]), greedy)


def test_common_input_encodes_box_observations_as_float32_as_baselines_to_float() -> None:
    from baselines_tf2.common.input import encode_observation

    frames = np.array([[[0, 128, 255]]], dtype=np.uint8)
    encoded = encode_observation(gymnasium.spaces.Box(0, 255, (1, 3), np.uint8), frames)
    assert encoded.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(encoded), [[[0.0, 128.0, 255.0]]])  # cast, not scaled
    positions = np.array([[0.5, -1.5]], dtype=np.float64)
    assert encode_observation(gymnasium.spaces.Box(-2, 2, (2,), np.float64), positions).dtype == "float32"
    one_hot = encode_observation(gymnasium.spaces.Discrete(3), np.array([2]))
    np.testing.assert_array_equal(np.asarray(one_hot), [[0.0, 0.0, 1.0]])


def test_multidiscrete_observations_not_starting_at_0_are_refused_naming_the_rule() -> None:
    with pytest.raises(TypeError, match="MultiDiscrete observations must be 1-D and start at 0"):
        PolicyWithValue(gymnasium.spaces.MultiDiscrete([2, 3], start=[1, 0]), CARTPOLE_ACTIONS, "mlp", {})


def test_one_observation_without_its_batch_axis_is_a_batch_of_one() -> None:
    """baselines' `model.step(obs)` took a single observation; so do the policies and deepq's act."""
    from baselines_tf2.deepq import deepq

    policy = PolicyWithValue(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 8})
    obs = np.zeros(4, np.float32)
    actions, values, _states, neglogp = policy.step(obs)
    assert actions.shape == values.shape == neglogp.shape == (1,)
    act = deepq.learn(gymnasium.make("CartPole-v1"), network="mlp", total_timesteps=0, seed=0, num_hidden=8)
    assert act(obs).shape == act(obs[None]).shape == (1,)
    assert act(obs, stochastic=False) == act(obs[None], stochastic=False)


def test_discrete_actions_lie_in_the_action_space() -> None:
    env = DiscreteIdentityEnv(dim=5)
    policy = PolicyWithValue(env.observation_space, env.action_space, "mlp", {"num_hidden": 8})
    obs = np.arange(5).repeat(20)
    actions, values, states, neglogp = policy.step(obs)
    assert actions.shape == (100,) and np.issubdtype(actions.dtype, np.integer)
    assert all(env.action_space.contains(int(a)) for a in actions)
    assert len(set(actions.tolist())) > 1, "sampling from a near-uniform policy should give several actions"
    assert values.shape == (100,) and neglogp.shape == (100,) and states is None
    np.testing.assert_allclose(neglogp, np.log(5.0), atol=0.1)  # policy head gain 0.01: near uniform at init
    greedy, _state = policy.act_deterministic(obs)
    assert all(env.action_space.contains(int(a)) for a in greedy)


def test_box_actions_have_the_action_space_shape_and_dtype() -> None:
    env = BoxIdentityEnv(shape=(2,))
    policy = PolicyWithValue(env.observation_space, env.action_space, "mlp", {"num_hidden": 8})
    obs = np.random.default_rng(0).uniform(-1, 1, (50, 2)).astype(np.float32)
    actions, _values, _states, neglogp = policy.step(obs)
    # sampled Gaussian actions may leave [-1, 1] (baselines does not clip them); shape and dtype must match
    assert actions.shape == (50, 2) and actions.dtype == np.float32
    assert np.all(np.isfinite(actions)) and np.all(np.isfinite(neglogp))
    greedy, _state = policy.act_deterministic(obs)
    assert greedy.shape == (50, 2) and greedy.dtype == np.float32


# ---- recurrent policies -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lstm_policy() -> PolicyWithValue:
    return PolicyWithValue(CARTPOLE_OBS, CARTPOLE_ACTIONS, "lstm", {"nlstm": 8}, nenvs=4)


def test_lstm_step_carries_state_and_masks_reset_it(lstm_policy: PolicyWithValue) -> None:
    policy = lstm_policy
    state0 = policy.initial_state
    assert state0.shape == (4, policy.state_size) and policy.state_size == 16 and not state0.any()
    obs = np.random.default_rng(1).normal(size=(4, 4)).astype(np.float32)
    no_starts, starts = np.zeros(4, np.float32), np.ones(4, np.float32)
    _actions, _values, state1, _neglogp = policy.step(obs, S=state0, M=no_starts)
    assert state1.shape == state0.shape and np.abs(state1).max() > 1e-3
    fresh = policy.value(obs, S=state0, M=no_starts)
    carried = policy.value(obs, S=state1, M=no_starts)
    reset = policy.value(obs, S=state1, M=starts)
    assert np.abs(carried - fresh).max() > 1e-4, "the carried state should change the value"
    np.testing.assert_allclose(reset, fresh, rtol=1e-5, atol=1e-6)
    # a mask resets only its own env
    mixed = policy.value(obs, S=state1, M=np.array([1, 0, 1, 0], np.float32))
    np.testing.assert_allclose(mixed[[0, 2]], fresh[[0, 2]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed[[1, 3]], carried[[1, 3]], rtol=1e-5, atol=1e-6)


def test_lstm_evaluate_on_sequences_matches_stepping(lstm_policy: PolicyWithValue) -> None:
    # The training path (whole env sequences, env-major) must see the same states as acting step by step.
    policy = lstm_policy
    rng = np.random.default_rng(2)
    nsteps, nenvs = 5, 4
    obs = rng.normal(size=(nsteps, nenvs, 4)).astype(np.float32)
    masks = np.zeros((nsteps, nenvs), np.float32)
    masks[3, 1] = masks[2, 3] = 1.0  # episodes start mid-sequence in envs 1 and 3
    state = start_state = rng.normal(scale=0.5, size=(nenvs, policy.state_size)).astype(np.float32)
    actions, values, neglogps = [], [], []
    for t in range(nsteps):
        step_actions, step_values, state, step_neglogp = policy.step(obs[t], S=state, M=masks[t])
        actions.append(step_actions)
        values.append(step_values)
        neglogps.append(step_neglogp)

    def env_major(array: np.ndarray) -> np.ndarray:
        return np.asarray(array).swapaxes(0, 1).reshape(nsteps * nenvs, *np.asarray(array).shape[2:])

    neglogp, _entropy, seq_values = policy.evaluate(env_major(obs), env_major(actions), env_major(masks), start_state)
    np.testing.assert_allclose(seq_values.numpy(), env_major(values), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(neglogp.numpy(), env_major(neglogps), rtol=1e-4, atol=1e-5)


def test_recurrent_ppo2_update_runs_and_traces_once(lstm_policy: PolicyWithValue) -> None:
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 4)
    env.seed(0)
    model = PPO2Model(lstm_policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)
    rollout = Runner(env=env, model=model, nsteps=8, gamma=0.99, lam=0.95).run()
    assert rollout.states.shape == (4, lstm_policy.state_size) and rollout.obs.shape == (32, 4)
    anneal_updates(model, rollout, nminibatches=2)
    anneal_updates(model, Runner(env=env, model=model, nsteps=8, gamma=0.99, lam=0.95).run(), nminibatches=4)
    assert model.train_step.experimental_get_tracing_count() == 1
    env.close()


def test_recurrent_learn_requires_nminibatches_to_divide_nenvs() -> None:
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 3)
    with pytest.raises(ValueError, match=r"nminibatches = 2 must divide the number of envs \(3\)"):
        ppo2.learn(network="lstm", env=env, total_timesteps=48, nsteps=4, nminibatches=2, nlstm=8)
    env.close()


def test_ppo2_update_equals_one_train_step_per_shuffled_minibatch_in_order() -> None:
    """update() runs its minibatch steps in one compiled loop: the same steps, in the same order, as calling
    train_step on each shuffled minibatch."""
    models = [PPO2Model(PolicyWithValue(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 16}, seed=0),
                        ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5) for _ in range(2)]
    models[1].policy.set_weights(models[0].policy.get_weights())
    rollout = random_rollout(models[0].policy, 32)
    for model in models:
        model.set_cliprange(0.2)
    stats = models[0].update(rollout, lr=1e-2, noptepochs=3, nminibatches=4, rng=np.random.default_rng(5))
    reference = models[1]
    reference.set_learning_rate(1e-2)
    rng = np.random.default_rng(5)
    losses = []
    for _ in range(3):
        for steps, envs in reference.minibatch_indices(rng, rollout, 4):
            losses.append(float(reference.train_step(reference._as_minibatch(rollout, steps, envs))["policy_loss"]))
    assert stats["policy_loss"] == pytest.approx(np.mean(losses), rel=1e-4, abs=1e-6)
    for (_name, fused), (_same, stepwise) in zip(models[0].policy.get_weights(), reference.policy.get_weights()):
        np.testing.assert_allclose(fused, stepwise, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("given, named", [
    ((84, 84), "(84, 84)"),  # one frame without its stack
    ((2, 84, 84, 3), "(84, 84, 3)"),  # a batch of another stack
    ((28224,), "(28224,)"),  # one flattened observation
])
def test_observations_of_another_shape_are_named_as_given(given: tuple[int, ...], named: str) -> None:
    from baselines_tf2.common.validation import observation_batch

    assert observation_batch(np.zeros((84, 84, 4)), (84, 84, 4)).shape == (1, 84, 84, 4)
    with pytest.raises(ValueError, match=rf"observations of shape {re.escape(named)} given to a policy built for "
                                         rf"\(84, 84, 4\)"):
        observation_batch(np.zeros(given), (84, 84, 4))
