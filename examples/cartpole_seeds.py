"""PPO2 and DQN over 10 seeds on CartPole-v1 and FrozenLake-v1 (slippery): mean +- standard error curves.

One run of an RL algorithm can be lucky or unlucky; ten seeds per curve show the spread a single-run comparison
hides. Each run logs (logger and Monitor) into <out>/<env>/<alg>-seed<N>/; the figure (one panel per env, one curve
per algorithm, the mean of its seeds with a +-1 standard error band) is drawn by plot_util from those folders, and
the final returns (episodes in the last 10% of each run's steps) are printed as mean +- standard error.

    python examples/cartpole_seeds.py                   # 10 seeds; 50k steps CartPole, 30k FrozenLake: ~50 min
    python examples/cartpole_seeds.py --seeds 3 --jobs 2
    python examples/cartpole_seeds.py --smoke           # 2 seeds, 2k steps each: under a minute
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import example_parser, save_curves

from baselines_tf2.common import plot_util

STEPS = {"CartPole-v1": 50_000, "FrozenLake-v1": 30_000}  # env steps per run at the default settings
SMOKE_STEPS = 2_000
SMOOTH_RADIUS = {"CartPole-v1": 10, "FrozenLake-v1": 50}  # episodes each side: FrozenLake's returns are 0 or 1
ALGS = ("ppo2", "deepq")
FINAL_FRACTION = 0.1  # the final return of a run: its episodes that end in the last 10% of its steps


def train_one(env_id: str, alg: str, seed: int, total_timesteps: int, run_dir: Path) -> str:
    """Train `alg` on `env_id` with `seed`, logging into `run_dir`; runs in a worker process (TF imported there)."""
    from baselines_tf2 import logger
    from baselines_tf2.common.cmd_util import get_env_type, make_vec_env
    from baselines_tf2.common.schedules import FractionLinear
    from baselines_tf2.deepq import deepq
    from baselines_tf2.ppo2 import ppo2

    with logger.scoped_configure(str(run_dir), ["csv", "log"]):
        venv = make_vec_env(env_id, get_env_type(env_id), 8 if alg == "ppo2" else 1, seed, vec_env_kind="dummy")
        if alg == "ppo2":  # rl-baselines-zoo's CartPole PPO: 8 envs x 32 steps, 1 minibatch, 20 epochs, annealing
            ppo2.learn(network="mlp", env=venv, total_timesteps=total_timesteps, seed=seed, nsteps=32,
                       nminibatches=1, noptepochs=20, lam=0.8, gamma=0.98, lr=FractionLinear(1e-3),
                       cliprange=FractionLinear(0.2))
        else:  # baselines' examples/train_cartpole.py, with gamma 0.99 instead of 1.0
            deepq.learn(venv, "mlp", seed=seed, total_timesteps=total_timesteps, lr=1e-3, gamma=0.99,
                        buffer_size=50_000, exploration_fraction=0.1, exploration_final_eps=0.02, print_freq=10)
        venv.close()
    return f"{env_id} {alg} seed {seed}: {total_timesteps} steps -> {run_dir}"


def final_return(result: plot_util.Result) -> float:
    """Mean return of the run's episodes that ended in the last FINAL_FRACTION of its steps."""
    lengths = result.monitor["l"].to_numpy(dtype=np.float64)
    ends = np.cumsum(lengths)
    last = ends > (1.0 - FINAL_FRACTION) * ends[-1]
    return float(result.monitor["r"].to_numpy(dtype=np.float64)[last].mean())


def print_summary(results: list[plot_util.Result]) -> None:
    """Final return per env and algorithm: mean +- standard error over seeds (and the worst and best seed)."""
    finals: dict[tuple[str, str], list[float]] = {}
    for result in results:
        key = (result.metadata["env_id"], plot_util.run_name(result.dirname))
        finals.setdefault(key, []).append(final_return(result))
    print(f"final return (episodes in the last {FINAL_FRACTION:.0%} of steps), mean +- standard error over seeds:")
    for (env_id, alg), values in sorted(finals.items()):
        mean = float(np.mean(values))
        stderr = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
        print(f"  {env_id:14s} {alg:6s} {mean:8.3f} +- {stderr:.3f}  ({len(values)} seeds, "
              f"min {min(values):.3f}, max {max(values):.3f})")


def main() -> None:
    parser = example_parser(__doc__, "runs/examples/cartpole_seeds")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per algorithm and env (0 .. N-1)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process")
    args = parser.parse_args()
    seeds = 2 if args.smoke else args.seeds
    if seeds < 2 or args.jobs < 1:
        parser.error("--seeds must be >= 2 (a standard error needs two runs) and --jobs >= 1")

    runs = [(env_id, alg, seed, SMOKE_STEPS if args.smoke else steps, args.out / env_id / f"{alg}-seed{seed}")
            for seed in range(seeds) for env_id, steps in STEPS.items() for alg in ALGS]
    # spawn: TensorFlow is imported in the workers only, never forked from a parent holding its threads
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for line in pool.map(train_one, *zip(*runs)):
            print(line, flush=True)

    results = save_curves([run[-1] for run in runs], args.out / "cartpole_seeds.png",
                          smooth_radius=lambda result: SMOOTH_RADIUS[result.metadata["env_id"]],
                          figsize=(12.0, 4.5))
    print_summary(results)


if __name__ == "__main__":
    main()
