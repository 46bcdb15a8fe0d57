"""`python -m baselines_tf2.evaluate CHECKPOINT --episodes 30`: a checkpoint's real game scores over N episodes.

The env is rebuilt as the checkpoint was trained (wrappers, frame stack); scores are the Monitor's, so for Atari
they are whole-game scores, not clipped per-life rewards. Actions:
  --deterministic   greedy (DQN) / most likely (PPO2, A2C) action
  --epsilon E       epsilon-greedy on top of that action: the DQN papers' evaluation (0.05 in Nature DQN,
                    0.001 from Rainbow on)
  (neither)         deepq: epsilon 0.001 (as deepq.learn evaluates); ppo2/a2c: sampled from the policy
No-op starts (Atari): make_atari's NoopResetEnv already starts every game with 1..30 random no-op frames (one
emulator frame each, inside the 4-frame skip, as baselines), which is the 30 no-op protocol; --noop_starts N sets
that wrapper's maximum to N instead of adding a second round of no-ops. Other envs have no NOOP action and refuse it.
Goal envs (FetchReach-v4 and any other whose info has is_success) also report each episode's success (is_success at
its last step) and the success rate.
Bad input (missing or corrupt checkpoint, flags that do not fit it) prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import zipfile
from typing import Any, Sequence

from baselines_tf2.common.atomic_io import atomic_write_text
from baselines_tf2.logger import format_table
from baselines_tf2.training.checkpoint import CheckpointError, read_metadata

PROG = "python -m baselines_tf2.evaluate"
DEFAULT_EPISODES = 30  # the number of games the Nature DQN evaluation plays


def build_parser() -> argparse.ArgumentParser:
    """The command line's flags."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint file written by model.save, act.save or the run CLI")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES, help=f"episodes to play ({DEFAULT_EPISODES})")
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--epsilon", type=float, default=None,
                         help="epsilon-greedy on the greedy action (default: 0.001 for deepq, sampling for ppo2/a2c)")
    actions.add_argument("--deterministic", action="store_true", help="always the greedy / most likely action")
    parser.add_argument("--noop_starts", type=int, default=None,
                        help="Atari: start each game with 1..N random no-op frames (default: the env's own, 30)")
    parser.add_argument("--seed", type=int, default=None, help="seeds the env, the no-ops and the action draws")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write settings, per-episode scores and lengths (and successes, for goal envs) "
                             "and summary as JSON to PATH ('-' = stdout)")
    return parser


def flag_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags on their own (before the checkpoint is read), or None."""
    if args.episodes < 1:
        return f"--episodes must be >= 1, got {args.episodes}"
    if args.epsilon is not None and not 0.0 <= args.epsilon <= 1.0:
        return f"--epsilon must lie in [0, 1], got {args.epsilon}"
    if args.noop_starts is not None and args.noop_starts < 1:
        return f"--noop_starts must be >= 1, got {args.noop_starts}"
    if args.json not in (None, "-"):
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            return f"--json: cannot write {args.json!r} (no writable folder {folder!r})"
        if os.path.isdir(args.json):
            return f"--json: {args.json!r} is a folder; give a file name for the report, e.g. {args.json}/scores.json"
        if os.path.isfile(args.json) and zipfile.is_zipfile(args.json):  # checkpoints are zip archives
            return (f"--json: {args.json!r} holds a checkpoint (a zip archive), which the report would replace; "
                    "give another file name, e.g. scores.json")
    return None


def describe(report: dict[str, Any]) -> str:
    """The report as text: what was evaluated and how, then baselines' table of the score statistics (and the
    success rate, for goal envs)."""
    settings, summary = report["settings"], report["summary"]
    actions = "sampled from the policy" if settings["actions"] == "sampled" else settings["actions"]
    if actions == "epsilon-greedy":
        actions = f"epsilon-greedy (epsilon {settings['epsilon']:g})"
    noops = f"1..{settings['noop_starts']} no-op frames" if settings["noop_starts"] else "none"
    stats = {
        "episodes": str(summary["episodes"]),
        "mean ± std": f"{summary['mean']:.6g} ± {summary['std']:.3g}",
        "min": f"{summary['min']:.6g}",
        "median": f"{summary['median']:.6g}",
        "max": f"{summary['max']:.6g}",
        "mean length": f"{sum(report['lengths']) / len(report['lengths']):.6g} steps",
    }
    if "success_rate" in summary:
        stats["success rate"] = f"{summary['success_rate']:.3g} ({sum(report['successes'])}/{summary['episodes']})"
    header = (f"{report['checkpoint']} ({settings['alg']} on {settings['env_id']}): "
              f"actions {actions}, no-op starts {noops}, seed {settings['seed']}")
    return header + "\n" + format_table(stats)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, evaluate, print (and write JSON); returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.json not in (None, "-"):
        args.json = os.path.expanduser(args.json)  # as checkpoint paths: --json=~/scores.json is the home folder's
    problem = flag_problem(args)
    if problem is None:
        try:
            read_metadata(args.checkpoint)  # a bad file fails here, before TensorFlow is imported
        except CheckpointError as err:
            problem = str(err)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2

    from baselines_tf2.tools.evaluation import evaluate_checkpoint

    text_out = sys.stderr if args.json == "-" else sys.stdout  # keep stdout pure JSON with --json -
    try:
        with contextlib.redirect_stdout(text_out):
            report = evaluate_checkpoint(args.checkpoint, episodes=args.episodes, epsilon=args.epsilon,
                                         deterministic=args.deterministic, noop_starts=args.noop_starts,
                                         seed=args.seed)
    except (CheckpointError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    print(describe(report), file=text_out, end="")
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        try:
            atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        except OSError as err:  # the folder was checked first; a full disk or a folder gone since still fail here
            print(f"{PROG}: error: --json: cannot write {args.json!r} ({err}); the scores are above", file=sys.stderr)
            return 1
        print(f"wrote {args.json}", file=text_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
