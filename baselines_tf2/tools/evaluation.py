"""Scoring a checkpoint as papers report it: N episodes, greedy / epsilon-greedy / sampled actions, no-op starts.

Scores are the Monitor's, so for Atari they are real game scores over all lives (the Monitor sits below the
life-loss and reward-clipping wrappers). One env plays the episodes one after another: taking the first N episodes
to finish on several envs would over-represent short ones.
"""

from __future__ import annotations

from typing import Any, Sequence, cast

import gymnasium
import numpy as np

from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.common.atari_wrappers import NOOP_ACTION, NoopResetEnv
from baselines_tf2.common.vec_env import DummyVecEnv, VecEnv
from baselines_tf2.nn.tf_util import set_global_seeds
from baselines_tf2.tools.play import ActionPicker, checkpoint_with_env, play_episode_results, policy_actions


def acting_epsilon(default_epsilon: float | None, epsilon: float | None, deterministic: bool) -> float | None:
    """The epsilon to act with (0 = greedy), or None to sample from the policy as it was trained.

    Without `epsilon` or `deterministic`: the algorithm's `default_epsilon` (from `baselines_tf2.algorithms`:
    deepq's training actions are exploration, not a policy worth sampling, so it plays epsilon-greedy; the
    actor-critics' stochastic policy is the trained policy, so None samples it).
    """
    if deterministic:
        return 0.0
    if epsilon is not None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
        return float(epsilon)
    return default_epsilon


def epsilon_greedy(
    greedy: ActionPicker, action_space: gymnasium.Space, epsilon: float, rng: np.random.Generator
) -> ActionPicker:
    """Greedy actions, each replaced by a uniformly random one with probability `epsilon` (Discrete actions only).

    The greedy picker runs on every step, so a recurrent policy's state follows the observations it is given.
    """
    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ValueError(f"epsilon-greedy acting needs a Discrete action space, but the env has {action_space}; "
                         "use --deterministic or the default sampling instead")

    def pick(obs: Any, dones: np.ndarray) -> np.ndarray:
        actions = np.asarray(greedy(obs, dones))
        explore = rng.random(len(actions)) < epsilon
        random_actions = action_space.start + rng.integers(action_space.n, size=len(actions))
        return np.where(explore, random_actions, actions)

    return pick


def noop_wrappers(env: VecEnv) -> list[NoopResetEnv | None]:
    """Each env's NoopResetEnv (make_atari puts one in every Atari env) or None, for an in-process (Dummy) VecEnv."""
    found: list[NoopResetEnv | None] = []
    for inner in _in_process_envs(env):
        while isinstance(inner, gymnasium.Wrapper) and not isinstance(inner, NoopResetEnv):
            inner = inner.env
        found.append(inner if isinstance(inner, NoopResetEnv) else None)
    return found


def _in_process_envs(env: VecEnv) -> list[gymnasium.Env]:
    """The envs of an in-process (Dummy) VecEnv (an AttributeError for one whose envs live in workers)."""
    return cast(DummyVecEnv, env.unwrapped).envs


def set_noop_starts(env: VecEnv, noop_max: int, env_id: str | None) -> None:
    """Make every game on `env` start with 1..`noop_max` random no-op frames, by setting make_atari's NoopResetEnv.

    The existing wrapper is changed rather than a second one added, so no game gets two rounds of no-ops. It sits
    inside MaxAndSkipEnv, as in baselines, so each no-op is one emulator frame.
    """
    if noop_max < 1:
        raise ValueError(f"noop_starts must be >= 1, got {noop_max}")
    wrappers = noop_wrappers(env)
    for inner, wrapper in zip(_in_process_envs(env), wrappers):
        get_meanings = getattr(inner.unwrapped, "get_action_meanings", None)
        if get_meanings is None or list(get_meanings())[NOOP_ACTION] != "NOOP":
            actions = "no action meanings" if get_meanings is None else f"actions {list(get_meanings())}"
            raise ValueError(
                f"no-op starts need an Atari game whose action {NOOP_ACTION} is NOOP; {env_id} has {actions}")
        if wrapper is None:
            raise ValueError(f"no-op starts need the NoopResetEnv that make_atari adds; {env_id}'s env has none")
        wrapper.noop_max = int(noop_max)


def summarize(scores: Sequence[float]) -> dict[str, float | int]:
    """Episodes, mean, standard deviation (population, ddof=0), min, median and max of the scores."""
    values = np.asarray(scores, dtype=np.float64)
    return {
        "episodes": len(values),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "median": float(np.median(values)),
        "max": float(values.max()),
    }


def evaluate_checkpoint(
    path: str,
    *,
    episodes: int,
    epsilon: float | None = None,
    deterministic: bool = False,
    noop_starts: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Play `episodes` episodes with a checkpoint on its rebuilt env; a JSON-able report of settings and scores, and
    for goal envs (whose info has is_success) each episode's success and the success rate.

    `noop_starts=None` keeps the env as trained (Atari: 1..30 no-op frames per game, from make_atari). Raises
    CheckpointError for a missing, corrupt or mismatched checkpoint and ValueError for settings that do not fit.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    set_global_seeds(seed)  # seeds the policy's sampling; the env is seeded below
    with checkpoint_with_env(path, seed=seed) as (policy, metadata, env):
        env_id = (metadata.get("env", {}).get("recipe") or {}).get("env_id")
        if noop_starts is not None:
            set_noop_starts(env, noop_starts, env_id)
        effective_epsilon = acting_epsilon(ALGORITHMS[metadata["alg"]].eval_epsilon, epsilon, deterministic)
        if effective_epsilon is None:
            pick = policy_actions(policy, env.num_envs)
        else:
            greedy = policy_actions(policy, env.num_envs, deterministic=True)
            pick = greedy if effective_epsilon == 0.0 else epsilon_greedy(
                greedy, env.action_space, effective_epsilon, np.random.default_rng(seed))
        noop_maxes = {wrapper.noop_max for wrapper in noop_wrappers(env) if wrapper is not None}
        results = play_episode_results(env, episodes, pick)
    actions = "sampled" if effective_epsilon is None else "greedy" if effective_epsilon == 0.0 else "epsilon-greedy"
    settings = {
        "alg": metadata.get("alg"),
        "env_id": env_id,
        "episodes": episodes,
        "actions": actions,
        "epsilon": effective_epsilon,
        "noop_starts": noop_maxes.pop() if noop_maxes else None,
        "seed": seed,
    }
    scores = [result.score for result in results]
    summary: dict[str, float | int] = summarize(scores)
    report: dict[str, Any] = {"checkpoint": path, "settings": settings, "scores": scores,
                              "lengths": [result.length for result in results], "summary": summary}
    successes = [result.success for result in results if result.success is not None]
    if len(successes) == len(results):  # a goal env reports is_success at every episode's end
        report["successes"] = successes
        summary["success_rate"] = float(np.mean(successes))
    return report
