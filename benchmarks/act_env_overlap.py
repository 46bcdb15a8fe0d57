"""Does acting while envs step pay on this machine? PPO's rollout (policy.step + env step of 8 Breakout envs)
two ways, alternating run by run:

- serial: one ShmemVecEnv of 8 envs; act on all 8, then step all 8 (what ppo2's Runner does);
- overlapped: two ShmemVecEnvs of 4; act on one half while the other half's envs step (`step_async`).

    python benchmarks/act_env_overlap.py --steps 600 --repeats 3 [--precision float32]

Prints agent steps/s per scheme (medians) and the ratio overlapped/serial.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np
from bench_common import ENV_ID, FRAME_STACK, NUM_ENV
from ours import make_policy

from baselines_tf2.common.cmd_util import make_atari_env
from baselines_tf2.common.vec_env import VecEnv, VecFrameStack


def stacked_envs(num_env: int, seed: int) -> VecEnv:
    """`num_env` Breakout envs in a ShmemVecEnv behind VecFrameStack, as `baselines_tf2.run` builds them."""
    return VecFrameStack(make_atari_env(ENV_ID, num_env, seed, vec_env_kind="shmem"), FRAME_STACK)


def serial_rollout(policy: Any, steps: int, seed: int) -> float:
    """Agent steps/s acting on all envs, then stepping all of them."""
    venv = stacked_envs(NUM_ENV, seed)
    try:
        obs = venv.reset()
        start = time.perf_counter()
        for _ in range(steps):
            actions = policy.step(obs)[0]
            obs = venv.step(actions)[0]
        return steps * NUM_ENV / (time.perf_counter() - start)
    finally:
        venv.close()


def overlapped_rollout(policy: Any, steps: int, seed: int) -> float:
    """Agent steps/s acting on one half of the envs while the other half steps."""
    halves = [stacked_envs(NUM_ENV // 2, seed), stacked_envs(NUM_ENV // 2, seed + NUM_ENV // 2)]
    try:
        obs = [half.reset() for half in halves]
        start = time.perf_counter()
        halves[0].step_async(policy.step(obs[0])[0])
        for _ in range(steps):
            halves[1].step_async(policy.step(obs[1])[0])
            obs[0] = halves[0].step_wait()[0]
            halves[0].step_async(policy.step(obs[0])[0])
            obs[1] = halves[1].step_wait()[0]
        halves[0].step_wait()
        return steps * NUM_ENV / (time.perf_counter() - start)
    finally:
        for half in halves:
            half.close()


SCHEMES: dict[str, Callable[..., float]] = {"serial": serial_rollout, "overlapped": overlapped_rollout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600, help="rollout steps of all envs per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16"))
    args = parser.parse_args()
    policy = make_policy(args.precision)
    policy.step(np.zeros((NUM_ENV // 2, 84, 84, FRAME_STACK), np.uint8))  # warm both batch sizes up
    policy.step(np.zeros((NUM_ENV, 84, 84, FRAME_STACK), np.uint8))
    runs: dict[str, list[float]] = {name: [] for name in SCHEMES}
    for repeat in range(args.repeats):
        for name, rollout in SCHEMES.items():
            runs[name].append(rollout(policy, args.steps, seed=repeat))
            print(f"[{repeat + 1}/{args.repeats}] {name}: {runs[name][-1]:.1f} steps/s", flush=True)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    print(f"\n`python benchmarks/act_env_overlap.py --steps {args.steps} --repeats {args.repeats} "
          f"--precision {args.precision}`\n")
    print("| scheme | steps/s (median) | runs |\n|---|---|---|")
    for name, values in runs.items():
        print(f"| {name} | {medians[name]:.1f} | {', '.join(f'{value:.1f}' for value in values)} |")
    print(f"\noverlapped / serial: {medians['overlapped'] / medians['serial']:.2f}x")


if __name__ == "__main__":
    main()
