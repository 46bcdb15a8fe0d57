"""TensorFlow's default thread pools against one intra-op and one inter-op thread, per algorithm, through the CLI:

    python benchmarks/tf_threads_cli.py --repeats 2 [--only ppo2 trpo_mpi]

Each run is a short real training run (`python -m baselines_tf2.run`) off Atari, started with
TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS both set to the core count (TensorFlow's own default) or both 1
(baselines' run.py setting off Atari, which the CLI now picks for some algorithms when they are unset); the figure
is the steps/s the CLI prints at the end, start-up excluded. The two settings alternate within each repeat.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MPIEXEC = str(Path(sys.executable).with_name("mpiexec"))  # the mpich wheel puts it next to the interpreter

# name -> (launcher prefix, CLI arguments): baselines' defaults for each, runs of 20-80 s here
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "ppo2": ([], ["--alg=ppo2", "--env=Hopper-v5", "--num_timesteps=40960"]),
    "trpo_mpi": ([], ["--alg=trpo_mpi", "--env=Hopper-v5", "--num_timesteps=20480"]),
    "ppo2_2ranks": ([MPIEXEC, "-n", "2"], ["--alg=ppo2", "--env=Hopper-v5", "--num_timesteps=40960"]),
    "a2c": ([], ["--alg=a2c", "--env=CartPole-v1", "--num_timesteps=40000"]),
    "ddpg": ([], ["--alg=ddpg", "--env=HalfCheetah-v5", "--num_timesteps=6000"]),
    "deepq": ([], ["--alg=deepq", "--env=CartPole-v1", "--num_timesteps=6000"]),
    "sac": ([], ["--alg=sac", "--env=HalfCheetah-v5", "--num_timesteps=4000", "--learning_starts=1000"]),
    "td3": ([], ["--alg=td3", "--env=HalfCheetah-v5", "--num_timesteps=4000", "--learning_starts=1000"]),
    "her": ([], ["--alg=her", "--env=FetchReach-v4", "--num_timesteps=5000"]),
}
SETTINGS = ("default", "one")
STEPS_PER_SECOND = re.compile(r"(\d+) steps/s")


def steps_per_second(name: str, setting: str) -> float:
    """The final steps/s of one CLI run of RUNS[name] under the thread setting."""
    launcher, arguments = RUNS[name]
    env = dict(os.environ)
    threads = "1" if setting == "one" else str(os.cpu_count() or 1)
    env.update(TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads)
    with tempfile.TemporaryDirectory() as log_dir:
        command = [*launcher, sys.executable, "-m", "baselines_tf2.run", *arguments, f"--log_path={log_dir}/run"]
        completed = subprocess.run(command, capture_output=True, text=True, env=env)
    found = STEPS_PER_SECOND.findall(completed.stdout + completed.stderr)
    if completed.returncode != 0 or not found:
        raise RuntimeError(f"{name} ({setting}) failed:\n{completed.stderr[-2000:]}")
    return float(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=sorted(RUNS), default=list(RUNS))
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {name: {setting: [] for setting in SETTINGS} for name in args.only}
    for repeat in range(args.repeats):
        for name in args.only:
            for setting in SETTINGS if repeat % 2 == 0 else SETTINGS[::-1]:
                results[name][setting].append(steps_per_second(name, setting))
                print(f"run {repeat + 1}/{args.repeats} {name} {setting}: {results[name][setting][-1]:.0f} steps/s",
                      file=sys.stderr, flush=True)
    print(f"`python {' '.join(sys.argv)}`; steps/s the CLI printed, median (runs)\n")
    print("| algorithm, env | TF default (all cores) | one thread | one / default |")
    print("|---|---|---|---|")
    for name, by_setting in results.items():
        default, one = (statistics.median(by_setting[setting]) for setting in SETTINGS)
        runs = {setting: ", ".join(f"{value:.0f}" for value in by_setting[setting]) for setting in SETTINGS}
        env = RUNS[name][1][1].removeprefix("--env=")
        print(f"| {name}, {env} | {default:.0f} ({runs['default']}) | {one:.0f} ({runs['one']}) "
              f"| {one / default:.2f}x |")


if __name__ == "__main__":
    main()
