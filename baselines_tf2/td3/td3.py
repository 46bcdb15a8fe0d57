"""TD3 (Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic Methods") with a `learn()`
in baselines' style, on the training core and DDPG's replay, target and network pieces.

Three changes to DDPG, each one line below: twin critics with the smaller target (clipped double Q), target
policy smoothing (clipped Gaussian noise on the target action), and an actor and targets updated every
`policy_delay` critic updates. Each update is one compiled step.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import gymnasium
import numpy as np
import tensorflow as tf

from baselines_tf2.common.validation import require_int, require_number
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.her.replay_buffer import replay_factory
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.tf_util import CompiledFunction, apply_if_finite
from baselines_tf2.off_policy.agent import OffPolicyAgent, agent_from_checkpoint, batch_signature
from baselines_tf2.off_policy.config import TD3_SAC_NETWORK, OffPolicyConfig
from baselines_tf2.off_policy.learn import learn_off_policy, with_network_defaults
from baselines_tf2.off_policy.networks import (
    build_actor,
    build_twin_critics,
    copy_weights,
    critic_variables,
    soft_update,
)
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """TD3 hyperparameters; defaults are the authors' (github.com/sfujim/TD3: Adam 3e-4, batch 256, tau 0.005),
    with the paper's 1,000 random steps (10,000 on MuJoCo, in defaults.py)."""

    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    action_noise: float = 0.1  # std of the Gaussian exploration noise, in units of half the action range
    policy_delay: int = 2  # critic updates per actor and target update
    target_policy_noise: float = 0.2  # std of the smoothing noise on the target action
    target_noise_clip: float = 0.5  # and its clip

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("actor_lr", "critic_lr"):
            require_number(name, getattr(self, name), above=0)
        for name in ("action_noise", "target_policy_noise", "target_noise_clip"):
            require_number(name, getattr(self, name), at_least=0)
        require_int("policy_delay", self.policy_delay, minimum=1)


class TD3(OffPolicyAgent):
    """Actor, twin critics, their targets and optimizers; `train_step` is TD3's update."""

    alg = "td3"

    def __init__(self, observation_space: Any, action_space: Any, network: str, network_kwargs: Mapping[str, Any],
                 config: TD3Config, seed: int | None = None) -> None:
        self.seed = seed
        super().__init__(observation_space, action_space, network, network_kwargs, config)

    def build(self) -> None:
        sizes = (self.obs_size, self.nb_actions, self.network, self.network_kwargs)
        self.actor = build_actor(*sizes, name="actor")
        self.target_actor = build_actor(*sizes, name="target_actor")
        copy_weights(self.target_actor, self.actor)
        self.critics, self.target_critics = build_twin_critics(*sizes)
        self.actor_optimizer = FusedAdam(learning_rate=self.config.actor_lr)
        self.critic_optimizer = FusedAdam(learning_rate=self.config.critic_lr)
        self.actor_optimizer.build(self.actor.trainable_variables)
        self.critic_optimizer.build(critic_variables(self.critics))
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")  # for the policy delay
        self.generator = tf.random.Generator.from_seed(self.seed if self.seed is not None else
                                                       np.random.randint(2**31 - 1))
        self._train = CompiledFunction(self._train_step, [batch_signature(self.obs_size, self.nb_actions)])

    def variable_groups(self) -> dict[str, list[tf.Variable]]:
        return {
            "policy": self.actor.weights, "target_actor": self.target_actor.weights,
            "critic": [w for critic in self.critics for w in critic.weights],
            "target_critic": [w for critic in self.target_critics for w in critic.weights],
            "optimizer_actor": self.actor_optimizer.variables, "optimizer_critic": self.critic_optimizer.variables,
            "updates": [self.updates], "rng": [self.generator.state],
        }

    def export_critic(self) -> Any:
        return self.critics[0]

    def _deterministic_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self.actor(self.normalizer(obs))

    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The actor's actions plus N(0, action_noise) (the paper's exploration)."""
        actions = self.deterministic_actions(self.obs_tensor(obs)).numpy()
        return actions + rng.normal(0.0, self.config.action_noise, actions.shape).astype(np.float32)

    def train_step(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        return self._train(batch)

    def _train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        config = self.config
        obs0, obs1 = self.normalizer(batch["obs0"]), self.normalizer(batch["obs1"])
        rewards, terminals = batch["rewards"][:, 0], batch["terminals1"][:, 0]
        # Target policy smoothing (Fujimoto et al. 2018, sec. 5.3): the target action plus clipped noise, in range.
        noise = tf.clip_by_value(self.generator.normal(tf.shape(batch["actions"]), stddev=config.target_policy_noise),
                                 -config.target_noise_clip, config.target_noise_clip)
        next_actions = tf.clip_by_value(self.target_actor(obs1) + noise, -1.0, 1.0)
        # Clipped double Q (Fujimoto et al. 2018, sec. 4.2): the smaller of the two target critics.
        next_q = tf.minimum(*[target([obs1, next_actions]) for target in self.target_critics])
        target_q = tf.stop_gradient(rewards + (1.0 - terminals) * config.gamma * next_q)
        variables = critic_variables(self.critics)
        with tf.GradientTape() as tape:
            # the two critics' MSEs summed, as the authors' TD3.py: one Adam steps both
            critic_loss = tf.add_n([tf.reduce_mean(tf.square(critic([obs0, batch["actions"]]) - target_q))
                                    for critic in self.critics])
        gradients = tape.gradient(critic_loss, variables)
        skipped = apply_if_finite(self.critic_optimizer, gradients, variables, critic_loss,
                                  tf.linalg.global_norm(gradients))
        self.updates.assign_add(1)

        def delayed_update() -> tuple[tf.Tensor, tf.Tensor]:
            """The actor by the first critic's gradient, then every target (every policy_delay updates)."""
            with tf.GradientTape() as actor_tape:
                # Q_theta1 alone drives the actor (Fujimoto et al. 2018, Algorithm 1)
                actor_loss = -tf.reduce_mean(self.critics[0]([obs0, self.actor(obs0)]))
            actor_gradients = actor_tape.gradient(actor_loss, self.actor.trainable_variables)
            actor_skipped = apply_if_finite(self.actor_optimizer, actor_gradients, self.actor.trainable_variables,
                                            actor_loss, tf.linalg.global_norm(actor_gradients))
            soft_update(self.target_actor.weights, self.actor.weights, config.tau)
            for target, critic in zip(self.target_critics, self.critics):
                soft_update(target.weights, critic.weights, config.tau)
            return actor_loss, actor_skipped

        # NaN marks an update without an actor step; the log's mean skips it (off_policy/loop.py's _mean)
        actor_loss, actor_skipped = tf.cond(self.updates % config.policy_delay == 0, delayed_update,
                                            lambda: (tf.constant(np.nan, tf.float32), tf.constant(0.0)))
        return {"loss_critic": critic_loss, "loss_actor": actor_loss, "reference_Q_mean": tf.reduce_mean(target_q),
                "skipped": tf.maximum(skipped, actor_skipped)}


def learn(
    network: str,
    env: gymnasium.Env | VecEnv,
    seed: int | None = None,
    total_timesteps: int = 1_000_000,
    buffer_size: int = 1_000_000,
    learning_starts: int = 1000,
    batch_size: int = 256,
    tau: float = 0.005,
    gamma: float = 0.99,
    train_freq: int = 1,
    gradient_steps: int = 1,
    actor_lr: float = 3e-4,
    critic_lr: float = 3e-4,
    action_noise: float = 0.1,
    policy_delay: int = 2,
    target_policy_noise: float = 0.2,
    target_noise_clip: float = 0.5,
    normalize_observations: bool = False,
    log_interval: int = 1000,
    eval_env: gymnasium.Env | VecEnv | None = None,
    eval_freq: int = 0,
    eval_episodes: int = 10,
    checkpoint_freq: int = 50_000,
    save_replay: bool = False,
    load_path: str | None = None,
    callback: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
    precision: str = "float32",
    progress_bar: bool = False,
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    replay_buffer_class: str | type | None = None,
    replay_buffer_kwargs: dict[str, Any] | None = None,
    **network_kwargs: Any,
) -> TD3:
    """Train TD3 on `env` (Box actions) for `total_timesteps` env steps; return the agent (`agent.save(path)`).

    The first `learning_starts` steps act uniformly at random; then every `train_freq` steps (per env) come
    `gradient_steps` updates on batches of `batch_size`. With network='mlp' the torso defaults to 2 x 256 ReLU
    (the authors'), overridable by `network_kwargs`. `eval_env` is evaluated every `eval_freq` steps.
    `load_path` loads an agent, resuming its run when unfinished with the same total steps.
    `callback(locals(), globals())` returning True stops (deepq's convention).
    `replay_buffer_class=HerReplayBuffer` (`baselines_tf2.her.replay_buffer`, or its name) trains on a goal env's
    Dict observations with hindsight goals, `replay_buffer_kwargs` its n_sampled_goal and goal_selection_strategy
    (as stable-baselines3).
    """
    config = config_from_arguments(TD3Config, locals())
    venv = as_vec_env(env, seed)
    kwargs = with_network_defaults(network, network_kwargs, TD3_SAC_NETWORK)
    options = run_options_from_arguments(locals())
    agent = learn_off_policy(lambda obs_space, action_space: TD3(obs_space, action_space, network, kwargs, config,
                                                                 seed=seed),
                             venv, config, config.schedule(venv.num_envs), options, load_path=load_path,
                             eval_env=eval_env, callback=callback,
                             replay=replay_factory(venv, config.replay_buffer_class, config.replay_buffer_kwargs))
    assert isinstance(agent, TD3)
    return agent


def policy_from_checkpoint(metadata: Any, groups: Any, path: str, *, nenvs: int = 1) -> TD3:
    """The TD3 agent of a checkpoint, with its actor (registered in `baselines_tf2.algorithms`)."""
    agent = agent_from_checkpoint(TD3, TD3Config, metadata, groups, path)
    assert isinstance(agent, TD3)
    return agent
