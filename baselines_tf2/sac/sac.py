"""SAC (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications") with a `learn()` in baselines' style,
on the training core and DDPG's replay, target and network pieces.

A tanh-squashed Gaussian actor maximizes Q minus alpha times its log-probability; twin critics learn the soft
Q-function with the smaller target; alpha is tuned so the policy's entropy stays near `target_entropy`
(-dim(A) by default). The entropy coefficient, critic, actor and target updates are one compiled step.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

import gymnasium
import keras
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
from baselines_tf2.off_policy.networks import build_gaussian_actor, build_twin_critics, critic_variables, soft_update
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES

LOG_2PI = math.log(2.0 * math.pi)


def parse_ent_coef(ent_coef: str | float) -> tuple[bool, float]:
    """(learned?, initial value) of 'auto', 'auto_<init>' or a fixed positive number; ValueError otherwise."""
    if isinstance(ent_coef, str) and (ent_coef == "auto" or ent_coef.startswith("auto_")):
        initial = 1.0 if ent_coef == "auto" else _positive_float(ent_coef[len("auto_"):])
        if initial is not None:
            return True, initial
    elif not isinstance(ent_coef, (bool, str)):
        value = _positive_float(ent_coef)
        if value is not None:
            return False, value
    raise ValueError(f"ent_coef must be 'auto', 'auto_<initial value>' or a positive number, got {ent_coef!r}")


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def squashed_sample(mean: tf.Tensor, log_std: tf.Tensor, noise: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(tanh(u), log pi(tanh(u))) for u = mean + std * noise: the Gaussian's log-density minus the tanh's log-Jacobian
    sum(log(1 - tanh(u)^2)), written as 2 (log 2 - u - softplus(-2u)) to stay finite (SAC paper, appendix C)."""
    u = mean + tf.exp(log_std) * noise
    gaussian = tf.reduce_sum(-0.5 * tf.square(noise) - log_std - 0.5 * LOG_2PI, axis=-1)
    log_jacobian = tf.reduce_sum(2.0 * (math.log(2.0) - u - tf.nn.softplus(-2.0 * u)), axis=-1)
    return tf.tanh(u), gaussian - log_jacobian


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """SAC hyperparameters; defaults are the paper's (Haarnoja et al. 2018b, table 1: Adam 3e-4 for every network,
    batch 256, tau 0.005, target entropy -dim(A)), with 1,000 random steps (10,000 on MuJoCo, in defaults.py)."""

    learning_rate: float = 3e-4
    ent_coef: str | float = "auto"  # 'auto' (learned from 1.0), 'auto_<initial>' or a fixed alpha
    target_entropy: str | float = "auto"  # 'auto' = -dim(A)
    target_update_interval: int = 1  # updates between target updates

    def __post_init__(self) -> None:
        super().__post_init__()
        require_number("learning_rate", self.learning_rate, above=0)
        parse_ent_coef(self.ent_coef)
        if self.target_entropy != "auto" and (isinstance(self.target_entropy, (bool, str))
                                              or not math.isfinite(float(self.target_entropy))):
            raise ValueError(f"target_entropy must be 'auto' (-dim(A)) or a number, got {self.target_entropy!r}")
        require_int("target_update_interval", self.target_update_interval, minimum=1)


class SAC(OffPolicyAgent):
    """Squashed Gaussian actor, twin critics, their targets, log alpha and optimizers; `train_step` is SAC's."""

    alg = "sac"
    actor_builder = staticmethod(build_gaussian_actor)  # mean and log std, squashed by the tanh when acting

    def __init__(self, observation_space: Any, action_space: Any, network: str, network_kwargs: Mapping[str, Any],
                 config: SACConfig, seed: int | None = None) -> None:
        self.seed = seed
        super().__init__(observation_space, action_space, network, network_kwargs, config)

    def build(self) -> None:
        config = self.config
        sizes = (self.obs_size, self.nb_actions, self.network, self.network_kwargs)
        self.actor = self.actor_builder(*sizes, name="actor")
        self.critics, self.target_critics = build_twin_critics(*sizes)
        self.learn_alpha, initial_alpha = parse_ent_coef(config.ent_coef)
        self.log_alpha = tf.Variable(math.log(initial_alpha), dtype=tf.float32, name="log_ent_coef")
        self.target_entropy = float(-self.nb_actions if config.target_entropy == "auto" else config.target_entropy)
        self.optimizers = {name: FusedAdam(learning_rate=config.learning_rate) for name in ("actor", "critic", "alpha")}
        self.optimizers["actor"].build(self.actor.trainable_variables)
        self.optimizers["critic"].build(critic_variables(self.critics))
        self.optimizers["alpha"].build([self.log_alpha])
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self.generator = tf.random.Generator.from_seed(self.seed if self.seed is not None else
                                                       np.random.randint(2**31 - 1))
        self.sampled_actions = CompiledFunction(self._sampled_actions,
                                                [tf.TensorSpec([None, self.obs_size], tf.float32)])
        self._train = CompiledFunction(self._train_step, [batch_signature(self.obs_size, self.nb_actions)])

    def argument_variables(self) -> list[tf.Variable]:
        """The learning rates, and alpha when ent_coef fixes it."""
        return [*super().argument_variables(), *([] if self.learn_alpha else [self.log_alpha])]

    def variable_groups(self) -> dict[str, list[tf.Variable]]:
        return {
            "policy": self.actor.weights,
            "critic": [w for critic in self.critics for w in critic.weights],
            "target_critic": [w for critic in self.target_critics for w in critic.weights],
            **{f"optimizer_{name}": optimizer.variables for name, optimizer in self.optimizers.items()},
            "log_ent_coef": [self.log_alpha], "updates": [self.updates], "rng": [self.generator.state],
        }

    def export_critic(self) -> Any:
        return self.critics[0]

    def export_actions(self, normalized: Any) -> Any:
        return keras.ops.tanh(self.actor(normalized)[0])

    # ---- acting ---------------------------------------------------------------------------------------

    def _policy(self, normalized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """A sample and its log-probability for normalized observations."""
        mean, log_std = self.actor(normalized)
        return squashed_sample(mean, log_std, self.generator.normal(tf.shape(mean)))

    def _deterministic_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return tf.tanh(self.actor(self.normalizer(obs))[0])

    def _sampled_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self._policy(self.normalizer(obs))[0]

    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Actions sampled from the policy."""
        return self.sampled_actions(self.obs_tensor(obs)).numpy()

    def step(self, obs: Any, *, S: Any = None, M: Any = None) -> tuple[np.ndarray, None, None, None]:
        """Sampled actions in the env's units (play's default, as the on-policy learners sample); S and M are
        keyword-only, as OffPolicyAgent.step's, so baselines' DDPG call `step(obs, apply_noise, compute_Q)` fails."""
        return self.scale_actions(self.sampled_actions(self.obs_tensor(obs)).numpy()), None, None, None

    # ---- the update -------------------------------------------------------------------------------------

    def train_step(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        return self._train(batch)

    def _train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        config = self.config
        obs0, obs1 = self.normalizer(batch["obs0"]), self.normalizer(batch["obs1"])
        rewards, terminals = batch["rewards"][:, 0], batch["terminals1"][:, 0]
        alpha = tf.exp(self.log_alpha)  # this update's alpha: the value before its own step, as in the paper
        skipped = [tf.constant(0.0)]
        # One reparameterized sample at s serves the entropy coefficient's loss and the policy's loss; the actor's
        # tape pauses while alpha and the critics update, and resumes for the (updated) critics' values of it.
        with tf.GradientTape() as actor_tape:
            actions, log_prob = self._policy(obs0)
            with actor_tape.stop_recording():
                alpha_loss = tf.constant(0.0)
                if self.learn_alpha:  # J(alpha) = E[-alpha (log pi(a|s) + target entropy)], on log alpha
                    # Haarnoja et al. 2018b, eq. 18; stepping log alpha keeps alpha > 0, as the authors' softlearning
                    with tf.GradientTape() as tape:
                        alpha_loss = -tf.reduce_mean(self.log_alpha * tf.stop_gradient(log_prob + self.target_entropy))
                    gradient = tape.gradient(alpha_loss, [self.log_alpha])
                    skipped.append(apply_if_finite(self.optimizers["alpha"], gradient, [self.log_alpha], alpha_loss,
                                                   tf.linalg.global_norm(gradient)))
                # Soft Q target: the smaller target critic minus alpha log pi at the next state's sampled action.
                next_actions, next_log_prob = self._policy(obs1)
                next_q = (tf.minimum(*[target([obs1, next_actions]) for target in self.target_critics])
                          - alpha * next_log_prob)
                target_q = tf.stop_gradient(rewards + (1.0 - terminals) * config.gamma * next_q)
                variables = critic_variables(self.critics)
                # J_Q's 1/2 (Haarnoja et al. 2018b) on each critic's MSE, summed, as SB3's
                with tf.GradientTape() as tape:
                    critic_loss = 0.5 * tf.add_n([tf.reduce_mean(tf.square(critic([obs0, batch["actions"]]) - target_q))
                                                  for critic in self.critics])
                gradients = tape.gradient(critic_loss, variables)
                skipped.append(apply_if_finite(self.optimizers["critic"], gradients, variables, critic_loss,
                                               tf.linalg.global_norm(gradients)))
            # Policy: minimize E[alpha log pi(a|s) - min Q(s, a)] through the reparameterized sample.
            q_values = tf.minimum(*[critic([obs0, actions]) for critic in self.critics])
            actor_loss = tf.reduce_mean(alpha * log_prob - q_values)
        gradients = actor_tape.gradient(actor_loss, self.actor.trainable_variables)
        skipped.append(apply_if_finite(self.optimizers["actor"], gradients, self.actor.trainable_variables,
                                       actor_loss, tf.linalg.global_norm(gradients)))
        self.updates.assign_add(1)
        if_due = self.updates % config.target_update_interval == 0

        def update_targets() -> tf.Tensor:
            for target, critic in zip(self.target_critics, self.critics):
                soft_update(target.weights, critic.weights, config.tau)
            return tf.constant(True)

        tf.cond(if_due, update_targets, lambda: tf.constant(False))
        return {"loss_critic": critic_loss, "loss_actor": actor_loss, "loss_ent_coef": alpha_loss,
                "ent_coef": alpha, "entropy": -tf.reduce_mean(log_prob), "reference_Q_mean": tf.reduce_mean(target_q),
                "skipped": tf.reduce_max(tf.stack(skipped))}


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
    learning_rate: float = 3e-4,
    ent_coef: str | float = "auto",
    target_entropy: str | float = "auto",
    target_update_interval: int = 1,
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
) -> SAC:
    """Train SAC on `env` (Box actions) for `total_timesteps` env steps; return the agent (`agent.save(path)`).

    The first `learning_starts` steps act uniformly at random; then every `train_freq` steps (per env) come
    `gradient_steps` updates on batches of `batch_size`. With network='mlp' the torso defaults to 2 x 256 ReLU
    (the paper's), overridable by `network_kwargs`. `eval_env` is evaluated every `eval_freq` steps with the
    deterministic (mean) action. `load_path` loads an agent, resuming its run when unfinished with the same total
    steps. `callback(locals(), globals())` returning True stops (deepq's convention).
    `replay_buffer_class=HerReplayBuffer` (`baselines_tf2.her.replay_buffer`, or its name) trains on a goal env's
    Dict observations with hindsight goals, `replay_buffer_kwargs` its n_sampled_goal and goal_selection_strategy
    (as stable-baselines3).
    """
    config = config_from_arguments(SACConfig, locals())
    venv = as_vec_env(env, seed)
    kwargs = with_network_defaults(network, network_kwargs, TD3_SAC_NETWORK)
    options = run_options_from_arguments(locals())
    agent = learn_off_policy(lambda obs_space, action_space: SAC(obs_space, action_space, network, kwargs, config,
                                                                 seed=seed),
                             venv, config, config.schedule(venv.num_envs), options, load_path=load_path,
                             eval_env=eval_env, callback=callback,
                             replay=replay_factory(venv, config.replay_buffer_class, config.replay_buffer_kwargs))
    assert isinstance(agent, SAC)
    return agent


def policy_from_checkpoint(metadata: Any, groups: Any, path: str, *, nenvs: int = 1) -> SAC:
    """The SAC agent of a checkpoint, with its actor (registered in `baselines_tf2.algorithms`)."""
    agent = agent_from_checkpoint(SAC, SACConfig, metadata, groups, path)
    assert isinstance(agent, SAC)
    return agent
