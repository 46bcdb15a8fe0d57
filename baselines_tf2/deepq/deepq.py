"""DQN `learn()` with baselines' signature and defaults (plus dueling, double_q, n_step and evaluation).

One env is stepped with epsilon-greedy actions; transitions go to (prioritized) replay; every `train_freq` steps
a minibatch trains the online network; every `target_network_update_freq` steps the target network is synced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from concurrent.futures import Future, ThreadPoolExecutor
import os
import tempfile
import time
from collections import deque
from typing import Any, Callable

import gymnasium
import numpy as np
import tensorflow as tf

from baselines_tf2 import logger
from baselines_tf2.common.checkpoint import CHECKPOINTS_SUBDIR, CheckpointError, load_checkpoint
from baselines_tf2.common.checkpoint_dir import DEFAULT_KEEP, CheckpointDirectory
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.play import check_episode_progress
from baselines_tf2.common.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES, NonFiniteGuard
from baselines_tf2.common.progress import TrainingProgress
from baselines_tf2.common.schedules import LinearSchedule
from baselines_tf2.common.tf_util import PRECISIONS, set_global_seeds
from baselines_tf2.common.validation import require_choice, require_int, require_number
from baselines_tf2.common.stop_signals import StopRequest, TrainingInterrupted
from baselines_tf2.common.vec_env import DummyVecEnv, VecEnv, VecEnvError
from baselines_tf2.common.vec_env.resume_state import capture_vec_env_state, restore_vec_env_state
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED
from baselines_tf2.deepq.act import ActWrapper, build_act
from baselines_tf2.deepq.deepq_learner import DQNModel, TransitionBatch
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """DQN hyperparameters; names and defaults are baselines.deepq.learn's (plus dueling, double_q, n_step, eval)."""

    lr: float = 5e-4
    buffer_size: int = 50000
    exploration_fraction: float = 0.1
    exploration_final_eps: float = 0.02
    train_freq: int = 1
    batch_size: int = 32
    print_freq: int = 100
    checkpoint_freq: int = 10000
    learning_starts: int = 1000
    gamma: float = 1.0
    target_network_update_freq: int = 500
    prioritized_replay: bool = False
    prioritized_replay_alpha: float = 0.6
    prioritized_replay_beta0: float = 0.4
    prioritized_replay_beta_iters: int | None = None
    prioritized_replay_eps: float = 1e-6
    double_q: bool = True
    n_step: int = 1
    eval_freq: int = 0  # env steps between evaluations on eval_env; 0 = never
    eval_episodes: int = 10
    eval_epsilon: float = 0.001
    precision: str = "float32"  # or "mixed_bfloat16": bf16 compute, float32 weights and Q-values

    def __post_init__(self) -> None:
        require_choice("precision", self.precision, PRECISIONS)
        positive = ("buffer_size", "train_freq", "batch_size", "print_freq", "checkpoint_freq",
                    "target_network_update_freq", "n_step", "eval_episodes")
        for name in positive:
            require_int(name, getattr(self, name), minimum=1)
        for name in ("learning_starts", "eval_freq"):
            require_int(name, getattr(self, name), minimum=0)
        if self.prioritized_replay_beta_iters is not None:
            require_int("prioritized_replay_beta_iters", self.prioritized_replay_beta_iters, minimum=1)
        if self.buffer_size < self.batch_size:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least batch_size ({self.batch_size})")
        for name in ("lr", "prioritized_replay_eps"):
            require_number(name, getattr(self, name), above=0)
        for name in ("exploration_fraction", "exploration_final_eps", "gamma", "eval_epsilon",
                     "prioritized_replay_beta0"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        require_number("prioritized_replay_alpha", self.prioritized_replay_alpha, at_least=0)


def as_vec_env(env: gymnasium.Env | VecEnv) -> VecEnv:
    """deepq steps one env; a plain gymnasium env is put in a DummyVecEnv for auto-reset and terminal observations."""
    if isinstance(env, VecEnv):
        if env.num_envs != 1:
            raise ValueError(f"deepq steps a single env; got a VecEnv with {env.num_envs} envs")
        return env
    return DummyVecEnv([lambda: env])


def learn(
    env: gymnasium.Env | VecEnv,
    network: str,
    seed: int | None = None,
    lr: float = 5e-4,
    total_timesteps: int = 100000,
    buffer_size: int = 50000,
    exploration_fraction: float = 0.1,
    exploration_final_eps: float = 0.02,
    train_freq: int = 1,
    batch_size: int = 32,
    print_freq: int = 100,
    checkpoint_freq: int = 10000,
    checkpoint_path: str | None = None,
    learning_starts: int = 1000,
    gamma: float = 1.0,
    target_network_update_freq: int = 500,
    prioritized_replay: bool = False,
    prioritized_replay_alpha: float = 0.6,
    prioritized_replay_beta0: float = 0.4,
    prioritized_replay_beta_iters: int | None = None,
    prioritized_replay_eps: float = 1e-6,
    param_noise: bool = False,
    callback: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
    load_path: str | None = None,
    double_q: bool = True,
    n_step: int = 1,
    eval_env: gymnasium.Env | VecEnv | None = None,
    eval_freq: int = 0,
    eval_episodes: int = 10,
    eval_epsilon: float = 0.001,
    precision: str = "float32",
    progress_bar: bool = False,
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    save_replay: bool = False,
    train_in_background: bool = False,
    **network_kwargs: Any,
) -> ActWrapper:
    """Train a DQN on `env` for `total_timesteps` steps; return the act function (greedy/epsilon, `.save(path)`).

    `network_kwargs` go to the torso builder, plus the head's `hiddens` (default [256]), `dueling` (default True)
    and `layer_norm`. `callback(locals(), globals())` returning True stops training (baselines). With
    `total_timesteps=0` and `load_path`, this just loads a saved model, as baselines' play does. As baselines,
    the returned act holds the weights with the best 100-episode mean reward seen at a checkpoint.
    `precision='mixed_bfloat16'` computes the Q-networks in bfloat16 (float32 weights and Q-values).
    Every `checkpoint_freq` steps, at the end and on SIGINT/SIGTERM (then TrainingInterrupted is raised) the
    current state goes to <log dir>/checkpoints (the newest `keep_checkpoints` kept); `load_path` of one from
    an unfinished run with the same total_timesteps resumes it (step count, exploration, RNG, and with
    `save_replay` the replay buffer; without it training pauses `learning_starts` steps while the buffer
    refills). `deterministic` makes TF ops deterministic and, with envs made resumable, checkpoints hold the env
    state, so a resumed run repeats the uninterrupted one exactly (with save_replay). Train steps with a
    non-finite loss or gradient are skipped; `max_nonfinite_updates` in a row raise NonFiniteUpdateError.
    `train_in_background` runs each gradient step in a thread while the next `train_freq` env steps are played
    (the same batches and updates in the same order; the actions of those steps see the weights before, or while,
    that step lands).
    """
    if param_noise:
        raise ValueError("param_noise is not supported by baselines_tf2's deepq; use epsilon-greedy exploration")
    config = DQNConfig(
        lr=lr, buffer_size=buffer_size, exploration_fraction=exploration_fraction,
        exploration_final_eps=exploration_final_eps, train_freq=train_freq, batch_size=batch_size,
        print_freq=print_freq, checkpoint_freq=checkpoint_freq, learning_starts=learning_starts, gamma=gamma,
        target_network_update_freq=target_network_update_freq, prioritized_replay=prioritized_replay,
        prioritized_replay_alpha=prioritized_replay_alpha, prioritized_replay_beta0=prioritized_replay_beta0,
        prioritized_replay_beta_iters=prioritized_replay_beta_iters, prioritized_replay_eps=prioritized_replay_eps,
        double_q=double_q, n_step=n_step, eval_freq=eval_freq, eval_episodes=eval_episodes,
        eval_epsilon=eval_epsilon, precision=precision,
    )
    set_global_seeds(seed, deterministic_ops=deterministic)
    venv = as_vec_env(env)
    act = build_act(venv.observation_space, venv.action_space, network, network_kwargs, lr=lr, double_q=double_q,
                    precision=precision, seed=seed)
    if load_path is not None:
        act.load(load_path)
    act.run_metadata = {"env": describe_vec_env(venv), "hyperparameters": dataclasses.asdict(config), "seed": seed}
    if total_timesteps <= 0:
        return act
    if train_in_background and deterministic:
        raise ValueError("train_in_background acts with weights an update in flight may be changing, which is not "
                         "deterministic; use one or the other")
    options = RunOptions(keep_checkpoints, max_nonfinite_updates, deterministic, save_replay, train_in_background)
    trainer = _Trainer(act, venv, config, total_timesteps, seed, options)
    if load_path is not None:
        trainer.restore(load_path)
    with tempfile.TemporaryDirectory() as scratch:
        best_path = checkpoint_path or logger.get_dir() or scratch
        trainer.run(os.path.join(best_path, "best"), callback, eval_env, progress_bar)
    return act


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run checkpoints and guards itself (not hyperparameters: they do not change what is learned)."""

    keep_checkpoints: int
    max_nonfinite_updates: int
    deterministic: bool
    save_replay: bool
    train_in_background: bool


class _Trainer:
    """The DQN loop's state: replay, schedules, counters, episode statistics."""

    def __init__(self, act: ActWrapper, venv: VecEnv, config: DQNConfig, total_timesteps: int, seed: int | None,
                 options: RunOptions):
        self.act = act
        self.model: DQNModel = act.model
        self.venv = venv
        self.config = config
        self.total_timesteps = total_timesteps
        if config.prioritized_replay:
            self.replay: ReplayBuffer = PrioritizedReplayBuffer(config.buffer_size, config.prioritized_replay_alpha, seed=seed)
            beta_iters = config.prioritized_replay_beta_iters or total_timesteps
            self.beta = LinearSchedule(beta_iters, initial_p=config.prioritized_replay_beta0, final_p=1.0)
        else:
            self.replay = ReplayBuffer(config.buffer_size, seed=seed)
        self.exploration = LinearSchedule(
            max(1, int(config.exploration_fraction * total_timesteps)), initial_p=1.0,
            final_p=config.exploration_final_eps,
        )
        self.episode_rewards: deque[float] = deque(maxlen=100)  # Monitor scores of the last 100 episodes
        self.reward_history: list[float] = [0.0]  # baselines' episode_rewards: per-done sums, the last one running
        self.episodes = 0
        self.best_mean_reward: float | None = None
        self.saved_best = False
        self.best_eval: float | None = None
        self.eval_venv: VecEnv | None = None  # built and reset once: a Monitor refuses a reset mid-episode
        self.eval_obs: Any = None
        self.last_stats: dict[str, float] = {}
        self.start_t = 0  # the step this process starts from (> 0 when resuming)
        self.refill_until = 0  # resumed without its replay buffer: no training before this step
        self.steps_done = 0
        self.timesteps_before = act.timesteps
        self.options = options
        self.nonfinite = NonFiniteGuard(options.max_nonfinite_updates)
        self.train_steps = 0
        self.obs: Any = None  # the observation the next action is chosen for
        self._training_thread = ThreadPoolExecutor(1, "dqn-training") if options.train_in_background else None
        self._in_flight: tuple[Future[dict[str, tf.Tensor]], np.ndarray] | None = None  # (gradient step, its slots)
        self._deferred_adds: list[tuple[Any, ...]] = []  # transitions played while a step was in flight
        self._pending_env_state: tuple[dict[str, Any], np.ndarray] | None = None
        log_dir = logger.get_dir()
        folder = os.path.join(log_dir, CHECKPOINTS_SUBDIR) if log_dir else None
        self.checkpoints = CheckpointDirectory(folder, options.keep_checkpoints) if folder else None

    def restore(self, path: str) -> None:
        """Resume the run a checkpoint came from if it is this one (same total steps) and unfinished: step count,
        exploration RNG, and the replay buffer and env states when the checkpoint holds them."""
        metadata, groups = load_checkpoint(path)
        state = metadata.get("training") or {}
        t = int(state.get("t", 0)) if state.get("total_timesteps") == self.total_timesteps else 0
        if not 0 < t < self.total_timesteps:
            logger.log(f"loaded {path} ({self.act.timesteps} steps trained); training a new schedule")
            return
        try:
            self.model.rng.bit_generator.state = state["rng"]
            if "replay" in groups:
                self.replay.load_state(metadata["replay"], {name: array for name, array in
                                                            zip(metadata["replay_arrays"], groups["replay"])})
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path!r}: its training state cannot be restored ({err})") from None
        self.start_t = self.steps_done = t
        self.refill_until = 0 if "replay" in groups else t + self.config.learning_starts
        self.timesteps_before = self.act.timesteps - t
        self.episodes = int(state.get("episodes", 0))
        self.best_mean_reward = state.get("best_mean_reward")
        if self.options.deterministic and "env_state" in metadata:
            self._pending_env_state = (metadata["env_state"], groups["runner"][0])
        refill = "" if "replay" in groups else (
            f"; the replay buffer was not saved (--save_replay), so it refills for {self.config.learning_starts} "
            "steps before training continues")
        logger.log(f"resuming {path} at step {t}/{self.total_timesteps}{refill}")

    def save_state(self, with_env_state: bool = True) -> str | None:
        """Checkpoint the current weights, optimizer and position (plus the replay buffer with save_replay, and
        the env's exact state in deterministic runs) into <log dir>/checkpoints; its path."""
        if self.checkpoints is None:
            return None
        t = self.steps_done
        self.act.timesteps = self.timesteps_before + t
        self.act.epsilon = self.exploration.value(max(0, t - 1))
        metadata = self.act.run_metadata
        metadata["training"] = {
            "total_timesteps": self.total_timesteps, "t": t, "episodes": self.episodes,
            "best_mean_reward": self.best_mean_reward, "rng": self.model.rng.bit_generator.state,
        }
        for key in ("replay", "replay_arrays", "env_state"):
            metadata.pop(key, None)
        groups: dict[str, list[tuple[str, np.ndarray]]] = {}
        if self.options.save_replay:
            metadata["replay"], replay_arrays = self.replay.state()
            metadata["replay_arrays"] = list(replay_arrays)
            groups["replay"] = list(replay_arrays.items())
        if self.options.deterministic and with_env_state and self.obs is not None:
            metadata["env_state"] = capture_vec_env_state(self.venv)
            groups["runner"] = [("obs", np.asarray(self.obs))]
        path = self.checkpoints.save(t, lambda target: self.act.save(target, extra_groups=groups))
        logger.log(f"saved checkpoint {path}")
        return path

    def run(self, best_path: str, callback: Any, eval_env: Any, progress_bar: bool) -> None:
        config = self.config
        progress = TrainingProgress(self.total_timesteps - self.start_t, enabled=progress_bar)
        self.obs = self.venv.reset()
        if self._pending_env_state is not None:
            env_state, self.obs = self._pending_env_state
            restore_vec_env_state(self.venv, env_state, self.obs)
        start = time.perf_counter()
        with StopRequest() as stop, contextlib.closing(progress):
            try:
                for t in range(self.start_t, self.total_timesteps):
                    if stop.requested:
                        break
                    callback_locals = {**locals(), "episode_rewards": self.reward_history}
                    if callback is not None and callback(callback_locals, globals()):
                        break
                    epsilon = self.exploration.value(t)
                    actions = self.model.act(self.obs, epsilon)
                    new_obs, rewards, dones, infos = self.venv.step(actions)
                    self._remember(self.obs[0], actions[0], rewards[0], new_obs[0], dones[0], infos[0])
                    self.obs = new_obs
                    learning = t >= config.learning_starts and t >= self.refill_until
                    if learning and t % config.train_freq == 0:
                        self._train(t)
                    if learning and t % config.target_network_update_freq == 0:
                        self._finish_training()
                        self.model.update_target()
                    progress.update(1, self.episode_rewards)
                    if dones[0] and "episode" in infos[0] and self.episodes % config.print_freq == 0:
                        self._log(t, epsilon, start)
                    self.steps_done = t + 1
                    if t > config.learning_starts and t % config.checkpoint_freq == 0:
                        self._finish_training()
                        self._checkpoint_if_better(best_path)
                        self.save_state()
                    if eval_env is not None and config.eval_freq and (t + 1) % config.eval_freq == 0:
                        self._finish_training()
                        self._evaluate(eval_env, t + 1, best_path + "-eval")
                self._finish_training()
            except VecEnvError:  # the VecEnv is closed now: save without its state
                self._finish_training()
                if stop.signum is not None:  # the workers went down with the same signal: a stop, not a fault
                    raise TrainingInterrupted(stop.signum, self.save_state(with_env_state=False)) from None
                saved = self.save_state(with_env_state=False)
                if saved:
                    logger.log(f"an env failed; the state at step {self.steps_done} is in {saved}")
                raise
            finally:
                if self._training_thread is not None:
                    self._training_thread.shutdown(wait=True)
        if stop.signum is not None:
            raise TrainingInterrupted(stop.signum, self.save_state())
        if self.steps_done == self.total_timesteps:
            self.save_state()
        self.act.timesteps = self.timesteps_before + self.steps_done
        self.act.epsilon = self.exploration.value(max(0, self.steps_done - 1))  # the last epsilon training used
        if self.saved_best:
            self.act.load_weights_only(best_path)
            logger.log(f"restored the model with the best mean reward {self.best_mean_reward:.2f}")

    def _remember(self, obs: Any, action: Any, reward: float, new_obs: Any, done: bool, info: dict[str, Any]) -> None:
        """Store the transition; a time-limit cut is stored as not done, so the target bootstraps through it."""
        next_obs = info.get(TERMINAL_OBSERVATION, new_obs) if done else new_obs
        terminal = bool(done) and not info.get(TRUNCATED, False)
        if self._in_flight is None:
            self.replay.add(obs, action, reward, next_obs, terminal)
        else:  # added once the step in flight has updated its priorities: the order training in line has
            self._deferred_adds.append((obs, action, reward, next_obs, terminal))
        self.reward_history[-1] += float(reward)
        if done:
            self.reward_history.append(0.0)
        if "episode" in info:
            self.episode_rewards.append(float(info["episode"]["r"]))
            self.episodes += 1

    def _train(self, t: int) -> None:
        """One gradient step on a sampled batch: now, or (train_in_background) in the training thread while the
        next steps are played; the previous one's results are taken in first, so batches and priority updates come
        in the same order either way. The slots are drawn here; the batch is gathered where the step runs (no
        transition is added while a step is in flight)."""
        self._finish_training()
        config = self.config
        if config.prioritized_replay:
            slots, weights = self.replay.sample_indices(config.batch_size, beta=self.beta.value(t))
        else:
            slots, weights = self.replay.sample_indices(config.batch_size), np.ones(config.batch_size, np.float32)
        if self._training_thread is None:
            self._take_results(self._train_on(slots, weights), slots)
        else:
            self._in_flight = (self._training_thread.submit(self._train_on, slots, weights), slots)

    def _train_on(self, slots: np.ndarray, weights: np.ndarray) -> dict[str, tf.Tensor]:
        """Gather the transitions in `slots` (n-step returns) and take one gradient step on them."""
        config = self.config
        obs, actions, returns, next_obs, discounts = self.replay.n_step_batch(slots, config.n_step, config.gamma)
        batch = TransitionBatch(
            obs=self.model.obs_tensor(obs), actions=tf.convert_to_tensor(actions.astype(np.int64)),
            rewards=tf.convert_to_tensor(returns), next_obs=self.model.obs_tensor(next_obs),
            discounts=tf.convert_to_tensor(discounts), weights=tf.convert_to_tensor(weights),
        )
        return self.model.train_step(batch)

    def _finish_training(self) -> None:
        """Wait for the gradient step running in the training thread, if any, and take in its results."""
        if self._in_flight is not None:
            future, slots = self._in_flight
            self._in_flight = None
            self._take_results(future.result(), slots)
            for transition in self._deferred_adds:
                self.replay.add(*transition)
            self._deferred_adds.clear()

    def _take_results(self, result: dict[str, tf.Tensor], slots: np.ndarray) -> None:
        config = self.config
        self.train_steps += 1
        skipped = bool(result["skipped"])
        self.nonfinite.record(skipped, self.train_steps,
                              {"loss": float(result["loss"]), "gradient norm": float(result["grad_norm"])})
        if skipped:
            return
        if config.prioritized_replay:
            priorities = np.abs(result["td_errors"].numpy()) + config.prioritized_replay_eps
            self.replay.update_priorities(slots, priorities)
        self.last_stats = {"loss": float(result["loss"]), "mean_q": float(result["mean_q"]),
                           "nonfinite updates skipped": self.nonfinite.total_skipped}

    def _log(self, t: int, epsilon: float, start: float) -> None:
        mean_reward = float(np.mean(self.episode_rewards)) if self.episode_rewards else float("nan")
        logger.record_tabular("steps", t)
        logger.record_tabular("episodes", self.episodes)
        logger.record_tabular("mean 100 episode reward", round(mean_reward, 1))
        logger.record_tabular("% time spent exploring", int(100 * epsilon))
        logger.record_tabular("fps", int((t + 1 - self.start_t) / (time.perf_counter() - start)))
        logger.record_tabular("env restarts", getattr(self.venv, "restarts", 0))
        for name, value in self.last_stats.items():
            logger.record_tabular(name, value)
        logger.dump_tabular()

    def _checkpoint_if_better(self, best_path: str) -> None:
        finite_rewards = [reward for reward in self.episode_rewards if math.isfinite(reward)]  # NaN rewards: no
        if len(finite_rewards) < 10:
            return
        mean_reward = float(np.mean(finite_rewards))
        if self.best_mean_reward is None or mean_reward > self.best_mean_reward:
            logger.log(f"saving model: mean reward {self.best_mean_reward} -> {mean_reward:.2f}")
            self.act.save(best_path)
            self.best_mean_reward = mean_reward
            self.saved_best = True

    def _evaluate(self, eval_env: Any, timesteps: int, path: str) -> None:
        if self.eval_venv is None:
            self.eval_venv = as_vec_env(eval_env)
            self.eval_obs = self.eval_venv.reset()
        scores, self.eval_obs = play_episodes(self.act, self.eval_venv, self.eval_obs, self.config.eval_episodes,
                                              self.config.eval_epsilon)
        logger.logkv("eval/mean_score", float(np.mean(scores)))
        logger.logkv("eval/timesteps", timesteps)
        logger.dumpkvs()
        if self.best_eval is None or np.mean(scores) > self.best_eval:
            self.best_eval = float(np.mean(scores))
            self.act.save(path)


def evaluate(act: ActWrapper, venv: VecEnv, episodes: int, epsilon: float) -> list[float]:
    """Scores of `episodes` episodes with epsilon-greedy actions from a reset (scores as the env's Monitor counts them)."""
    return play_episodes(act, venv, venv.reset(), episodes, epsilon)[0]


def play_episodes(act: ActWrapper, venv: VecEnv, obs: Any, episodes: int, epsilon: float) -> tuple[list[float], Any]:
    """(scores of the next `episodes` episodes played on from `obs`, the observation after the last of them)."""
    scores: list[float] = []
    steps_since_episode = 0
    while len(scores) < episodes:
        check_episode_progress(steps_since_episode)
        actions = act.model.act(obs, epsilon)
        obs, _rewards, _dones, infos = venv.step(actions)
        finished = [float(info["episode"]["r"]) for info in infos if "episode" in info]
        steps_since_episode = 0 if finished else steps_since_episode + 1
        scores.extend(finished)
    return scores[:episodes], obs
