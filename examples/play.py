"""Play a saved agent headless on the env it was trained on, printing each episode's real score.

Goal envs such as FetchReach-v4 (whose info has is_success) also print whether each episode ended at its goal.

    python examples/play.py runs/ppo2-BreakoutNoFrameskip-v4-.../model --episodes 3 [--video out.mp4] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

from baselines_tf2.common.video import video_path_problem
from baselines_tf2.training.checkpoint import CheckpointError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint file written by learn()/model.save or the run CLI")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to play")
    parser.add_argument("--video", default=None,
                        help="write a video of the real game frames here (MP4; a GIF when no MP4 encoder is installed)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--deterministic", action="store_true", help="take the most likely action, not a sample")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    problem = video_path_problem(args.video) if args.video else None
    if problem is not None:
        parser.error(problem)

    from baselines_tf2.tools.play import play_checkpoint

    try:
        episodes = play_checkpoint(args.checkpoint, episodes=args.episodes, seed=args.seed, video_path=args.video,
                                   deterministic=args.deterministic)
    except (CheckpointError, ValueError) as err:
        print(f"play.py: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the video's folder, checked first, can still fill up or go away while playing
        print(f"play.py: error: {err}", file=sys.stderr)
        return 1
    print(f"mean score over {len(episodes)} episodes: {sum(episode.score for episode in episodes) / len(episodes):g}")
    successes = [episode.success for episode in episodes if episode.success is not None]
    if successes:
        print(f"success rate over {len(successes)} episodes: {sum(successes) / len(successes):g} "
              f"({sum(successes)}/{len(successes)})")
    if args.video:
        from baselines_tf2.common.video import video_path_for

        print(f"video written to {video_path_for(args.video)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
