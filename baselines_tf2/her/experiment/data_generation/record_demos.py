"""`python -m baselines_tf2.her.experiment.data_generation.record_demos CHECKPOINT --env FetchReach-v4 --episodes 100
--out demos.npz`: demonstrations for HER's `demo_file`, played by a trained policy.

baselines' `fetch_data_generation.py` scripted FetchPickAndPlace by hand and pickled the episodes; here a checkpoint
(any policy that acts on the goal env's Dict observations: her, or sac/td3 with HerReplayBuffer) plays deterministic
episodes of the env's `max_episode_steps` steps on a real env, and `baselines_tf2.her.demos.save_demos` writes them
in its data-only format. The first episode starts from `env.reset(seed=--seed)`, the next ones continue that
generator, so a seed gives the same goals every time. `--only_successful` keeps the episodes whose last step reports
`info['is_success']`, playing on until `--episodes` of them are found or 10 times as many were played.
Bad input (missing or corrupt checkpoint, an env without goals or of other spaces, --episodes < 1) prints one line
and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import gymnasium
import numpy as np

from baselines_tf2.common.cmd_util import get_env_type, make_env
from baselines_tf2.her.demos import save_demos
from baselines_tf2.off_policy.goals import GOAL_KEYS, describe_goal_space_problem, is_goal_space
from baselines_tf2.training.checkpoint import CheckpointError, check_spaces_match, read_metadata

PROG = "python -m baselines_tf2.her.experiment.data_generation.record_demos"
DEFAULT_EPISODES = 100  # baselines' fetch_data_generation numItr
ATTEMPTS_PER_EPISODE = 10  # --only_successful gives up after this many played episodes per requested one


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint of a policy trained on the goal env (agent.save, run CLI)")
    parser.add_argument("--env", required=True, help="the goal env's id, e.g. FetchReach-v4")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                        help=f"episodes to record ({DEFAULT_EPISODES})")
    parser.add_argument("--out", required=True, type=os.path.expanduser,
                        help="the .npz demo file to write (replaced atomically)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset (0)")
    parser.add_argument("--only_successful", action="store_true",
                        help="record only episodes that end with info['is_success']")
    return parser


def play_episode(policy: Any, env: gymnasium.Env, steps: int, seed: int | None) -> dict[str, np.ndarray]:
    """One deterministic episode of `steps` steps as the demo format's entries for one episode (no batch axis)."""
    obs, _info = env.reset(seed=seed)
    low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]  # a Box (checked)
    goals = {key: [np.asarray(obs[key]).reshape(-1)] for key in ("observation", "achieved_goal")}
    desired, actions, successes = [], [], []
    for step in range(steps):
        desired.append(np.asarray(obs["desired_goal"]).reshape(-1))
        batch = {key: np.asarray(obs[key])[None] for key in GOAL_KEYS}
        action = np.clip(policy.act_deterministic(batch)[0][0], low, high)  # as make_env's ClipActionsWrapper
        obs, _reward, terminated, truncated, info = env.step(action)
        actions.append(np.asarray(action).reshape(-1))
        successes.append(float(info.get("is_success", 0.0)))  # as HER's test rollouts read it
        for key in goals:
            goals[key].append(np.asarray(obs[key]).reshape(-1))
        if (terminated or truncated) and step < steps - 1:
            raise ValueError(f"an episode ended after {step + 1} of the env's {steps} steps; demo files hold "
                             "episodes of one fixed length, as HER plays them")
    return {**{key: np.stack(values) for key, values in goals.items()}, "desired_goal": np.stack(desired),
            "actions": np.stack(actions), "is_success": np.asarray(successes)}


def record(policy: Any, env: gymnasium.Env, episodes: int, *, seed: int, only_successful: bool,
           ) -> tuple[dict[str, np.ndarray], int]:
    """(the demo entries of `episodes` recorded episodes, or fewer if --only_successful gave up; episodes played)."""
    steps = int(env.spec.max_episode_steps)  # type: ignore[union-attr, arg-type]  # make_goal_env checked it
    kept: list[dict[str, np.ndarray]] = []
    played = 0
    limit = episodes * ATTEMPTS_PER_EPISODE if only_successful else episodes
    while len(kept) < episodes and played < limit:
        episode = play_episode(policy, env, steps, seed if played == 0 else None)
        played += 1
        if not only_successful or episode["is_success"][-1] > 0:
            kept.append(episode)
    if not kept:
        raise ValueError(f"none of the {played} episodes played succeeded; nothing to record")
    return {key: np.stack([episode[key] for episode in kept]) for key in kept[0]}, played


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments that can be told without the env or TensorFlow, if anything."""
    if args.episodes < 1:
        return f"--episodes must be at least 1, got {args.episodes}"
    if not os.path.isfile(args.checkpoint):
        return f"checkpoint {args.checkpoint!r} does not exist"
    if os.path.isdir(args.out):
        return f"--out {args.out!r} is a folder; give the .npz file to write"
    folder = os.path.dirname(os.path.abspath(args.out))
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return f"--out: cannot write in {folder!r}"
    return None


def make_goal_env(env_id: str) -> tuple[gymnasium.Env | None, str | None]:
    """(the env as HER trains on it: Dict observations, monitored, actions clipped; or None and why not)."""
    try:
        env = make_env(env_id, get_env_type(env_id), flatten_dict_observations=False)
    except (ValueError, ImportError, gymnasium.error.Error) as err:
        return None, f"--env {env_id!r}: {err}"
    problem = None
    if not is_goal_space(env.observation_space):
        why = describe_goal_space_problem(env.observation_space)
        problem = (f"--env {env_id!r} is not a goal env (HER's demonstrations need Dict observations with "
                   f"observation, achieved_goal and desired_goal): {why}")
    elif not isinstance(env.action_space, gymnasium.spaces.Box):
        problem = f"--env {env_id!r} has {env.action_space} actions; HER's demonstrations need a Box action space"
    elif not getattr(env.spec, "max_episode_steps", None):
        problem = f"--env {env_id!r} has no time limit; demonstrations are episodes of its max_episode_steps"
    if problem is not None:
        env.close()
        return None, problem
    return env, None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, record, write and summarise; returns the exit status (usage errors exit 2 through argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem is not None:
        parser.error(problem)
    try:
        metadata = read_metadata(args.checkpoint)  # a bad file fails here, before TensorFlow is imported
    except CheckpointError as err:
        parser.error(str(err))
    env, problem = make_goal_env(args.env)
    if env is None:
        parser.error(problem or f"--env {args.env!r} cannot be built")
    try:
        try:
            check_spaces_match(metadata, env.observation_space, env.action_space, args.checkpoint)
        except CheckpointError as err:
            parser.error(str(err))
        from baselines_tf2.training.agent import load_policy  # TensorFlow from here on

        try:
            policy, _metadata, _groups = load_policy(args.checkpoint)
        except CheckpointError as err:
            parser.error(str(err))
        try:
            demos, played = record(policy, env, args.episodes, seed=args.seed, only_successful=args.only_successful)
        except ValueError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 1
    finally:
        env.close()
    save_demos(args.out, demos)
    recorded, steps = demos["actions"].shape[:2]
    kept = f"the {recorded} successful of {played} played" if args.only_successful else f"{recorded}"
    shortfall = f" (asked for {args.episodes})" if recorded < args.episodes else ""
    print(f"recorded {kept} episodes{shortfall} of {steps} steps on {args.env} with {args.checkpoint}; success rate "
          f"{float(np.mean(demos['is_success'][:, -1])):.2f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
