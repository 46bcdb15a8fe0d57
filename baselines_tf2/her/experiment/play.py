"""`python -m baselines_tf2.her.experiment.play POLICY [--n_test_rollouts 10] [--seed 0] [--render 0] [--env ID]`:
baselines' HER play script on a baselines_tf2 checkpoint.

It plays `--n_test_rollouts` episodes with the policy's deterministic actions (baselines' evaluator, exploit=True)
on the goal env the checkpoint records (trained on an env made by make_vec_env or the run CLI; `--env` names it
otherwise, or plays another env with the same spaces), one line per episode, then prints the success rate
(`info['is_success']` at each episode's last step, as HER's test rollouts count it) and the mean return. The first
reset is seeded with `--seed`. `--render 1` opens the env's window (render_mode 'human'; baselines rendered by
default, here it is off as most machines that train have no display).

baselines' pickled policies (policy_best.pkl) are refused: a pickle runs code when it is loaded and holds a
TensorFlow 1 graph; train again with `baselines_tf2.her.her.learn(save_path=...)` or the run CLI. Bad input (a
missing, pickled or corrupt checkpoint, an env without goals or of other spaces, --n_test_rollouts < 1) prints one
line and exits with status 2, before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import gymnasium
import numpy as np

from baselines_tf2.common.cmd_util import get_env_type, make_vec_env, rebuild_vec_env
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.off_policy.goals import describe_goal_space_problem, is_goal_space
from baselines_tf2.training.checkpoint import (
    CheckpointError,
    check_spaces_match,
    read_metadata,
    resolve_checkpoint_path,
)

PROG = "python -m baselines_tf2.her.experiment.play"
PICKLE_PROTOCOL_2_OR_LATER = b"\x80"  # the first byte of every pickle since protocol 2 (baselines wrote these)


def build_parser() -> argparse.ArgumentParser:
    """baselines' options (policy_file, --seed, --n_test_rollouts, --render), and --env."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy_file", help="a baselines_tf2 checkpoint of a goal-env policy (her's policy_best, "
                                            "agent.save, the run CLI's --save_path), or a run folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset (0)")
    parser.add_argument("--n_test_rollouts", type=int, default=10, help="episodes to play (10)")
    parser.add_argument("--render", type=int, default=0, help="1: show the env's window while playing (0)")
    parser.add_argument("--env", default=None,
                        help="the goal env's id, when the checkpoint does not record it (or to play another)")
    return parser


def is_pickle(path: str) -> bool:
    """Whether `path` looks like a pickle (baselines' .pkl policies): by its name or its first byte."""
    if path.endswith(".pkl"):
        return True
    with open(path, "rb") as file:
        return file.read(1) == PICKLE_PROTOCOL_2_OR_LATER


def make_play_env(args: argparse.Namespace, metadata: dict[str, Any]) -> tuple[VecEnv, str]:
    """(one-env VecEnv of the goal env to play, its id); ValueError saying why there is none."""
    recipe = (metadata.get("env") or {}).get("recipe")
    if args.env is None and not recipe:
        raise ValueError(f"{args.policy_file!r} does not record the env it was trained on (a VecEnv not made by "
                         "make_vec_env): give --env, e.g. --env FetchReach-v4")
    render_mode = "human" if args.render else None
    try:
        if args.env is not None:
            env_id = args.env
            env = make_vec_env(env_id, get_env_type(env_id), 1, args.seed, flatten_dict_observations=False,
                               force_dummy=True, render_mode=render_mode)
        else:
            env_id = metadata["env"]["recipe"]["env_id"]
            env = rebuild_vec_env(metadata["env"], num_env=1, seed=args.seed, render_mode=render_mode)
    except (ValueError, ImportError, TypeError, KeyError, gymnasium.error.Error) as err:
        raise ValueError(f"the env cannot be built: {err}") from None
    if not is_goal_space(env.observation_space):
        env.close()
        raise ValueError(f"{env_id!r} is not a goal env (HER plays Dict observations with observation, "
                         f"achieved_goal and desired_goal): {describe_goal_space_problem(env.observation_space)}; "
                         "for other policies use python -m baselines_tf2.evaluate")
    return env, env_id


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, play and summarise; returns the exit status (usage errors exit 2 through argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_test_rollouts < 1:
        parser.error(f"--n_test_rollouts must be at least 1, got {args.n_test_rollouts}")
    if not os.path.exists(args.policy_file):
        parser.error(f"policy file {args.policy_file!r} does not exist")
    try:
        path = resolve_checkpoint_path(args.policy_file)
        if os.path.isfile(path) and is_pickle(path):
            parser.error(f"{path!r} is a pickle (baselines' policy .pkl): baselines_tf2 never unpickles (a pickle "
                         "runs code when loaded) and cannot rebuild TensorFlow 1 graphs; train again with "
                         "baselines_tf2.her.her.learn(..., save_path=DIR) or python -m baselines_tf2.run --alg=her "
                         "--save_path=PATH")
        metadata = read_metadata(path)  # a bad file fails here, before TensorFlow is imported
    except (CheckpointError, OSError) as err:
        parser.error(str(err))
    try:
        env, env_id = make_play_env(args, metadata)
    except ValueError as err:
        parser.error(str(err))
    try:
        try:
            check_spaces_match(metadata, env.observation_space, env.action_space, path)
        except CheckpointError as err:
            parser.error(str(err))
        # TensorFlow from here on
        from baselines_tf2.tools.play import play_episode_results, policy_actions
        from baselines_tf2.training.agent import load_policy

        try:
            policy, _metadata, _groups = load_policy(path)
        except CheckpointError as err:
            parser.error(str(err))
        results = play_episode_results(env, args.n_test_rollouts,
                                       policy_actions(policy, env.num_envs, deterministic=True), report=print)
    finally:
        env.close()
    wins = sum(bool(result.success) for result in results)
    mean_return = float(np.mean([result.score for result in results]))
    print(f"{len(results)} deterministic episodes of {env_id} (seed {args.seed}) with {path}: success rate "
          f"{wins / len(results):g} ({wins}/{len(results)}), mean return {mean_return:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
