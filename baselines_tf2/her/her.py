"""HER `learn()` with baselines' signature (DDPG + Hindsight Experience Replay, Plappert et al. 2018), on the
training core, saved and resumed like every other algorithm (baselines pickled its policies).

An epoch is `n_cycles` cycles; a cycle plays one episode of T steps on every env with the exploring actor, stores
them in the HER replay buffer, adds them (with hindsight goals) to the observation statistics, makes `n_batches`
updates on batches of `batch_size` and moves the targets once. After each epoch, `n_test_rollouts` deterministic
episodes per env measure the success rate. Under `mpiexec -n N` (baselines trained its published results on 19
ranks) the ranks average their gradients and merge their statistics; each keeps its own buffer.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.validation import ArgumentError, require_number
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.her.config import HERConfig, config_for
from baselines_tf2.her.ddpg import DDPG, network_kwargs_of
from baselines_tf2.her.demos import demo_steps, load_demos
from baselines_tf2.her.replay_buffer import HerReplayBuffer, WithDemonstrations, local_goal_env
from baselines_tf2.her.rollout import TestRollouts
from baselines_tf2.nn.tf_util import rank_seed
from baselines_tf2.off_policy.agent import agent_from_checkpoint
from baselines_tf2.off_policy.goals import describe_goal_space_problem, is_goal_space
from baselines_tf2.off_policy.learn import learn_off_policy
from baselines_tf2.off_policy.loop import Schedule
from baselines_tf2.training.config import run_options_from_arguments

RUN_OPTION_NAMES = ("progress_bar", "keep_checkpoints", "max_nonfinite_updates", "deterministic")


def learn(
    *,
    network: str,
    env: Any,
    total_timesteps: int,
    seed: int | None = None,
    eval_env: Any = None,
    replay_strategy: str = "future",
    policy_save_interval: int = 5,
    clip_return: bool = True,
    demo_file: str | None = None,
    override_params: dict[str, Any] | None = None,
    load_path: str | None = None,
    save_path: str | None = None,
    callback: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
    **kwargs: Any,
) -> DDPG:
    """Train DDPG with HER on a goal env (Dict observations: observation, achieved_goal, desired_goal) and return
    the agent (`agent.save(path)`, `agent(obs)` acts on a batch of dict observations).

    `total_timesteps` counts env steps over all envs and MPI ranks, in whole epochs of n_cycles x T x envs x ranks
    steps (baselines counted per rank). Any HERConfig field (baselines' DEFAULT_PARAMS) can be given in
    `override_params` or as a keyword (`lr` sets both learning rates); the run options progress_bar,
    keep_checkpoints, max_nonfinite_updates and deterministic go to the training core. `save_path` is a folder for
    baselines' policy_best, policy_latest and policy_<epoch> checkpoints. `demo_file` (our data-only .npz, see
    `baselines_tf2.her.demos`; baselines' pickled files are refused) turns on the behaviour cloning loss: each batch
    ends with demo_batch_size demonstrated transitions (q_filter, prm_loss_weight and aux_loss_weight as baselines'
    README sets them for demonstrations). `load_path` loads an agent and resumes
    its run when unfinished with the same total steps. `callback(locals(), globals())` returning True stops.
    """
    if network != "mlp":
        raise ArgumentError(f"her trains baselines' actor-critic MLP (network='mlp'; size it with layers= and "
                            f"hidden=), got network={network!r}")
    run_arguments = {name: kwargs.pop(name) for name in RUN_OPTION_NAMES if name in kwargs}
    ranks = world()
    seed_of_rank = rank_seed(seed, ranks.rank)
    venv = as_vec_env(env, seed_of_rank)
    if not is_goal_space(venv.observation_space):
        raise ArgumentError(f"her needs a goal-based env (Dict observations with observation, achieved_goal and "
                            f"desired_goal, e.g. FetchReach-v4): {describe_goal_space_problem(venv.observation_space)}")
    goal_env = local_goal_env(venv)
    spec = goal_env.spec
    episode_length = getattr(spec, "max_episode_steps", None)
    if not episode_length:
        raise ArgumentError("her plays episodes of a fixed length T (baselines read the env's max_episode_steps); "
                            "this env has no time limit: wrap it in gymnasium.wrappers.TimeLimit")
    if demo_file is not None:  # baselines: a demo file turns the behaviour cloning loss on
        kwargs.setdefault("bc_loss", True)
    config = config_for(getattr(spec, "id", None), override_params,
                        {"replay_strategy": replay_strategy, "clip_return": clip_return}, **kwargs)
    if config.bc_loss and demo_file is None:
        raise ArgumentError("bc_loss clones demonstrations: give demo_file (a .npz made by "
                            "baselines_tf2.her.experiment.data_generation.record_demos)")
    if config.bc_loss and config.demo_batch_size >= config.batch_size:
        raise ArgumentError(f"demo_batch_size ({config.demo_batch_size}) must be smaller than batch_size "
                            f"({config.batch_size}): each batch holds both")
    config = dataclasses.replace(config, gamma=config.discount(episode_length))
    steps_per_epoch = config.n_cycles * episode_length * venv.num_envs * ranks.size
    require_number("total_timesteps", total_timesteps)
    epochs = int(total_timesteps) // steps_per_epoch
    if total_timesteps > 0 and epochs == 0:
        raise ArgumentError(f"total_timesteps={total_timesteps} is less than one epoch of {steps_per_epoch} steps "
                            f"(n_cycles {config.n_cycles} x T {episode_length} x {venv.num_envs} envs x {ranks.size} "
                            "ranks)")
    if ranks.size == 1 and total_timesteps > 0:
        logger.warn("HER on one MPI process: baselines' published Fetch results used 19 (mpiexec -n 19); "
                    "one process learns the harder tasks more slowly (Plappert et al. 2018)")
    schedule = Schedule(rollout_steps=episode_length, train_steps=config.n_batches, batch_size=config.batch_size,
                        learning_starts=1, random_steps=0, log_every=config.n_cycles,
                        checkpoint_every=config.checkpoint_freq)
    options = run_options_from_arguments(run_arguments, total_timesteps=epochs * steps_per_epoch,
                                         seed=seed_of_rank)
    replay: Callable[..., Any] = functools.partial(
        HerReplayBuffer, observation_space=venv.observation_space, num_envs=venv.num_envs,
        compute_reward=goal_env.unwrapped.compute_reward,  # type: ignore[attr-defined]
        n_sampled_goal=config.replay_k, goal_selection_strategy=config.replay_strategy, episode_length=episode_length)
    if demo_file is not None:
        replay = with_demonstrations(replay, demo_file, venv, config, episode_length)
    test_env = as_vec_env(eval_env, None if seed_of_rank is None else seed_of_rank + 1) or venv
    agent = learn_off_policy(
        lambda obs_space, action_space: DDPG(obs_space, action_space, "mlp", network_kwargs_of(config), config,
                                             seed=seed_of_rank),
        venv, config, schedule, options, load_path=load_path, callback=callback, replay=replay,
        evaluation=lambda agent: TestRollouts(test_env, agent, config.n_test_rollouts, steps_per_epoch, ranks,
                                              save_path, policy_save_interval))
    assert isinstance(agent, DDPG)
    return agent


def with_demonstrations(replay: Callable[..., HerReplayBuffer], demo_file: str, venv: Any, config: HERConfig,
                        episode_length: int) -> Callable[..., WithDemonstrations]:
    """The replay factory whose memories mix in the first `num_demo` episodes of `demo_file` (our data-only .npz,
    checked against the env's spaces now, before anything trains)."""
    try:
        demos = load_demos(demo_file, venv.observation_space, venv.action_space, config.num_demo)
    except OSError as err:  # a missing or unreadable file; what is wrong inside one is load_demos' ValueError
        raise ArgumentError(f"demo_file {demo_file!r} cannot be read: {err}") from None
    except ValueError as err:
        raise ArgumentError(str(err)) from None
    episodes, steps = demos["actions"].shape[:2]
    if steps != episode_length:
        raise ArgumentError(f"{demo_file}: its episodes have {steps} steps, this env's have {episode_length}")

    def build(limit: int, action_shape: tuple[int, ...], observation_shape: tuple[int, ...], seed: int | None = None,
              flatten: Callable[[Any], Any] | None = None) -> WithDemonstrations:
        memory = replay(limit, action_shape, observation_shape, seed=seed, flatten=flatten)
        demo_memory = HerReplayBuffer(episodes * steps, action_shape, observation_shape,
                                      seed=None if seed is None else seed + 1, flatten=flatten,
                                      observation_space=venv.observation_space, num_envs=1,
                                      compute_reward=memory.compute_reward, n_sampled_goal=config.replay_k,
                                      goal_selection_strategy=config.replay_strategy)
        no_reward, not_terminal = np.zeros(1, np.float32), np.zeros(1, np.float32)
        for step in demo_steps(demos, venv.action_space):
            demo_memory.store(step.obs0, step.actions, no_reward, step.obs1, not_terminal, step.done, [{}])
        return WithDemonstrations(memory, demo_memory, config.demo_batch_size)

    return build


def policy_from_checkpoint(metadata: Any, groups: Any, path: str, *, nenvs: int = 1) -> DDPG:
    """The HER agent of a checkpoint, with its actor and observation statistics (registered in
    `baselines_tf2.algorithms`)."""
    agent = agent_from_checkpoint(DDPG, HERConfig, metadata, groups, path)
    assert isinstance(agent, DDPG)
    return agent
