"""Frame-stacking ablation: DQN on PongNoFrameskip-v4 seeing 4 stacked frames vs only the current frame.

One frame cannot show which way the ball moves, so the 1-frame agent faces a partially observed game. Both runs
use baselines' Atari DQN settings (deepq.defaults.atari(): Nature convs, dueling head, prioritized replay) and
wrap_deepmind, differing only in `frame_stack`. The figure puts both learning curves (real game scores) in one
panel, one curve per variant.

The default 200k steps per variant (~70 min for both on 2 cores) only checks the pipeline: DQN needs 2M+ steps
to learn Pong, and at 200k its score is still near -21. A real comparison, 3 seeds of 2M steps (~6 h per run):

    python examples/pong_framestack_ablation.py --steps 2000000 --seeds 3 --out runs/pong_ablation
    python examples/pong_framestack_ablation.py --smoke
"""

from __future__ import annotations

from pathlib import Path

from _common import example_parser, save_curves

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import make_vec_env
from baselines_tf2.deepq import deepq
from baselines_tf2.deepq.defaults import atari

ENV_ID = "PongNoFrameskip-v4"
VARIANTS = {"framestack": True, "no-framestack": False}  # folder name -> wrap_deepmind's frame_stack
STEPS, SMOKE_STEPS = 200_000, 1_000
SMOKE_KWARGS = dict(learning_starts=300, buffer_size=1_000, batch_size=8, checkpoint_freq=500)  # trains a little
SMOKE_GAME_STEPS = 200  # smoke runs cut games at 200 agent steps, so that each run ends a few
SMOOTH_RADIUS = 5  # games each side


def train_variant(frame_stack: bool, seed: int, total_timesteps: int, run_dir: Path, smoke: bool) -> None:
    """One DQN run on Pong with or without 4-frame stacking, logged (logger and Monitor) into `run_dir`."""
    with logger.scoped_configure(str(run_dir), ["stdout", "csv"]):
        venv = make_vec_env(ENV_ID, "atari", 1, seed, wrapper_kwargs={"frame_stack": frame_stack},
                            env_kwargs={"max_episode_steps": SMOKE_GAME_STEPS} if smoke else None,
                            vec_env_kind="dummy")
        print(f"{run_dir.name}: observations {venv.observation_space.shape}")
        deepq.learn(venv, seed=seed, total_timesteps=total_timesteps, **{**atari(), **(SMOKE_KWARGS if smoke else {})})
        venv.close()


def main() -> None:
    parser = example_parser(__doc__, "runs/examples/pong_framestack_ablation")
    parser.add_argument("--steps", type=int, default=STEPS, help="env steps (agent steps, 4 frames each) per run")
    parser.add_argument("--seeds", type=int, default=1, help="runs per variant (seeds 0 .. N-1)")
    args = parser.parse_args()
    steps = SMOKE_STEPS if args.smoke else args.steps

    run_dirs = []
    for seed in range(args.seeds):
        for name, frame_stack in VARIANTS.items():
            run_dirs.append(args.out / f"{name}-seed{seed}")
            train_variant(frame_stack, seed, steps, run_dirs[-1], args.smoke)
    save_curves(run_dirs, args.out / "pong_framestack_ablation.png", smooth_radius=SMOOTH_RADIUS,
                split_fn=lambda _result: f"{ENV_ID}: DQN with 4 stacked frames vs 1",
                ylabel="game score")


if __name__ == "__main__":
    main()
