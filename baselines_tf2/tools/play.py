"""Playing a trained policy headless: the env rebuilt as it was trained, real game scores, an optional video."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import rebuild_vec_env
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.video import VideoWriter
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.training.agent import load_policy
from baselines_tf2.training.checkpoint import CheckpointError, check_spaces_match
from baselines_tf2.training.evaluation import check_episode_progress
from baselines_tf2.training.run import find_vec_normalize

ActionPicker = Callable[[Any, np.ndarray], np.ndarray]  # (observations, done flags of the last step) -> actions


def policy_actions(policy: Any, num_envs: int, *, deterministic: bool = False) -> ActionPicker:
    """Actions from `policy.step` (sampled, as baselines) or `act_deterministic` (most likely), for `num_envs` envs.

    The picker carries a recurrent policy's state from one call to the next.
    """
    state = np.zeros((num_envs, policy.state_size), np.float32) if policy.recurrent else None

    def pick(obs: Any, dones: np.ndarray) -> np.ndarray:
        nonlocal state
        if deterministic:
            actions, state = policy.act_deterministic(obs, S=state, M=dones)
        else:
            actions, _values, state, _neglogp = policy.step(obs, S=state, M=dones)
        return actions

    return pick


class EpisodeResult(NamedTuple):
    """One played episode: its real score and length (the Monitor's), and whether it reached its goal."""

    score: float
    length: int
    success: bool | None  # goal envs: info['is_success'] at the episode's last step; None for envs without it


def play_episode_results(
    env: VecEnv, episodes: int, pick_actions: ActionPicker, *, video_path: str | None = None,
    report: Callable[[str], None] = logger.log,
) -> list[EpisodeResult]:
    """Play from a reset until `episodes` episodes have ended on `env`; each one's score as the Monitor counted it,
    its length, and (for envs whose info has `is_success`, e.g. gymnasium-robotics' goal envs) its success.
    `report` gets one line per episode (the logger's, by default).

    With Atari's wrappers the Monitor sits below life-loss and reward clipping, so the score is the real game
    score over all lives.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    with VideoWriter(video_path) if video_path else contextlib.nullcontext() as video:
        return _play(env, episodes, pick_actions, video, report)


def _play(env: VecEnv, episodes: int, pick_actions: ActionPicker, video: VideoWriter | None,
          report: Callable[[str], None]) -> list[EpisodeResult]:
    """play_episode_results' loop, each step's first frame streamed into `video` when given."""
    results: list[EpisodeResult] = []
    obs = env.reset()
    dones = np.zeros(env.num_envs, np.float32)
    steps_since_episode = 0
    while len(results) < episodes:
        check_episode_progress(steps_since_episode)
        steps_since_episode += 1
        obs, _rewards, done_flags, infos = env.step(pick_actions(obs, dones))
        dones = done_flags.astype(np.float32)
        if video is not None:
            video.append(env.get_images()[0])
        for info in infos:
            if "episode" in info and len(results) < episodes:
                steps_since_episode = 0
                # the info of an episode's last step, where the Monitor adds "episode", holds the goal env's verdict
                success = bool(info["is_success"]) if "is_success" in info else None
                results.append(EpisodeResult(float(info["episode"]["r"]), int(info["episode"]["l"]), success))
                verdict = "" if success is None else f", success {'yes' if success else 'no'}"
                report(f"episode {len(results)}: score {info['episode']['r']:g}, {info['episode']['l']} steps"
                       f"{verdict}")
    return results


def play_episodes(
    env: VecEnv, episodes: int, pick_actions: ActionPicker, *, video_path: str | None = None
) -> list[float]:
    """Play from a reset until `episodes` episodes have ended on `env`; return each score as the Monitor counted it
    (see `play_episode_results`)."""
    return [result.score for result in play_episode_results(env, episodes, pick_actions, video_path=video_path)]


def play_policy(
    policy: PolicyWithValue,
    env: VecEnv,
    episodes: int,
    *,
    deterministic: bool = False,
    video_path: str | None = None,
) -> list[float]:
    """Play until `episodes` episodes have ended on `env`; return each one's real score (see `play_episodes`).

    Actions are sampled as in baselines, or the most likely ones with `deterministic`.
    """
    pick = policy_actions(policy, env.num_envs, deterministic=deterministic)
    return play_episodes(env, episodes, pick, video_path=video_path)


def play_model(model: Any, *, episodes: int, seed: int | None = None, video_path: str | None = None) -> list[float]:
    """Play a model returned by learn() on its training env, rebuilt with one env."""
    env = rebuild_vec_env(model.run_metadata.get("env", {}), num_env=1, seed=seed,
                          render_mode="rgb_array" if video_path else None)
    try:
        return play_policy(model.policy, env, episodes, video_path=video_path)
    finally:
        env.close()


@contextlib.contextmanager
def checkpoint_with_env(
    path: str, *, seed: int | None = None, render_mode: str | None = None
) -> Iterator[tuple[Any, dict[str, Any], VecEnv]]:
    """(policy, metadata, one-env VecEnv rebuilt as trained, spaces checked); the env is closed on exit.

    A missing, corrupt or mismatched checkpoint raises CheckpointError; an env that cannot be rebuilt, ValueError.
    """
    policy, metadata, _groups = load_policy(path)
    try:
        env = rebuild_vec_env(metadata.get("env", {}), num_env=1, seed=seed, render_mode=render_mode)
    except (gymnasium.error.Error, TypeError, KeyError) as err:  # an unknown env id, env kwargs it does not take
        raise CheckpointError(f"{path!r}: the env it describes cannot be built ({type(err).__name__}: {err})") from None
    try:
        normalizer = find_vec_normalize(env)
        if normalizer is not None and isinstance(metadata.get("vec_normalize"), dict):
            # a training checkpoint's statistics at its step (files written before the env description was
            # refreshed at each save hold the starting statistics there)
            normalizer.load_state_dict(metadata["vec_normalize"], source=path)
        check_spaces_match(metadata, env.observation_space, env.action_space, path)
        yield policy, metadata, env
    finally:
        env.close()


def play_checkpoint(
    path: str, *, episodes: int, seed: int | None = None, video_path: str | None = None, deterministic: bool = False
) -> list[EpisodeResult]:
    """Load a checkpoint, rebuild its env (wrappers, frame stack) and play; each episode's score, length and (goal
    envs) success. Raises CheckpointError on a bad file."""
    with checkpoint_with_env(path, seed=seed, render_mode="rgb_array" if video_path else None) as (policy, _, env):
        pick = policy_actions(policy, env.num_envs, deterministic=deterministic)
        return play_episode_results(env, episodes, pick, video_path=video_path)
