"""The body every continuous-control `learn()` shares: seeds, the agent, loading, and the run on the core."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any, Callable, Mapping

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.validation import ArgumentError
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.nn.tf_util import set_global_seeds
from baselines_tf2.off_policy.agent import OffPolicyAgent
from baselines_tf2.off_policy.loop import EvalSteps, Schedule, train_off_policy
from baselines_tf2.training.evaluation import PeriodicEvaluation, require_eval_env
from baselines_tf2.training.run import RunOptions, restore_vec_normalize


def learn_off_policy(
    build_agent: Callable[[Any, Any], OffPolicyAgent],
    env: Any,
    config: Any,
    schedule: Schedule,
    options: RunOptions,
    *,
    load_path: str | None,
    eval_env: Any = None,
    eval_steps: int = 0,
    callback: Callable[..., Any] | None = None,
    replay: Callable[..., Any] | None = None,
    evaluation: Any = None,
) -> OffPolicyAgent:
    """Build the agent for `env`'s spaces with `build_agent(observation_space, action_space)`, load `load_path`,
    and train it for `options.total_timesteps` env steps (0: just build and load).

    With `eval_env`: `eval_steps` deterministic steps after each iteration (DDPG), or every `config.eval_freq` env
    steps `config.eval_episodes` episodes, the best agent saved beside the checkpoints (TD3, SAC); or the given
    `evaluation(agent)` (HER's test rollouts). `replay` builds the replay memory (see `train_off_policy`)."""
    if options.total_timesteps > 0 and schedule.learning_starts > config.buffer_size:
        # training waits for learning_starts transitions in memory, which one of buffer_size never holds
        raise ArgumentError(f"{schedule.learning_starts_option}={schedule.learning_starts}: training starts once the "
                            f"replay memory holds {schedule.learning_starts} transitions, more than "
                            f"buffer_size={config.buffer_size} keeps, so nothing would ever train; give buffer_size >= "
                            f"{schedule.learning_starts}")
    if evaluation is None:  # HER brings its own test rollouts
        require_eval_env(getattr(config, "eval_freq", 0), eval_env)
    venv = as_vec_env(env, options.seed)
    set_global_seeds(options.seed, deterministic_ops=options.deterministic)
    agent = build_agent(venv.observation_space, venv.action_space)
    if load_path is not None:
        agent.load(load_path)
        if options.total_timesteps <= 0:  # a training run restores them after its first reset
            restore_vec_normalize(venv, load_path)
    agent.run_metadata = {"env": describe_vec_env(venv), "hyperparameters": dataclasses.asdict(config),
                          "seed": options.seed}
    if options.total_timesteps <= 0:
        return agent
    with tempfile.TemporaryDirectory() as scratch:
        if evaluation is not None:
            evaluation = evaluation(agent)
        elif eval_env is not None and eval_steps:
            evaluation = EvalSteps(as_vec_env(eval_env), eval_steps, agent)
        elif eval_env is not None and getattr(config, "eval_freq", None):
            evaluation = PeriodicEvaluation(as_vec_env(eval_env), every=config.eval_freq,
                                            episodes=config.eval_episodes, act=agent,
                                            path=os.path.join(logger.get_dir() or scratch, "best-eval"))
        train_off_policy(agent, venv, schedule, options, load_path=load_path, save_replay=config.save_replay,
                         buffer_size=config.buffer_size, evaluation=evaluation, callback=callback, replay=replay)
    return agent


def with_network_defaults(network: str, network_kwargs: Mapping[str, Any],
                          defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`network_kwargs` over `defaults` when the network is the registry's mlp (other networks take their own)."""
    return {**defaults, **network_kwargs} if network == "mlp" else dict(network_kwargs)
