"""DDPG, TD3 and SAC: the replay memory, the noise specs, the update rules checked by hand, bad input, and learning
Pendulum (slow)."""

from __future__ import annotations

import importlib
import math
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import logger
from baselines_tf2.ddpg.noise import (
    AdaptiveParamNoiseSpec,
    NormalActionNoise,
    OrnsteinUhlenbeckActionNoise,
    parse_noise_type,
)
from baselines_tf2.off_policy.replay import Memory

CONTINUOUS = ["ddpg", "td3", "sac"]


def learn_module(alg: str) -> Any:
    return importlib.import_module(f"baselines_tf2.{alg}.{alg}")


def pendulum(seed: int = 0) -> Any:
    from baselines_tf2.common.cmd_util import make_vec_env

    return make_vec_env("Pendulum-v1", "classic_control", 1, seed=seed, force_dummy=True)


# ---- replay memory (no TensorFlow) ----------------------------------------------------------------------------


def test_memory_keeps_the_newest_transitions_and_samples_baselines_dict() -> None:
    memory = Memory(limit=3, action_shape=(2,), observation_shape=(1,), seed=0)
    for step in range(5):  # 0 and 1 are evicted
        memory.append([step], [step, -step], float(step), [step + 1], step == 4)
    assert memory.nb_entries == 3
    batch = memory.sample(200)
    assert set(batch) == {"obs0", "actions", "rewards", "obs1", "terminals1"}
    assert batch["rewards"].shape == (200, 1) and batch["terminals1"].shape == (200, 1)
    assert all(array.dtype == np.float32 for array in batch.values())
    assert set(batch["obs0"][:, 0].tolist()) == {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(batch["obs1"], batch["obs0"] + 1)  # rows stay whole
    np.testing.assert_array_equal(batch["terminals1"][:, 0], batch["obs0"][:, 0] == 4)


def test_memory_state_round_trip_continues_sampling_identically() -> None:
    memory = Memory(limit=10, action_shape=(1,), observation_shape=(2,), seed=3)
    for step in range(7):
        memory.append([step, step], [0.5], 1.0, [step, step], False)
    info, arrays = memory.state()
    copy = Memory(limit=10, action_shape=(1,), observation_shape=(2,), seed=99)
    copy.load_state(info, arrays)
    np.testing.assert_array_equal(memory.sample(5)["obs0"], copy.sample(5)["obs0"])
    with pytest.raises(ValueError, match="holds 10 transitions"):
        Memory(limit=5, action_shape=(1,), observation_shape=(2,)).load_state(info, arrays)


def test_empty_memory_refuses_to_sample() -> None:
    with pytest.raises(ValueError, match="empty"):
        Memory(limit=4, action_shape=(1,), observation_shape=(1,)).sample(2)


# ---- noise ------------------------------------------------------------------------------------------------------


def test_noise_type_specs_parse_as_baselines() -> None:
    action, param = parse_noise_type("adaptive-param_0.2", 3)
    assert action is None and isinstance(param, AdaptiveParamNoiseSpec)
    assert param.current_stddev == 0.2 and param.desired_action_stddev == 0.2
    action, param = parse_noise_type("ou_0.3,adaptive-param_0.1", 2)
    assert isinstance(action, OrnsteinUhlenbeckActionNoise) and isinstance(param, AdaptiveParamNoiseSpec)
    np.testing.assert_array_equal(action.sigma, [0.3, 0.3])
    action, param = parse_noise_type("normal_0.5", 1)
    assert isinstance(action, NormalActionNoise) and param is None
    assert parse_noise_type("none", 4) == (None, None)


@pytest.mark.parametrize("spec", ["gaussian_0.1", "normal_", "ou_x", "adaptive-param_-1", "normal_nan", ""])
def test_malformed_noise_type_names_the_valid_forms(spec: str) -> None:
    with pytest.raises(ValueError, match="valid: none, normal_<sigma>"):
        parse_noise_type(spec, 2)


def test_adaptive_parameter_noise_moves_toward_the_desired_distance() -> None:
    spec = AdaptiveParamNoiseSpec(initial_stddev=0.1, desired_action_stddev=0.2, adoption_coefficient=1.01)
    spec.adapt(0.3)  # actions moved more than desired: less weight noise
    assert spec.current_stddev == pytest.approx(0.1 / 1.01)
    spec.adapt(0.1)
    spec.adapt(0.1)
    assert spec.current_stddev == pytest.approx(0.1 * 1.01)


def test_ornstein_uhlenbeck_noise_is_correlated_and_restarts_at_x0() -> None:
    noise = OrnsteinUhlenbeckActionNoise(mu=np.zeros(1), sigma=np.ones(1), theta=0.15, dt=1e-2,
                                         rng=np.random.default_rng(0))
    samples = np.array([noise()[0] for _ in range(2000)])
    assert np.corrcoef(samples[:-1], samples[1:])[0, 1] > 0.9  # each step moves by ~sigma*sqrt(dt) = 0.1
    noise.reset()
    np.testing.assert_array_equal(noise.x_prev, [0.0])


# ---- the update rules, checked against hand-worked values ------------------------------------------------------


def test_squashed_gaussian_log_prob_matches_the_change_of_variables() -> None:
    import tensorflow as tf

    from baselines_tf2.sac.sac import squashed_sample

    mean = tf.constant([[0.3, -1.2]])
    log_std = tf.constant([[-0.5, 0.4]])
    noise = tf.constant([[1.5, -0.7]])
    action, log_prob = squashed_sample(mean, log_std, noise)
    u = mean.numpy() + np.exp(log_std.numpy()) * noise.numpy()
    # log N(u; mean, std) - log |d tanh(u)/du|, with d tanh/du = 1 - tanh(u)^2, written out per dimension
    std = np.exp(log_std.numpy())
    gaussian = -0.5 * ((u - mean.numpy()) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)
    expected = np.sum(gaussian - np.log(1 - np.tanh(u) ** 2), axis=-1)
    np.testing.assert_allclose(action.numpy(), np.tanh(u), rtol=1e-6)
    np.testing.assert_allclose(log_prob.numpy(), expected, rtol=1e-5)


def test_squashed_log_prob_stays_finite_where_tanh_saturates() -> None:
    import tensorflow as tf

    from baselines_tf2.sac.sac import squashed_sample

    _action, log_prob = squashed_sample(tf.constant([[30.0]]), tf.constant([[0.0]]), tf.constant([[0.0]]))
    assert np.isfinite(log_prob.numpy()).all()


def space_pair() -> tuple[gymnasium.Space, gymnasium.Space]:
    return (gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32),
            gymnasium.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)))


def replay_batch(seed: int = 0, size: int = 32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"obs0": rng.normal(size=(size, 3)).astype(np.float32),
            "actions": rng.uniform(-1, 1, (size, 2)).astype(np.float32),
            "rewards": rng.normal(size=(size, 1)).astype(np.float32),
            "obs1": rng.normal(size=(size, 3)).astype(np.float32),
            "terminals1": (rng.random((size, 1)) < 0.2).astype(np.float32)}


def test_actions_are_scaled_from_the_unit_box_to_the_action_bounds() -> None:
    from baselines_tf2.td3.td3 import TD3, TD3Config

    agent = TD3(*space_pair(), "mlp", {"num_hidden": 8}, TD3Config(), seed=0)
    np.testing.assert_allclose(agent.scale_actions(np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])),
                               [[-2.0, 0.0], [0.0, 0.5], [2.0, 1.0]])


def test_td3_updates_the_actor_and_targets_only_every_policy_delay_updates() -> None:
    from baselines_tf2.td3.td3 import TD3, TD3Config

    agent = TD3(*space_pair(), "mlp", {"num_hidden": 8}, TD3Config(policy_delay=2), seed=0)
    actor_before = [w.numpy().copy() for w in agent.actor.weights]
    target_before = [w.numpy().copy() for w in agent.target_critics[0].weights]
    critic_before = [w.numpy().copy() for w in agent.critics[0].weights]
    stats = agent.train_step(replay_batch())
    assert not np.isfinite(float(stats["loss_actor"]))  # no actor loss on the first update
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(agent.actor.weights, actor_before))
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(agent.target_critics[0].weights, target_before))
    assert not all(np.array_equal(w.numpy(), b) for w, b in zip(agent.critics[0].weights, critic_before))
    stats = agent.train_step(replay_batch(1))
    assert np.isfinite(float(stats["loss_actor"]))
    assert not all(np.array_equal(w.numpy(), b) for w, b in zip(agent.actor.weights, actor_before))
    # Polyak with tau: target moved by tau * (critic - target) from equal starting weights
    assert not all(np.array_equal(w.numpy(), b) for w, b in zip(agent.target_critics[0].weights, target_before))


def test_ddpg_target_networks_follow_by_polyak_averaging() -> None:
    from baselines_tf2.ddpg.ddpg import DDPGConfig
    from baselines_tf2.ddpg.ddpg_learner import DDPG

    config = DDPGConfig(tau=0.25, noise_type="none", critic_l2_reg=0.0, normalize_observations=False)
    agent = DDPG(*space_pair(), "mlp", {"num_hidden": 8}, config, seed=0)
    target_before = [w.numpy().copy() for w in agent.target_critic.weights]
    agent.train_step(replay_batch())
    for target, critic, before in zip(agent.target_critic.weights, agent.critic.weights, target_before):
        np.testing.assert_allclose(target.numpy(), 0.75 * before + 0.25 * critic.numpy(), rtol=1e-5, atol=1e-7)


def test_ddpg_action_noise_is_one_draw_per_step_for_all_envs_as_baselines() -> None:
    from baselines_tf2.ddpg.ddpg import DDPGConfig
    from baselines_tf2.ddpg.ddpg_learner import DDPG

    config = DDPGConfig(noise_type="ou_0.2", normalize_observations=False)
    agent = DDPG(*space_pair(), "mlp", {"num_hidden": 8}, config, seed=0)
    obs = np.repeat(replay_batch(size=1)["obs0"], 3, axis=0)  # three envs seeing the same observation
    greedy = agent.deterministic_actions(agent.obs_tensor(obs)).numpy()
    for _ in range(2):
        noise_before = agent.action_noise.x_prev.copy()
        actions = agent.explore(obs, np.random.default_rng(0))
        assert np.array_equal(actions[0], actions[1]) and np.array_equal(actions[1], actions[2])  # the same noise
        assert not np.array_equal(agent.action_noise.x_prev, noise_before)  # the OU process moved ...
        np.testing.assert_allclose(actions[0], np.clip(greedy[0] + agent.action_noise.x_prev, -1, 1), rtol=1e-6)
        # ... by exactly one step: the noise added is the process's newest value


def test_ddpg_critic_l2_reg_covers_the_torso_kernels_only() -> None:
    from baselines_tf2.off_policy.networks import build_critic, l2_penalty

    critic = build_critic(3, 2, "mlp", {"num_hidden": 8})
    for variable in critic.trainable_variables:
        if variable.path.startswith("output/"):
            variable.assign(np.ones(variable.shape, np.float32))  # large enough to show if it were counted
    torso_kernels = [v.numpy() for v in critic.trainable_variables
                     if v.path.startswith("mlp_fc") and v.path.endswith("kernel")]
    assert len(torso_kernels) == 2
    # baselines' setup_critic_optimizer: the weights of the hidden layers, not biases, not the output layer
    expected = 0.01 * sum(float(np.sum(np.square(kernel))) / 2 for kernel in torso_kernels)
    assert float(l2_penalty(critic, 0.01)) == pytest.approx(expected, rel=1e-5)


def test_ddpg_clip_norm_clips_each_variables_gradient_as_baselines_flatgrad() -> None:
    import keras
    import tensorflow as tf

    from baselines_tf2.ddpg.ddpg import DDPGConfig
    from baselines_tf2.ddpg.ddpg_learner import DDPG

    def gradients(clip_norm: float | None) -> Any:
        config = DDPGConfig(noise_type="none", normalize_observations=False, clip_norm=clip_norm)
        keras.utils.set_random_seed(0)  # both agents start from the same weights
        agent = DDPG(*space_pair(), "mlp", {"num_hidden": 8}, config, seed=0)
        batch = {key: tf.constant(value) for key, value in replay_batch().items()}
        return agent._gradients(batch, agent._target_q(batch))

    free, clipped = gradients(None), gradients(0.05)
    for raw, cut in zip([*free.critic, *free.actor], [*clipped.critic, *clipped.actor], strict=True):
        norm = float(tf.norm(raw))
        # per variable, not by the global norm: a variable under the limit keeps its gradient whole
        np.testing.assert_allclose(cut.numpy(), raw.numpy() * min(1.0, 0.05 / max(norm, 1e-30)), rtol=1e-5, atol=1e-8)
    norms = [float(tf.norm(raw)) for raw in [*free.critic, *free.actor]]
    assert min(norms) < 0.05 < max(norms), norms  # both cases occur, so the check above tells the two rules apart
    assert float(clipped.critic_norm) == pytest.approx(float(free.critic_norm), rel=1e-5)  # logged: before clipping


def test_popart_rescaling_keeps_the_critics_denormalized_outputs() -> None:
    import tensorflow as tf

    from baselines_tf2.ddpg.ddpg import DDPGConfig
    from baselines_tf2.ddpg.ddpg_learner import DDPG

    config = DDPGConfig(normalize_returns=True, popart=True, noise_type="none", normalize_observations=False)
    agent = DDPG(*space_pair(), "mlp", {"num_hidden": 8}, config, seed=0)
    batch = replay_batch()
    inputs = [tf.constant(batch["obs0"]), tf.constant(batch["actions"])]

    def denormalized() -> np.ndarray:
        mean, std = agent._return_mean_std()
        return (agent.critic(inputs) * std + mean).numpy()

    before = denormalized()
    agent._popart(tf.constant(np.random.default_rng(0).normal(50.0, 10.0, 64).astype(np.float32)))
    mean, std = (float(value) for value in agent._return_mean_std())
    assert mean == pytest.approx(50.0, abs=5.0) and std == pytest.approx(10.0, rel=0.3)  # statistics moved
    np.testing.assert_allclose(denormalized(), before, rtol=1e-4, atol=1e-4)


def test_sac_learns_alpha_toward_the_target_entropy() -> None:
    from baselines_tf2.sac.sac import SAC, SACConfig

    agent = SAC(*space_pair(), "mlp", {"num_hidden": 8}, SACConfig(learning_rate=1e-2), seed=0)
    assert agent.target_entropy == -2.0  # -dim(A)
    for step in range(20):
        stats = agent.train_step(replay_batch(step))
    # A fresh policy (std ~ 1 before tanh) has entropy well above -2, so alpha shrinks
    assert float(stats["entropy"]) > agent.target_entropy
    assert float(stats["ent_coef"]) < 1.0
    fixed = SAC(*space_pair(), "mlp", {"num_hidden": 8}, SACConfig(ent_coef=0.2), seed=0)
    fixed.train_step(replay_batch())
    assert float(np.exp(fixed.log_alpha.numpy())) == pytest.approx(0.2)


@pytest.mark.parametrize("ent_coef", ["automatic", "auto_-1", 0, -0.5, True])
def test_bad_ent_coef_is_refused(ent_coef: Any) -> None:
    from baselines_tf2.sac.sac import SACConfig

    with pytest.raises(ValueError, match="ent_coef must be 'auto'"):
        SACConfig(ent_coef=ent_coef)


# ---- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", CONTINUOUS)
def test_discrete_action_env_is_refused_naming_the_space(alg: str, tmp_path: Any) -> None:
    from baselines_tf2.common.cmd_util import make_vec_env

    env = make_vec_env("CartPole-v1", "classic_control", 1, seed=0, force_dummy=True)
    try:
        with logger.scoped_configure(str(tmp_path), ["csv"]), pytest.raises(ValueError, match="Box"):
            learn_module(alg).learn(network="mlp", env=env, total_timesteps=0)
    finally:
        env.close()


@pytest.mark.parametrize("alg", ["td3", "sac"])
def test_evaluations_come_every_eval_freq_steps_whatever_the_train_freq(alg: str, tmp_path: Any) -> None:
    """eval_freq=200 with 3 env steps per iteration: an evaluation after each 200 steps (6 in 1,200), not only at
    the common multiples of 200 and 3."""
    from baselines_tf2.common.vec_env import VecMonitor

    env, eval_env = pendulum(seed=0), VecMonitor(pendulum(seed=1))
    try:
        with logger.scoped_configure(str(tmp_path), ["csv"]):
            learn_module(alg).learn(network="mlp", env=env, seed=0, total_timesteps=1200, learning_starts=1200,
                                    train_freq=3, eval_env=eval_env, eval_freq=200, eval_episodes=1, num_hidden=8)
        assert eval_env.epcount == 6  # one 200-step Pendulum episode per evaluation
    finally:
        env.close()
        eval_env.close()


# ---- loading into learn() ------------------------------------------------------------------------------------

TINY = dict(seed=0, num_hidden=8)
SHORT_RUN = {"ddpg": dict(total_timesteps=100, nb_rollout_steps=50),
             "td3": dict(total_timesteps=150, learning_starts=100),
             "sac": dict(total_timesteps=150, learning_starts=100)}
LEARNING_RATES = {"ddpg": {"actor_lr": "actor_optimizer", "critic_lr": "critic_optimizer"},
                  "td3": {"actor_lr": "actor_optimizer", "critic_lr": "critic_optimizer"},
                  "sac": {"learning_rate": None}}  # argument -> the optimizer it sets (None: all of them)


def saved_agent(alg: str, folder: Any, **kwargs: Any) -> str:
    env = pendulum()
    try:
        agent = learn_module(alg).learn(network="mlp", env=env, **TINY, **SHORT_RUN[alg], **kwargs)
    finally:
        env.close()
    path = str(folder / alg)
    agent.save(path)
    return path


def loaded_agent(alg: str, path: str, **kwargs: Any) -> Any:
    env = pendulum()
    try:
        return learn_module(alg).learn(network="mlp", env=env, total_timesteps=0, load_path=path, **TINY, **kwargs)
    finally:
        env.close()


@pytest.mark.parametrize("alg", CONTINUOUS)
def test_a_loaded_agent_trains_with_the_learning_rate_given_to_learn(alg: str, tmp_path: Any) -> None:
    """The optimizers' saved state holds the learning rate the checkpoint was trained with; learn()'s applies."""
    path = saved_agent(alg, tmp_path, **{argument: 1e-3 for argument in LEARNING_RATES[alg]})
    agent = loaded_agent(alg, path, **{argument: 1e-6 for argument in LEARNING_RATES[alg]})
    for optimizer in LEARNING_RATES[alg].values():
        for loaded in [getattr(agent, optimizer)] if optimizer else list(agent.optimizers.values()):
            assert float(loaded.learning_rate.numpy()) == pytest.approx(1e-6)


def test_sac_loaded_with_a_fixed_ent_coef_uses_that_alpha(tmp_path: Any) -> None:
    path = saved_agent("sac", tmp_path)  # alpha learned from 1.0
    assert float(np.exp(loaded_agent("sac", path, ent_coef=0.05).log_alpha.numpy())) == pytest.approx(0.05)


def test_ddpg_trained_with_action_noise_loads_with_parameter_noise(tmp_path: Any) -> None:
    """The perturbed actor is exploration state: a checkpoint without one (action noise) gets a fresh one."""
    path = saved_agent("ddpg", tmp_path, noise_type="normal_0.1")
    agent = loaded_agent("ddpg", path, noise_type="adaptive-param_0.2")
    obs = np.zeros((1, 3), np.float32)
    np.testing.assert_allclose(agent(obs), loaded_agent("ddpg", path, noise_type="normal_0.1")(obs))
    assert any(not np.array_equal(actor, perturbed) for actor, perturbed in
               zip(agent.actor.get_weights(), agent.perturbed_actor.get_weights()))


@pytest.mark.parametrize("alg", ["td3", "ddpg"])
def test_a_checkpoint_with_other_observation_normalization_is_refused(alg: str, tmp_path: Any) -> None:
    from baselines_tf2.training.checkpoint import CheckpointError

    path = saved_agent(alg, tmp_path, normalize_observations=True)
    with pytest.raises(CheckpointError, match="normalize_observations=True"):
        loaded_agent(alg, path, normalize_observations=False)


@pytest.mark.parametrize("rng_state", [{"state": -1}, {"state": 10**40}])
def test_a_refused_checkpoint_changes_nothing_in_the_agent(rng_state: dict[str, Any], tmp_path: Any) -> None:
    """An out-of-range noise RNG state is found after the weights would have been assigned: the agent keeps its
    own weights, and the error is a CheckpointError."""
    import json
    import zipfile

    from baselines_tf2.training.checkpoint import CheckpointError

    path = saved_agent("ddpg", tmp_path, noise_type="ou_0.2")
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(entries["metadata.json"])
    metadata["noise"]["rng"]["state"] = {**metadata["noise"]["rng"]["state"], **rng_state}
    entries["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(tmp_path / "forged", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data, zipfile.ZIP_STORED)
    env = pendulum()
    try:
        agent = learn_module("ddpg").learn(network="mlp", env=env, total_timesteps=0, noise_type="ou_0.2", **TINY)
    finally:
        env.close()
    weights = [array.copy() for array in agent.actor.get_weights() + agent.critic.get_weights()]
    statistics, noise, timesteps = agent.normalizer.state(), agent.noise_state(), agent.timesteps
    with pytest.raises(CheckpointError, match="bad exploration noise state"):
        agent.load(str(tmp_path / "forged"))
    assert all(np.array_equal(a, b) for a, b in zip(weights, agent.actor.get_weights() + agent.critic.get_weights()))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(statistics, agent.normalizer.state()))
    assert agent.noise_state() == noise and agent.timesteps == timesteps


# ---- learning (slow) ----------------------------------------------------------------------------------------------

LEARNING = {  # each reaches the bar with a margin on this seed (DDPG: -86 at 12k steps, -88 at 10k)
    "ddpg": dict(total_timesteps=12_000, nb_train_steps=100, nb_epoch_cycles=10, noise_type="normal_0.2",
                 batch_size=128, num_hidden=64, actor_lr=1e-3, critic_l2_reg=0.0),
    "td3": dict(total_timesteps=12_000, learning_starts=1000, actor_lr=1e-3, critic_lr=1e-3, num_hidden=64),
    "sac": dict(total_timesteps=10_000, learning_starts=1000, learning_rate=1e-3, num_hidden=64),
}


@pytest.mark.slow
@pytest.mark.parametrize("alg", CONTINUOUS)
def test_learns_pendulum_to_a_mean_return_above_minus_200(alg: str, tmp_path: Any) -> None:
    """Random play scores about -1200; -200 means the pendulum is swung up and held in most episodes. Scored by 10
    episodes of the deterministic policy on a separately seeded env."""
    from baselines_tf2.training.evaluation import play_on

    env = pendulum(seed=0)
    try:
        with logger.scoped_configure(str(tmp_path), ["csv"]):
            agent = learn_module(alg).learn(network="mlp", env=env, seed=0, **LEARNING[alg])
    finally:
        env.close()
    evaluation_env = pendulum(seed=1000)
    try:
        scores, _ = play_on(evaluation_env, evaluation_env.reset(), 10, agent)
    finally:
        evaluation_env.close()
    assert np.mean(scores) >= -200, scores


@pytest.mark.parametrize("alg", CONTINUOUS)
def test_update_and_acting_trace_once_whatever_the_batch(alg: str) -> None:
    """Each update is one compiled graph, traced when the agent is built and never again (batch sizes vary)."""
    module = learn_module(alg)
    agent_class, config_class = {"ddpg": ("DDPG", "DDPGConfig"), "td3": ("TD3", "TD3Config"),
                                 "sac": ("SAC", "SACConfig")}[alg]
    if alg == "ddpg":
        from baselines_tf2.ddpg import ddpg_learner as agents
    else:
        agents = module
    agent = getattr(agents, agent_class)(*space_pair(), "mlp", {"num_hidden": 8}, getattr(module, config_class)(),
                                         seed=0)
    for size in (32, 64, 32):
        agent.train_step(replay_batch(size=size))
        agent.explore(replay_batch(size=size)["obs0"], np.random.default_rng(0))
        agent(replay_batch(size=size)["obs0"])
    assert agent._train.experimental_get_tracing_count() == 1
    assert agent.deterministic_actions.experimental_get_tracing_count() == 1


def test_off_policy_step_refuses_baselines_ddpg_positional_call() -> None:
    """baselines' DDPG `step(obs, apply_noise, compute_Q)` returned [-1, 1] actions and Q; ours returns env units,
    so that call must fail rather than bind its flags to S and M."""
    import gymnasium

    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.ddpg import ddpg

    env = DummyVecEnv([lambda: gymnasium.make("Pendulum-v1")])
    agent = ddpg.learn(network="mlp", env=env, total_timesteps=0, seed=0, num_hidden=8)
    obs = env.reset()
    actions, *_ = agent.step(obs, S=None, M=None)
    assert actions.shape == (1, 1) and abs(float(actions[0, 0])) <= 2.0
    with pytest.raises(TypeError):
        agent.step(obs, False, True)
    env.close()
