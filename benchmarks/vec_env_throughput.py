"""Agent steps/s of 8 Breakout envs (make_atari + wrap_deepmind, random actions) through each VecEnv.

Beside them, in the same invocation: gymnasium's own vector envs on the same wrappers (the peer a user would
otherwise reach for: SyncVectorEnv and AsyncVectorEnv with shared memory) and a single-process raw ALE loop (the
emulator's ceiling for one core). Configurations run round-robin, `--repeats` times each, and the table shows
medians and the ratio to the peer's faster configuration, as ours is shown in each of its configurations.

    python benchmarks/vec_env_throughput.py --num_env 8 --steps 1500 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import ale_py
import gymnasium
import numpy as np

from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.common.cmd_util import envs_per_worker
from baselines_tf2.common.vec_env import DummyVecEnv, ShmemVecEnv, SubprocVecEnv

ENV_ID = "BreakoutNoFrameskip-v4"


def deepmind_env() -> gymnasium.Env:
    """The Atari stack the learners train on (frame stacking happens later, in VecFrameStack)."""
    return wrap_deepmind(make_atari(ENV_ID))


def random_steps_per_second(step: Callable[[np.ndarray], object], num_env: int, steps: int) -> float:
    """Agent steps/s of `steps` batched calls of `step` with random Breakout actions (after the caller's reset)."""
    actions = np.random.default_rng(0).integers(4, size=(steps, num_env))
    start = time.perf_counter()
    for batch in actions:
        step(batch)
    return steps * num_env / (time.perf_counter() - start)


def time_baselines_vec_env(make_venv: Callable[[], object], num_env: int, steps: int) -> float:
    """Agent steps/s of one of our VecEnvs, after a seeded reset."""
    venv = make_venv()
    try:
        venv.seed(0)
        venv.reset()
        return random_steps_per_second(venv.step, num_env, steps)
    finally:
        venv.close()


def time_gymnasium_sync(num_env: int, steps: int) -> float:
    """The same through gymnasium.vector.SyncVectorEnv (every env in this process)."""
    venv = gymnasium.vector.SyncVectorEnv([deepmind_env] * num_env)
    try:
        venv.reset(seed=0)
        return random_steps_per_second(venv.step, num_env, steps)
    finally:
        venv.close()


def time_gymnasium_async(num_env: int, steps: int) -> float:
    """The same through gymnasium.vector.AsyncVectorEnv with shared memory."""
    venv = gymnasium.vector.AsyncVectorEnv([deepmind_env] * num_env, shared_memory=True, context="forkserver")
    try:
        venv.reset(seed=0)
        return random_steps_per_second(venv.step, num_env, steps)
    finally:
        venv.close()


def time_raw_ale(steps: int) -> float:
    """Raw emulator frames/s in this process divided by 4 (the frame skip), i.e. agent steps/s of one core."""
    gymnasium.register_envs(ale_py)
    env = gymnasium.make(ENV_ID)
    env.reset(seed=0)
    ale = env.unwrapped.ale
    legal = ale.getMinimalActionSet()
    rng = np.random.default_rng(0)
    frames = steps * 4
    start = time.perf_counter()
    for index in rng.integers(len(legal), size=frames):
        ale.act(legal[index])
        if ale.game_over():
            ale.reset_game()
    elapsed = time.perf_counter() - start
    env.close()
    return frames / 4 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_env", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1500, help="batched steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.num_env
    per_worker = envs_per_worker(n)

    configurations: dict[str, Callable[[], float]] = {
        "raw ALE, 1 process (frames/4)": lambda: time_raw_ale(args.steps * n // 2),
        "gymnasium SyncVectorEnv (peer)": lambda: time_gymnasium_sync(n, args.steps),
        "gymnasium AsyncVectorEnv (peer)": lambda: time_gymnasium_async(n, args.steps),
        "DummyVecEnv": lambda: time_baselines_vec_env(lambda: DummyVecEnv([deepmind_env] * n), n, args.steps),
        "SubprocVecEnv": lambda: time_baselines_vec_env(lambda: SubprocVecEnv([deepmind_env] * n), n, args.steps),
        "ShmemVecEnv": lambda: time_baselines_vec_env(lambda: ShmemVecEnv([deepmind_env] * n), n, args.steps),
        f"ShmemVecEnv, {per_worker} envs per worker (default)": lambda: time_baselines_vec_env(
            lambda: ShmemVecEnv([deepmind_env] * n, in_series=per_worker), n, args.steps
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in configurations}
    for _ in range(args.repeats):
        for name, measure in configurations.items():
            results[name].append(measure())

    peer_name = max((name for name in results if name.endswith("(peer)")),
                    key=lambda name: statistics.median(results[name]))
    peer = statistics.median(results[peer_name])
    print(f"\n{n} x {ENV_ID}, wrap_deepmind, random actions; median of {args.repeats} round-robin runs; "
          f"vs peer: against the faster gymnasium vector env ({peer_name})")
    print(f"| {'configuration':42} | {'agent steps/s':>13} | {'runs':>22} | {'vs peer':>7} |")
    print(f"|{'-' * 44}|{'-' * 15}|{'-' * 24}|{'-' * 9}|")
    for name, values in results.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"| {name:42} | {median:13.0f} | {runs:>22} | {median / peer:6.2f}x |")


if __name__ == "__main__":
    main()
