"""Random agent on an Atari game through the whole env stack (make_atari, wrap_deepmind, VecEnv, VecFrameStack).

A smoke check that a fresh install can emulate Atari: prints each finished game's real score and the steps/s.
    python examples/random_rollout.py --env BreakoutNoFrameskip-v4 --num_env 4 --steps 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from baselines_tf2.common.cmd_util import VEC_ENV_KINDS, make_atari_env
from baselines_tf2.common.vec_env import VecFrameStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="BreakoutNoFrameskip-v4", help="Atari env id")
    parser.add_argument("--num_env", type=int, default=4, help="parallel envs")
    parser.add_argument("--steps", type=int, default=2000, help="agent steps per env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vec_env", choices=VEC_ENV_KINDS, default="shmem")
    args = parser.parse_args()

    venv = VecFrameStack(make_atari_env(args.env, args.num_env, args.seed, vec_env_kind=args.vec_env), 4)
    rng = np.random.default_rng(args.seed)
    scores: list[float] = []
    try:
        obs = venv.reset()
        print(f"{args.env}: {args.num_env} envs, observations {obs.shape} {obs.dtype}")
        start = time.perf_counter()
        for _ in range(args.steps):
            actions = rng.integers(venv.action_space.n, size=args.num_env)
            obs, _rewards, _dones, infos = venv.step(actions)
            for info in infos:
                if "episode" in info:
                    scores.append(info["episode"]["r"])
                    print(f"game {len(scores)}: score {info['episode']['r']:.0f}, {info['episode']['l']} steps")
        elapsed = time.perf_counter() - start
    finally:
        venv.close()
    mean = f"{np.mean(scores):.1f}" if scores else "n/a"
    print(f"{len(scores)} games, mean score {mean}, {args.steps * args.num_env / elapsed:.0f} agent steps/s")


if __name__ == "__main__":
    main()
