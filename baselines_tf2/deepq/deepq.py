"""DQN `learn()` with baselines' signature and defaults (plus dueling, double_q, n_step and evaluation).

One env is stepped with epsilon-greedy actions; transitions go to (prioritized) replay; every `train_freq` steps
a minibatch trains the online network; every `target_network_update_freq` steps the target network is synced.
Resume, checkpoints, signals, env faults, progress and the best model are the training core's (`TrainingRun`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from collections import deque
from typing import Any, Callable

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.schedules import LinearSchedule
from baselines_tf2.common.validation import (
    ArgumentError,
    require_choice,
    require_int,
    require_number,
    whole_floats_as_ints,
)
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED
from baselines_tf2.deepq.act import ActWrapper, build_act
from baselines_tf2.deepq.gradient_steps import GradientSteps
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer
from baselines_tf2.nn.tf_util import PRECISIONS, set_global_seeds
from baselines_tf2.training.callbacks import before_step_callback
from baselines_tf2.training.checkpoint import saved_replay_arrays, space_to_json
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.evaluation import PeriodicEvaluation, require_eval_env
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES
from baselines_tf2.training.run import Algorithm, ArrayGroups, TrainingRun
from baselines_tf2.training.stop_signals import StopRequest

MIN_EPISODES_FOR_BEST = 10  # finite episode returns needed before the best model is kept (baselines waited for 101)


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """DQN hyperparameters; names and defaults are baselines.deepq.learn's (plus dueling, double_q, n_step, eval)."""

    lr: float = 5e-4
    buffer_size: int = 50000
    exploration_fraction: float = 0.1
    exploration_final_eps: float = 0.02
    train_freq: int = 1
    batch_size: int = 32
    print_freq: int | None = 100  # episodes between log tables; None: none
    checkpoint_freq: int | None = 10000  # steps between checkpoints (and best-model checks); None: only at the end
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
    checkpoint_path: str | None = None  # where the best model is kept (default: the log dir)
    save_replay: bool = False  # checkpoints also hold the replay buffer, so a resumed run trains on at once
    train_in_background: bool = False  # each gradient step runs while the next train_freq env steps are played

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        require_choice("precision", self.precision, PRECISIONS)
        for name in ("train_freq", "batch_size", "target_network_update_freq", "n_step", "eval_episodes"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("print_freq", "checkpoint_freq"):  # None: never (baselines' way to turn them off)
            if getattr(self, name) is not None:
                require_int(name, getattr(self, name), minimum=1)
        for name in ("buffer_size", "learning_starts", "eval_freq"):  # buffer_size 0: only loading (total_timesteps=0)
            require_int(name, getattr(self, name), minimum=0)
        if self.prioritized_replay_beta_iters is not None:
            require_int("prioritized_replay_beta_iters", self.prioritized_replay_beta_iters, minimum=1)
        if 0 < self.buffer_size < self.batch_size:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least batch_size ({self.batch_size})")
        for name in ("lr", "prioritized_replay_eps"):
            require_number(name, getattr(self, name), above=0)
        for name in ("exploration_fraction", "exploration_final_eps", "gamma", "eval_epsilon",
                     "prioritized_replay_beta0"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        require_number("prioritized_replay_alpha", self.prioritized_replay_alpha, at_least=0)


def single_vec_env(env: gymnasium.Env | VecEnv, seed: int | None = None) -> VecEnv:
    """deepq steps one env: a VecEnv of one, or a single env in a DummyVecEnv seeded with `seed`."""
    if isinstance(env, VecEnv) and env.num_envs != 1:
        raise ValueError(f"deepq steps a single env; got a VecEnv with {env.num_envs} envs")
    return as_vec_env(env, seed)


def check_run_arguments(env: gymnasium.Env | VecEnv, eval_env: gymnasium.Env | VecEnv | None, config: DQNConfig,
                        callback: Any) -> None:
    """ArgumentError, before anything is built, for an evaluation that cannot run (no eval_env, or one whose spaces
    the Q-network does not take), a callback that cannot be called, or a best-model folder that is a file."""
    require_eval_env(config.eval_freq, eval_env)
    if config.eval_freq and eval_env is not None:
        for name in ("observation_space", "action_space"):
            trained, evaluated = getattr(env, name), getattr(eval_env, name)
            if space_to_json(trained) != space_to_json(evaluated):
                raise ArgumentError(f"eval_env's {name.replace('_', ' ')} {evaluated} differs from env's {trained}; "
                                    "the Q-network plays eval_env as it plays env, so give both the same spaces")
    if callback is not None and not callable(callback):
        raise ArgumentError(f"callback must be a function callback(locals, globals) whose True return stops "
                            f"training, got {callback!r}")
    if config.checkpoint_path is not None and os.path.exists(config.checkpoint_path) and not os.path.isdir(
            config.checkpoint_path):
        raise ArgumentError(f"checkpoint_path={config.checkpoint_path!r} is a file; it names the folder the best model "
                            "is kept in")


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
    print_freq: int | None = 100,
    checkpoint_freq: int | None = 10000,
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
        raise ArgumentError("param_noise is not supported by baselines_tf2's deepq; use epsilon-greedy exploration")
    require_number("total_timesteps", total_timesteps)
    config = config_from_arguments(DQNConfig, locals())
    if total_timesteps > 0 and config.buffer_size == 0:
        raise ArgumentError(f"buffer_size=0 keeps no transitions to train on; it only suits loading a model "
                            f"(total_timesteps=0); to train, give buffer_size >= batch_size ({config.batch_size})")
    if train_in_background and deterministic:
        raise ArgumentError("train_in_background acts with weights an update in flight may be changing, which is not "
                            "deterministic; use one or the other")
    check_run_arguments(env, eval_env, config, callback)
    set_global_seeds(seed, deterministic_ops=deterministic)
    venv = single_vec_env(env, seed)
    act = build_act(venv.observation_space, venv.action_space, network, network_kwargs, lr=lr, double_q=double_q,
                    precision=precision, seed=seed)
    if load_path is not None:
        act.load(load_path)
    act.run_metadata = {"env": describe_vec_env(venv), "hyperparameters": dataclasses.asdict(config), "seed": seed}
    if total_timesteps <= 0:
        return act
    run = TrainingRun(act, venv, run_options_from_arguments(locals()), DQNIteration.steps_per_iteration)
    with tempfile.TemporaryDirectory() as scratch:
        best_path = os.path.join(checkpoint_path or logger.get_dir() or scratch, "best")
        run.best_model.path = best_path
        evaluation = None
        if eval_env is not None and eval_freq:
            evaluation = PeriodicEvaluation(single_vec_env(eval_env), every=eval_freq, episodes=eval_episodes,
                                            act=lambda obs: act.model.act(obs, eval_epsilon, run.rng),
                                            path=best_path + "-eval")
        algorithm = DQNIteration(act, venv, config, run, evaluation)
        if load_path is not None:
            run.resume(algorithm, load_path)
        run.train(algorithm, before_step_callback(callback, lambda: algorithm.callback_locals(run), globals()))
    return act


class DQNIteration(Algorithm):
    """One env step with an epsilon-greedy action; every `train_freq` steps a gradient step, every
    `target_network_update_freq` a target sync; logs every `print_freq` episodes (baselines' keys)."""

    steps_per_iteration = 1

    def __init__(self, act: ActWrapper, venv: VecEnv, config: DQNConfig, run: TrainingRun,
                 evaluation: PeriodicEvaluation | None) -> None:
        self.act = act
        self.model = act.model
        self.run = run
        self.venv = venv
        self.config = config
        self.evaluation = evaluation
        total_timesteps = run.options.total_timesteps
        beta: Callable[[int], float] | None = None
        if config.prioritized_replay:
            replay: ReplayBuffer = PrioritizedReplayBuffer(config.buffer_size, config.prioritized_replay_alpha,
                                                           seed=run.options.seed)
            beta = LinearSchedule(config.prioritized_replay_beta_iters or total_timesteps,
                                  initial_p=config.prioritized_replay_beta0, final_p=1.0).value
        else:
            replay = ReplayBuffer(config.buffer_size, seed=run.options.seed)
        self.replay = replay
        self.exploration = LinearSchedule(max(1, int(config.exploration_fraction * total_timesteps)), initial_p=1.0,
                                          final_p=config.exploration_final_eps)
        self.steps = GradientSteps(self.model, replay, batch_size=config.batch_size, n_step=config.n_step,
                                   gamma=config.gamma, prioritized_replay_eps=config.prioritized_replay_eps, beta=beta,
                                   nonfinite=run.nonfinite, in_background=config.train_in_background)
        self.episode_rewards: deque[float] = deque(maxlen=100)  # Monitor scores of the last 100 episodes
        self.recent_returns = self.episode_rewards
        self.reward_history: list[float] = [0.0]  # baselines' episode_rewards: per-done sums, the last one running
        self.episodes = 0
        self.start_t = 0  # the step this process started from (> 0 when resuming), for fps
        self.start_time = time.perf_counter()
        self.refill_until = 0  # resumed without its replay buffer: no training before this step
        self.obs: Any = None  # the observation the next action is chosen for

    def restore(self, state: dict[str, Any], metadata: dict[str, Any], groups: dict[str, list[np.ndarray]]) -> str:
        t = int(state["t"])
        if "replay" in groups:
            self.replay.load_state(metadata["replay"], saved_replay_arrays(metadata, groups))
        self.refill_until = 0 if "replay" in groups else t + self.config.learning_starts
        self.episodes = int(state.get("episodes", 0))
        self.episode_rewards.extend(float(score) for score in state.get("recent_episode_scores", []))
        if "replay" in groups:
            return ""
        return (f"; the replay buffer was not saved (--save_replay), so it refills for {self.config.learning_starts} "
                "steps before training continues")

    def begin(self, run: TrainingRun) -> None:
        self.obs = self.venv.reset()
        self.start_t = run.iteration
        self.start_time = time.perf_counter()

    def iterate(self, run: TrainingRun, stop: StopRequest) -> bool:
        config = self.config
        t = run.iteration
        epsilon = self.exploration.value(t)
        actions = self.model.act(self.obs, epsilon, run.rng)
        new_obs, rewards, dones, infos = self.venv.step(actions)
        self._remember(self.obs[0], actions[0], rewards[0], new_obs[0], dones[0], infos[0])
        self.obs = new_obs
        learning = t >= config.learning_starts and t >= self.refill_until
        if learning and t % config.train_freq == 0:
            self.steps.train(t)
        sync_target = learning and t % config.target_network_update_freq == 0
        evaluate = self.evaluation is not None and self.evaluation.due(t + 1)
        if sync_target or evaluate or self.checkpoint_due(t + 1):
            self.steps.finish()  # these read or save the weights: the step in flight lands first
        if sync_target:
            self.model.update_target()
        if dones[0] and "episode" in infos[0] and config.print_freq and self.episodes % config.print_freq == 0:
            self._log(t, epsilon)
        if evaluate:
            assert self.evaluation is not None
            self.evaluation.evaluate(self.act, t + 1)
        return True

    def end(self) -> None:
        self.steps.close()
        self._record_epsilon()

    def checkpoint_due(self, iteration: int) -> bool:
        t = iteration - 1  # the step just played
        every = self.config.checkpoint_freq
        return every is not None and t > self.config.learning_starts and t % every == 0

    def training_state(self) -> dict[str, Any]:
        # the last 100 scores: a resumed run's mean (and best model) goes on over the same window
        evaluation_state: dict[str, Any] = self.evaluation.training_state() if self.evaluation is not None else {}
        return {"t": self.run.iteration, "episodes": self.episodes,
                "recent_episode_scores": [score for score in self.episode_rewards if math.isfinite(score)],
                **evaluation_state}

    def checkpoint_data(self) -> tuple[dict[str, Any], ArrayGroups]:
        self._record_epsilon()
        if not self.config.save_replay:
            return {}, {}
        info, arrays = self.replay.state()
        return {"replay": info, "replay_arrays": list(arrays)}, {"replay": list(arrays.items())}

    def env_position(self) -> list[tuple[str, np.ndarray]] | None:
        return None if self.obs is None else [("obs", np.asarray(self.obs))]

    def set_env_position(self, arrays: list[np.ndarray]) -> None:
        self.obs = arrays[0]

    def keep_best(self, state: dict[str, Any]) -> None:
        if self.evaluation is not None:
            self.evaluation.restore(state)

    def best_model_score(self) -> float | None:
        """Mean of the last 100 finite episode scores, once there are 10 (a NaN reward never makes a best)."""
        finite_rewards = [reward for reward in self.episode_rewards if math.isfinite(reward)]
        return float(np.mean(finite_rewards)) if len(finite_rewards) >= MIN_EPISODES_FOR_BEST else None

    def callback_locals(self, run: TrainingRun) -> dict[str, Any]:
        """What baselines' deepq callbacks find in `locals()`."""
        recent = self.episode_rewards
        return {"t": run.iteration, "episode_rewards": self.reward_history, "obs": self.obs, "act": self.act,
                "env": self.venv, "replay_buffer": self.replay, "exploration": self.exploration, "self": self,
                "num_episodes": self.episodes,
                "mean_100ep_reward": round(float(np.mean(recent)), 1) if recent else float("nan"),
                "saved_mean_reward": run.best_model.score}

    def _record_epsilon(self) -> None:
        """Give the act the epsilon of the last step played, so stochastic acting after training (or after loading
        a checkpoint) explores as training last did."""
        self.act.epsilon = self.exploration.value(max(0, self.run.iteration - 1))

    def _remember(self, obs: Any, action: Any, reward: float, new_obs: Any, done: bool, info: dict[str, Any]) -> None:
        """Store the transition; a time-limit cut is stored as not done, so the target bootstraps through it."""
        next_obs = info.get(TERMINAL_OBSERVATION, new_obs) if done else new_obs
        terminal = bool(done) and not info.get(TRUNCATED, False)
        self.steps.add((obs, action, reward, next_obs, terminal))
        self.reward_history[-1] += float(reward)
        if done:
            self.reward_history.append(0.0)
        if "episode" in info:
            self.episode_rewards.append(float(info["episode"]["r"]))
            self.episodes += 1

    def _log(self, t: int, epsilon: float) -> None:
        mean_reward = float(np.mean(self.episode_rewards)) if self.episode_rewards else float("nan")
        logger.record_tabular("steps", t)
        logger.record_tabular("episodes", self.episodes)
        logger.record_tabular("mean 100 episode reward", round(mean_reward, 1))
        logger.record_tabular("% time spent exploring", int(100 * epsilon))
        logger.record_tabular("fps", int((t + 1 - self.start_t) / (time.perf_counter() - self.start_time)))
        logger.record_tabular("env restarts", getattr(self.venv, "restarts", 0))
        for name, value in self.steps.last_stats.items():
            logger.record_tabular(name, value)
        logger.dump_tabular()
