"""Continuous control beside stable-baselines3: SAC, TD3 and DDPG on MuJoCo (HalfCheetah-v5) and TRPO (Hopper-v5,
beside sb3-contrib's), speed and learning.

    python benchmarks/continuous_control.py --mode speed --algs sac td3 ddpg --timesteps 15000 --repeats 3 \
                                            --torch_threads 0 1
    python benchmarks/continuous_control.py --mode speed --algs trpo --env Hopper-v5 --timesteps 51200 --repeats 3 \
                                            --torch_threads 0 1
    python benchmarks/continuous_control.py --mode learning --algs sac td3 --timesteps 100000 --seeds 0 1
    python benchmarks/continuous_control.py --mode speed --algs sac --sides peer --timesteps 3000 \\
                                            --set learning_starts=1000            (a smoke run of one side)

Both sides train with the same hyperparameters, network sizes, batch and train frequency: `CONTINUOUS_SETTINGS`
below is the one place they are written, and each value is passed explicitly on the command line to both. Ours runs
through the CLI users run (`python -m baselines_tf2.run --alg=sac ... --precision=float32`; `our_flags` maps the
settings to our flag names, the one place to adjust if they change); the peer is SB3's SAC / TD3 / DDPG with torch
on the CPU (`peer_sb3.py sac_mujoco ...`, in the peer virtualenv, built on first use as `compare_peers.py` builds it),
and for TRPO sb3-contrib's TRPO (`peer_sb3.py trpo_mujoco ...`; what cannot be made equal is in `peer_sb3.py`'s
docstring). Each algorithm runs on its own env (`ALG_ENVS`: TRPO on Hopper-v5, the others on HalfCheetah-v5) unless
`--env` names one for all.
On a busy machine torch's default threading collapses (2 threads were ~60x slower than 1 under a load of 12 on 2
cores): time the peer with `--torch_threads 0 1`, and the ratio is taken against its faster configuration.

Speed (`--mode speed`): ours and the peer alternate run by run (the order flips on every other repeat); the figure
is steady-state steps/s, counted only after `first_update_step + --measure_after` steps (`first_update_step`:
learning_starts for the replay learners, no updates happen before it; one batch, timesteps_per_batch x num_env, for
TRPO; the first episode or batch of updates holds our tf.function tracing): the steps of the episodes that ended
after that point divided by the time between, read from each side's monitor file (`t` column) in the same way. The
window ends at the last episode's end, so TRPO's final update falls outside it: run 50 batches or more (its
--timesteps must be a whole number of batches, as ours stops below and SB3 above a partial one). The
table gives medians, the ratio ours/peer and whether it meets the target (>= 2x). The DDPG row uses SAC/TD3-sized
networks ([256, 256] relu, batch 256, one update per step on both sides), not baselines' DDPG recipe: it
measures the compiled update.

Learning (`--mode learning`): each algorithm, seed and side trains to `--timesteps`, one run at a time, into
`OUT/learning/<env>/<alg>/<side>-seed<S>-<timesteps>/`; a run with `result.json` is reused (an interrupted comparison
resumes; a run folder without it is started again). The report gives each run's mean return over its last 10
training episodes and a binned curve, and per algorithm and side the mean +- standard error over seeds.

What our CLI must provide: `--alg=sac|td3|ddpg|trpo_mpi`, the flags `our_flags` names, a monitor file
`<log_path>/*monitor.csv` (header '#{json}', columns r,l,t with t seconds since the monitor started), and an exit
status of 0. Without a monitor file the speed is read from `<log_path>/progress.csv` if it has a step and an elapsed
time column (see `PROGRESS_STEP_COLUMNS`, `PROGRESS_TIME_COLUMNS`).
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime
import importlib.metadata
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compare_peers import (
    BENCH_DIR,
    PEER_SCRIPT,
    PEER_TORCH,
    REPO_DIR,
    ensure_peer_venv,
    last_json_object,
    load_average,
    machine_description,
)
from run_table import plot_mean_se

# The settings both sides train with, per algorithm; `--set NAME=VALUE` overrides one for a run of this script.
# Actor and critic(s) share `hiddens` and `activation`. SAC: ent_coef 'auto' = learned temperature starting at 1.0
# (SB3's), target_entropy 'auto' = -dim(A). TD3: the author's current settings (256-256 relu, lr 3e-4 for actor and
# critics, batch 256, policy delay 2, target smoothing noise 0.2 clipped at 0.5, Gaussian exploration noise 0.1 on
# actions in [-1, 1]), learning from 10k steps as SAC does. DDPG: TD3's networks and batch, one critic, no delay and
# no target smoothing (SB3's DDPG); its row is for speed only.
_SHARED: dict[str, Any] = dict(
    hiddens=(256, 256), activation="relu", lr=3e-4, batch_size=256, buffer_size=1_000_000, tau=0.005, gamma=0.99,
    train_freq=1, gradient_steps=1, learning_starts=10_000,
)
# TRPO: baselines' trpo_mpi mujoco() defaults (ours: baselines_tf2/trpo_mpi/defaults.py): a 2x32 tanh policy and a
# separate 2x32 tanh value network, one env behind VecNormalize (observations and rewards), 1024-step batches, KL
# bound 0.01, 10 conjugate-gradient steps with damping 0.1, a line search of at most 10 tries halving the step,
# GAE(0.99, 0.98), then 5 Adam passes of the value function at 1e-3 over minibatches of 64 (Adam epsilon 1e-8,
# MpiAdam's). No entropy bonus on either side.
CONTINUOUS_SETTINGS: dict[str, dict[str, Any]] = {
    "sac": dict(_SHARED, ent_coef="auto", target_entropy="auto"),
    "td3": dict(_SHARED, policy_delay=2, target_policy_noise=0.2, target_noise_clip=0.5, action_noise_sigma=0.1),
    "ddpg": dict(_SHARED, action_noise_sigma=0.1),
    "trpo": dict(hiddens=(32, 32), activation="tanh", num_env=1, timesteps_per_batch=1024, max_kl=0.01, cg_iters=10,
                 cg_damping=0.1, line_search_shrink=0.5, line_search_steps=10, gamma=0.99, lam=0.98, vf_iters=5,
                 vf_stepsize=1e-3, vf_batch_size=64, vf_adam_epsilon=1e-8),
}
ENV_ID = "HalfCheetah-v5"
ALG_ENVS = {"trpo": "Hopper-v5"}  # each algorithm's env when --env is not given (ENV_ID for the others)
OUR_ALGS = {"trpo": "trpo_mpi"}  # our CLI's --alg where its name differs from the key above
PEER_CLASSES = {"sac": "stable_baselines3.SAC", "td3": "stable_baselines3.TD3", "ddpg": "stable_baselines3.DDPG",
                "trpo": "sb3_contrib.TRPO"}
SPEED_TARGET = 2.0  # the bar: ours at least twice the peer's steps/s
LAST_EPISODES = 10
RESULT_FILE = "result.json"
SIDES = ("ours", "peer")
PEER_NAME = "SB3 / sb3-contrib (torch CPU)"
PROGRESS_STEP_COLUMNS = ("total/steps", "total_timesteps", "time/total_timesteps", "timesteps", "steps")
PROGRESS_TIME_COLUMNS = ("total/duration", "time_elapsed", "time/time_elapsed", "elapsed", "wall_s")
TAIL_LINES = 25

# Settings our CLI is not given for an algorithm, and why (the report prints these under the table).
NOT_PASSED_TO_OURS: dict[str, dict[str, str]] = {
    "ddpg": {"learning_starts": "our DDPG (baselines') has no uniform-random phase: it updates once its memory holds "
                                "a batch, so the steps timed after learning_starts are update steps on both sides"},
    "trpo": {"line_search_shrink": "fixed in our TRPOModel (the step halves, baselines')",
             "line_search_steps": "fixed in our TRPOModel (LINE_SEARCH_STEPS, baselines' 10)",
             "vf_batch_size": "fixed in our TRPOModel (VF_BATCH_SIZE, baselines' 64)",
             "vf_adam_epsilon": "fixed in our TRPOModel (MpiAdam's 1e-8)"},
}
# What our CLI cannot be told but does anyway: the value each setting above must have for the sides to be equal.
OURS_FIXED: dict[str, dict[str, Any]] = {
    "trpo": {"line_search_shrink": 0.5, "line_search_steps": 10, "vf_batch_size": 64, "vf_adam_epsilon": 1e-8},
}


def first_update_step(settings: dict[str, Any]) -> int:
    """The step after which both sides are updating: learning_starts (replay learners), else one on-policy batch
    (timesteps_per_batch x num_env). The speed clock starts --measure_after steps later."""
    if "learning_starts" in settings:
        return int(settings["learning_starts"])
    return int(settings["timesteps_per_batch"]) * int(settings.get("num_env", 1))


def env_for(args: argparse.Namespace, alg: str) -> str:
    """The env `alg` runs on: --env if given, else its own (ALG_ENVS, or ENV_ID)."""
    return args.env or ALG_ENVS.get(alg, ENV_ID)


def our_flags(alg: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Our CLI's `--name=value` options for `settings`: the one mapping from the shared settings to our flag names.

    Networks are our `mlp` (equal-width layers; actor and critics alike), without layer norm or observation
    normalization, as SB3's MlpPolicy. SAC takes one learning rate (actor, critics, temperature, as SB3's); TD3 and
    DDPG take actor_lr and critic_lr, both set to `lr` (SB3 uses one rate). DDPG is baselines' learner set to SB3's
    DDPG: Gaussian action noise, one rollout step per cycle with `gradient_steps` updates, no critic L2 penalty, and
    1,000 steps per epoch (one log line, like the others' log_interval). TRPO takes baselines' trpo_mpi names (its
    value network is a copy of the policy's mlp); the settings it cannot be given must equal OURS_FIXED."""
    hiddens = tuple(settings["hiddens"])
    if not hiddens or len(set(hiddens)) > 1:
        raise ValueError(f"our mlp network takes equal widths (num_layers x num_hidden), got hiddens={hiddens}")
    network = dict(num_layers=len(hiddens), num_hidden=hiddens[0], activation=settings["activation"], layer_norm=False)
    if alg == "trpo":
        for name, value in OURS_FIXED[alg].items():
            if settings[name] != value:
                raise ValueError(f"our trpo_mpi runs with {name}={value!r} ({NOT_PASSED_TO_OURS[alg][name]}) "
                                 f"and cannot be given another; got {settings[name]!r}")
        names = ("num_env", "timesteps_per_batch", "max_kl", "cg_iters", "cg_damping", "gamma", "lam", "vf_iters",
                 "vf_stepsize")
        return dict(network, entcoeff=0.0, **{name: settings[name] for name in names})
    flags: dict[str, Any] = dict(
        network, normalize_observations=False, batch_size=settings["batch_size"], buffer_size=settings["buffer_size"],
        tau=settings["tau"], gamma=settings["gamma"],
    )
    steps = dict(train_freq=settings["train_freq"], gradient_steps=settings["gradient_steps"],
                 learning_starts=settings["learning_starts"])
    if alg == "sac":
        flags.update(steps, learning_rate=settings["lr"], ent_coef=settings["ent_coef"],
                     target_entropy=settings["target_entropy"])
    elif alg == "td3":
        flags.update(steps, actor_lr=settings["lr"], critic_lr=settings["lr"],
                     action_noise=settings["action_noise_sigma"], policy_delay=settings["policy_delay"],
                     target_policy_noise=settings["target_policy_noise"],
                     target_noise_clip=settings["target_noise_clip"])
    elif alg == "ddpg":
        flags.update(actor_lr=settings["lr"], critic_lr=settings["lr"],
                     noise_type=f"normal_{settings['action_noise_sigma']}", nb_rollout_steps=settings["train_freq"],
                     nb_train_steps=settings["gradient_steps"],
                     nb_epoch_cycles=max(1, 1000 // int(settings["train_freq"])), critic_l2_reg=0.0)
    else:
        raise ValueError(f"no flag mapping for {alg!r}")
    return flags


def flag_value(value: Any) -> str:
    """A setting as our CLI reads it back (Python literals via ast.literal_eval; plain words stay strings)."""
    return value if isinstance(value, str) else repr(value)


def our_command(alg: str, settings: dict[str, Any], env_id: str, timesteps: int, seed: int,
                log_path: Path) -> list[str]:
    """Our CLI training `alg` with `settings` (float32), writing progress.csv and the monitor file into `log_path`."""
    return [
        sys.executable, "-m", "baselines_tf2.run", f"--alg={OUR_ALGS.get(alg, alg)}", f"--env={env_id}",
        f"--num_timesteps={timesteps}", f"--seed={seed}", f"--log_path={log_path}", "--precision=float32",
        "--network=mlp",
        *(f"--{name}={flag_value(value)}" for name, value in our_flags(alg, settings).items()),
    ]


def peer_command(python: str, alg: str, settings: dict[str, Any], env_id: str, timesteps: int, seed: int,
                 monitor_dir: Path, measure_after: int, torch_threads: int | None = None) -> list[str]:
    """`peer_sb3.py <alg>_mujoco` with every setting explicit (it refuses to fill one in itself)."""
    command = [python, str(PEER_SCRIPT), f"{alg}_mujoco", "--env", env_id, "--timesteps", str(timesteps),
               "--seed", str(seed), "--monitor_dir", str(monitor_dir), "--measure_after", str(measure_after)]
    if torch_threads is not None:
        command += ["--torch_threads", str(torch_threads)]
    for name, value in settings.items():
        text = ",".join(str(width) for width in value) if name == "hiddens" else str(value)
        command += [f"--{name}", text]
    return command


def steady_rate(lengths: Sequence[float], times: Sequence[float], from_step: int) -> dict[str, float] | None:
    """Steps/s between the first episode end at or after `from_step` and the last episode end, or None.

    `lengths` and `times` are the monitor's per-episode `l` and `t`, in order. Both sides' speed goes through here
    (the peer imports it), so they are measured the same way."""
    ends, steps = [], 0.0
    for length, seconds in zip(lengths, times):
        steps += float(length)
        ends.append((steps, float(seconds)))
    start = next((end for end in ends if end[0] >= from_step), None)
    if start is None or ends[-1][0] <= start[0] or ends[-1][1] <= start[1]:
        return None
    (first_step, first_t), (last_step, last_t) = start, ends[-1]
    return {"steps_per_s": (last_step - first_step) / (last_t - first_t), "from_step": first_step,
            "to_step": last_step, "steps": last_step - first_step, "seconds": last_t - first_t}


def monitor_rows(run_dir: Path) -> list[tuple[float, float, float]]:
    """(t, l, r) of every episode in the run folder's monitor files (not its subfolders), by end time."""
    rows: list[tuple[float, float, float]] = []
    for path in sorted(run_dir.glob("*monitor.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            handle.readline()  # the '#{json}' header
            rows.extend((float(row["t"]), float(row["l"]), float(row["r"])) for row in csv.DictReader(handle))
    return sorted(rows)


def progress_rate(run_dir: Path, from_step: int) -> dict[str, float] | None:
    """Steady steps/s from progress.csv (first row at or after `from_step` to the last row), if it has the columns."""
    path = run_dir / "progress.csv"
    if not path.exists():
        return None
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    step_key = next((key for key in PROGRESS_STEP_COLUMNS if key in rows[0]), None)
    time_key = next((key for key in PROGRESS_TIME_COLUMNS if key in rows[0]), None)
    if step_key is None or time_key is None:
        return None
    points = [(float(row[step_key]), float(row[time_key])) for row in rows if row[step_key] and row[time_key]]
    start = next((point for point in points if point[0] >= from_step), None)
    if start is None or points[-1][0] <= start[0] or points[-1][1] <= start[1]:
        return None
    return {"steps_per_s": (points[-1][0] - start[0]) / (points[-1][1] - start[1]), "from_step": start[0],
            "to_step": points[-1][0], "steps": points[-1][0] - start[0], "seconds": points[-1][1] - start[1]}


def measure_run(run_dir: Path, from_step: int) -> dict[str, Any]:
    """A finished run's steady steps/s (monitor file, else progress.csv), episodes and last-10 mean return."""
    rows = monitor_rows(run_dir)
    steady = steady_rate([row[1] for row in rows], [row[0] for row in rows], from_step)
    source = "monitor"
    if steady is None:
        steady, source = progress_rate(run_dir, from_step), "progress.csv"
    last = [row[2] for row in rows[-LAST_EPISODES:]]
    return {
        "steady_sps": steady["steps_per_s"] if steady else None, "steady": steady,
        "steady_source": source if steady else None, "episodes": len(rows),
        "last10_mean_return": statistics.fmean(last) if last else None,
    }


def episode_ends(run_dir: Path) -> list[tuple[float, float]]:
    """(step at which the episode ended, return) of every episode of the run, for the binned curve."""
    ends, steps = [], 0.0
    for _, length, score in monitor_rows(run_dir):
        steps += length
        ends.append((steps, score))
    return ends


def curve(ends: list[tuple[float, float]], timesteps: int, bins: int) -> list[float | None]:
    """Mean return of the episodes that ended in each of `bins` step ranges (lo, hi] (None where none ended).

    Right-closed, so an episode ending exactly on a boundary (HalfCheetah's are 1000 steps) counts in the bin the
    label '<= hi' names."""
    width = timesteps / bins
    sums, counts = [0.0] * bins, [0] * bins
    for step, score in ends:
        index = min(max(math.ceil(step / width) - 1, 0), bins - 1)
        sums[index] += score
        counts[index] += 1
    return [total / count if count else None for total, count in zip(sums, counts)]


class RunFailed(RuntimeError):
    """A training subprocess exited non-zero or timed out; the message ends with its log's last lines."""


def run_environment() -> dict[str, str]:
    """This process's environment with the repository first on PYTHONPATH (runs start in their own folder)."""
    paths = [str(REPO_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def train(command: list[str], run_dir: Path, timeout: float | None) -> float:
    """Run one training into a fresh `run_dir` (output to train.log); its wall time. RunFailed if it fails."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    start = time.perf_counter()
    with open(run_dir / "train.log", "w", encoding="utf-8") as log:
        log.write("$ " + shlex.join(command) + "\n")
        log.flush()
        try:
            # In the run folder, so MuJoCo's MUJOCO_LOG.TXT lands there; the repo stays importable for our CLI.
            completed = subprocess.run(command, cwd=run_dir, env=run_environment(), stdout=log,
                                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise RunFailed(f"timed out after {timeout:.0f} s; see {run_dir}/train.log") from err
    wall_s = time.perf_counter() - start
    if completed.returncode != 0:
        tail = "\n".join((run_dir / "train.log").read_text(encoding="utf-8").splitlines()[-TAIL_LINES:])
        raise RunFailed(f"exit status {completed.returncode}; {run_dir}/train.log ends:\n{tail}")
    return wall_s


def settings_for(algs: Sequence[str], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """CONTINUOUS_SETTINGS of the chosen algorithms with `--set` overrides applied where the algorithm has them."""
    return {alg: {name: overrides.get(name, value) for name, value in CONTINUOUS_SETTINGS[alg].items()}
            for alg in algs}


def command_for(side: str, alg: str, settings: dict[str, Any], args: argparse.Namespace, seed: int,
                run_dir: Path, peer_python: str | None, torch_threads: int = 0) -> list[str]:
    """The training command of one side (`torch_threads`: the peer's torch.set_num_threads, 0 for torch's own)."""
    if side == "ours":
        return our_command(alg, settings, env_for(args, alg), args.timesteps, seed, run_dir)
    assert peer_python is not None
    return peer_command(peer_python, alg, settings, env_for(args, alg), args.timesteps, seed, run_dir,
                        args.measure_after, torch_threads or None)


def fmt(value: float | None) -> str:
    """A figure for the tables: 1,234 / 123.4 / 1.23, or '-'."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def speed_configs(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(label, side, torch threads) of each configuration timed: ours, then one peer run per --torch_threads value."""
    configs = [("ours", "ours", 0)] if "ours" in args.sides else []
    if "peer" in args.sides:
        configs += [("peer" if threads == 0 else f"peer-torch{threads}", "peer", threads)
                    for threads in args.torch_threads]
    return configs


def run_speed(args: argparse.Namespace, settings: dict[str, dict[str, Any]], peer_python: str | None) -> str:
    """Alternating ours/peer runs per algorithm; the markdown table of medians and the ratio against the peer's
    fastest configuration."""
    configs = speed_configs(args)
    records: dict[tuple[str, str], list[dict[str, Any]]] = {(alg, label): [] for alg in args.algs
                                                            for label, _, _ in configs}
    failures: dict[tuple[str, str], int] = {key: 0 for key in records}
    total, done = len(args.algs) * len(configs) * args.repeats, 0
    for alg in args.algs:
        from_step = first_update_step(settings[alg]) + args.measure_after
        for repeat in range(args.repeats):
            for label, side, threads in configs[::-1] if repeat % 2 else configs:
                run_dir = args.out / "speed" / f"{alg}-{label}-rep{repeat}"
                command = command_for(side, alg, settings[alg], args, args.seed, run_dir, peer_python, threads)
                done += 1
                try:
                    wall_s = train(command, run_dir, args.timeout)
                except RunFailed as err:
                    failures[(alg, label)] += 1
                    print(f"[{done}/{total}] {alg} {label}: FAILED ({err})", file=sys.stderr, flush=True)
                    continue
                measured = measure_run(run_dir, from_step)
                reported = last_json_object((run_dir / "train.log").read_text(encoding="utf-8")) or {}
                records[(alg, label)].append({**measured, "wall_s": wall_s, "repeat": repeat, "command": command,
                                              "reported": reported})
                print(f"[{done}/{total}] {alg} {label}: steady {fmt(measured['steady_sps'])} steps/s "
                      f"(from step {from_step}, {measured['steady_source']}), wall {wall_s:.0f} s, "
                      f"last-10 return {fmt(measured['last10_mean_return'])}", file=sys.stderr, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({f"{alg}/{label}": runs for (alg, label), runs in records.items()},
                                        indent=2) + "\n", encoding="utf-8")
    lines = [
        f"Steady-state steps/s after the first update (learning_starts, or one TRPO batch) + {args.measure_after} "
        f"steps, {args.timesteps:,} steps per run; medians of {args.repeats} alternating runs per configuration. Ours: "
        f"`python -m baselines_tf2.run` float32; peer: {PEER_NAME} (peer-torchN: torch.set_num_threads(N)); "
        f"ours/peer is against the peer's fastest configuration. Target: ours/peer >= {SPEED_TARGET:g}x.", "",
        f"| algorithm (env) | ours steps/s | {PEER_NAME} steps/s (config) | ours/peer | >= {SPEED_TARGET:g}x | "
        "runs per config | wall s (medians) |",
        "|---|---|---|---|---|---|---|",
    ]
    for alg in args.algs:
        values = {label: [run["steady_sps"] for run in records[(alg, label)] if run["steady_sps"] is not None]
                  for label, _, _ in configs}
        medians = {label: median(found) for label, found in values.items()}
        peers = [label for label, side, _ in configs if side == "peer" and medians[label] is not None]
        best_peer = max(peers, key=lambda label: medians[label]) if peers else None
        ours, peer = medians.get("ours"), medians[best_peer] if best_peer else None
        ratio = ours / peer if ours and peer else None
        met = "-" if ratio is None else ("yes" if ratio >= SPEED_TARGET else "no")
        runs = "; ".join(f"{label} " + (", ".join(fmt(value) for value in values[label]) or "-")
                         + (f" ({failures[(alg, label)]} failed)" if failures[(alg, label)] else "")
                         for label, _, _ in configs)
        walls = "; ".join(f"{label} {fmt(median([run['wall_s'] for run in records[(alg, label)]]))}"
                          for label, _, _ in configs)
        lines.append(f"| {alg} ({env_for(args, alg)}) | {fmt(ours)} | "
                     f"{fmt(peer)}{f' ({best_peer})' if best_peer else ''} | "
                     f"{fmt(ratio) + 'x' if ratio else '-'} | {met} | {runs} | {walls} |")
    return "\n".join(lines + ["", settings_text(settings)])


def learning_run_dir(args: argparse.Namespace, alg: str, side: str, seed: int) -> Path:
    """Where one learning run lives (env and step count are in the path, so other runs are never mixed in)."""
    return args.out / "learning" / env_for(args, alg) / alg / f"{side}-seed{seed}-{args.timesteps}"


def run_learning(args: argparse.Namespace, settings: dict[str, dict[str, Any]], peer_python: str | None) -> str:
    """Every algorithm x seed x side to the end, one at a time, reusing finished runs; the markdown report."""
    summaries, failed = [], []
    for alg in args.algs:
        from_step = first_update_step(settings[alg]) + args.measure_after
        for seed in args.seeds:
            for side in args.sides:
                run_dir = learning_run_dir(args, alg, side, seed)
                result_path = run_dir / RESULT_FILE
                if result_path.exists():
                    result = json.loads(result_path.read_text(encoding="utf-8"))
                    if result.get("settings") != json.loads(json.dumps(settings[alg])):
                        raise SystemExit(f"{run_dir} was trained with other settings ({result.get('settings')}); "
                                         "move it away or use another --out")
                elif args.report_only:
                    continue
                else:
                    command = command_for(side, alg, settings[alg], args, seed, run_dir, peer_python,
                                          args.torch_threads[0])
                    print(f"training {alg} {side} seed {seed}: {shlex.join(command)}", file=sys.stderr, flush=True)
                    try:
                        wall_s = train(command, run_dir, args.timeout)
                    except RunFailed as err:
                        failed.append(f"{alg} {side} seed {seed}")
                        print(f"{alg} {side} seed {seed}: FAILED ({err})", file=sys.stderr, flush=True)
                        continue
                    reported = last_json_object((run_dir / "train.log").read_text(encoding="utf-8")) or {}
                    result = {"alg": alg, "side": side, "seed": seed, "timesteps": args.timesteps,
                              "env": env_for(args, alg), "wall_s": wall_s, "settings": settings[alg],
                              "command": command, "reported": reported}
                    tmp = run_dir / (RESULT_FILE + ".tmp")
                    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
                    os.replace(tmp, result_path)
                measured = measure_run(run_dir, from_step)
                summaries.append({**measured, "alg": alg, "side": side, "seed": seed, "wall_s": result["wall_s"],
                                  "curve": curve(episode_ends(run_dir), args.timesteps, args.bins)})
    if args.json is not None:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")
    if args.plot is not None and summaries:
        plot_learning(args, summaries)
    text = learning_report(args, summaries, settings)
    return text + (f"\n\nFailed runs (train.log in each run folder): {', '.join(failed)}" if failed else "")


def plot_learning(args: argparse.Namespace, summaries: list[dict[str, Any]]) -> None:
    """One panel per algorithm: each side's binned curve, mean +- standard error over seeds, written to --plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(args.algs), figsize=(4.5 * len(args.algs), 3.5), squeeze=False)
    steps = [args.timesteps * (index + 1) / args.bins for index in range(args.bins)]
    for axis, alg in zip(axes[0], args.algs):
        for side in args.sides:
            curves = [row["curve"] for row in summaries if row["alg"] == alg and row["side"] == side]
            if not curves:
                continue
            name = "ours" if side == "ours" else PEER_CLASSES[alg]
            plot_mean_se(axis, curves, steps, f"{name} ({len(curves)} seeds)", marker=".")
        axis.set_title(f"{alg} on {env_for(args, alg)}")
        axis.set_xlabel("steps")
        axis.set_ylabel("training episode return")
        axis.legend(fontsize=8)
    figure.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.plot, dpi=100)
    plt.close(figure)


def mean_and_se(values: Sequence[float]) -> str:
    """'mean ± standard error' over seeds ('mean' alone for one seed, '-' for none)."""
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(values) / math.sqrt(len(values)):.1f}"


def learning_report(args: argparse.Namespace, summaries: list[dict[str, Any]],
                    settings: dict[str, dict[str, Any]]) -> str:
    """Per-run table with curves, then mean ± s.e. over seeds per algorithm and side."""
    bins = args.bins
    edges = [f"≤{args.timesteps * (index + 1) / bins / 1000:.3g}k" for index in range(bins)]
    envs = ", ".join(f"{alg} on {env_for(args, alg)}" for alg in args.algs)
    lines = [
        f"Mean return of the last {LAST_EPISODES} training episodes after {args.timesteps:,} steps ({envs}); "
        f"ours: `python -m baselines_tf2.run` float32, peer: {PEER_NAME}, the same settings (below). Curve columns: "
        "mean return of the episodes that ended in the bin.", "",
        "| alg | side | seed | wall s | steps/s (whole run) | steady steps/s | episodes | last-10 mean | "
        + " | ".join(edges) + " |",
        "|---|---|---|---|---|---|---|---|" + "---|" * bins,
    ]
    for row in summaries:
        lines.append(
            f"| {row['alg']} | {row['side']} | {row['seed']} | {row['wall_s']:.0f} | "
            f"{fmt(args.timesteps / row['wall_s'])} | {fmt(row['steady_sps'])} | {row['episodes']} | "
            f"{fmt(row['last10_mean_return'])} | " + " | ".join(fmt(value) for value in row["curve"]) + " |"
        )
    lines += ["", f"| alg | side | seeds | last-{LAST_EPISODES} mean ± s.e. | per seed |", "|---|---|---|---|---|"]
    for alg in args.algs:
        for side in args.sides:
            scores = [row["last10_mean_return"] for row in summaries
                      if row["alg"] == alg and row["side"] == side and row["last10_mean_return"] is not None]
            if scores:
                lines.append(f"| {alg} | {side} | {len(scores)} | {mean_and_se(scores)} | "
                             f"{', '.join(fmt(score) for score in scores)} |")
    return "\n".join(lines + ["", settings_text(settings)])


def settings_text(settings: dict[str, dict[str, Any]]) -> str:
    """The settings each algorithm ran with, and any our CLI was not given."""
    lines = ["Settings (both sides):"]
    for alg, values in settings.items():
        lines.append(f"- {alg} (peer: {PEER_CLASSES[alg]}): "
                     + ", ".join(f"{name} {value}" for name, value in values.items()))
        for name, why in NOT_PASSED_TO_OURS.get(alg, {}).items():
            lines.append(f"  - {name} is not passed to ours: {why}")
    return "\n".join(lines)


def parse_overrides(parser: argparse.ArgumentParser, items: Sequence[str]) -> dict[str, Any]:
    """`--set NAME=VALUE` items as {name: value}; an unknown name or a missing '=' is a usage error."""
    known = {name for values in CONTINUOUS_SETTINGS.values() for name in values}
    overrides: dict[str, Any] = {}
    for item in items:
        name, has_value, raw = item.partition("=")
        if not has_value or name not in known:
            parser.error(f"--set takes NAME=VALUE with NAME one of {', '.join(sorted(known))}; got {item!r}")
        try:
            overrides[name] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            overrides[name] = raw
    return overrides


def checked_peer_python(venv: Path) -> str:
    """The peer venv's python (built like compare_peers.py's on first use); SystemExit if it lacks MuJoCo."""
    python = str(ensure_peer_venv(venv))
    check = subprocess.run([python, "-c", "import mujoco"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"the peer venv {venv} has no MuJoCo; add it with: "
                         f"{venv}/bin/pip install 'gymnasium[mujoco]' {PEER_TORCH}")
    return python


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The driver's flags; bad values are usage errors (exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("speed", "learning"), required=True)
    parser.add_argument("--algs", nargs="+", choices=sorted(CONTINUOUS_SETTINGS), default=None,
                        help="default: sac td3 ddpg for speed, sac td3 for learning")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES),
                        help="which sides run (e.g. --sides peer for a smoke run of the peer alone)")
    parser.add_argument("--env", default=None,
                        help=f"gymnasium id for every algorithm; default: each its own ({ENV_ID}, "
                             f"trpo {ALG_ENVS['trpo']})")
    parser.add_argument("--timesteps", type=int, default=None,
                        help="steps per run; default 15000 for speed, 100000 for learning")
    parser.add_argument("--repeats", type=int, default=3, help="speed: runs per side and algorithm, alternating")
    parser.add_argument("--seed", type=int, default=0, help="speed: the seed of every run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="learning: seeds per side")
    parser.add_argument("--measure_after", type=int, default=1000,
                        help="steps after the first update (learning_starts, or TRPO's first batch) before the "
                             "speed clock starts (one HalfCheetah episode)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting for both sides (repeatable), e.g. --set learning_starts=1000")
    parser.add_argument("--bins", type=int, default=10, help="learning: points on each curve")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / ".learning_runs" / "continuous_control",
                        help="run folders (git-ignored by default)")
    parser.add_argument("--peer_venv", type=Path, default=BENCH_DIR / ".peer_venv",
                        help="virtualenv with stable-baselines3, torch and gymnasium[mujoco]; built here if missing")
    parser.add_argument("--torch_threads", type=int, nargs="+", default=[0],
                        help="torch.set_num_threads in the peer's runs, 0 for torch's own (one per core); speed: "
                             "one peer configuration per value (e.g. 0 1), the ratio is against the fastest")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before a run is abandoned (default: none)")
    parser.add_argument("--report_only", action="store_true", help="learning: summarize finished runs, train nothing")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write every run's figures")
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG",
                        help="learning: also plot each side's curve (mean +- s.e. over seeds) per algorithm")
    args = parser.parse_args(argv)
    args.algs = list(dict.fromkeys(args.algs or (["sac", "td3", "ddpg"] if args.mode == "speed" else ["sac", "td3"])))
    args.sides = list(dict.fromkeys(args.sides))
    args.timesteps = args.timesteps or (15_000 if args.mode == "speed" else 100_000)
    args.out = args.out.resolve()
    args.settings = settings_for(args.algs, parse_overrides(parser, args.overrides))
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if any(threads < 0 for threads in args.torch_threads):
        parser.error(f"--torch_threads takes counts >= 0 (0: torch's own), got {args.torch_threads}")
    args.torch_threads = list(dict.fromkeys(args.torch_threads))
    if args.mode == "learning" and len(args.torch_threads) > 1:
        parser.error("--mode learning takes one --torch_threads value")
    if args.measure_after < 0:
        parser.error(f"--measure_after must be >= 0, got {args.measure_after}")
    for alg in args.algs:
        clock_from = first_update_step(args.settings[alg]) + args.measure_after
        if args.timesteps <= clock_from:
            parser.error(f"--timesteps must exceed the first update's step + --measure_after = {clock_from} ({alg}), "
                         f"got {args.timesteps}")
        batch = first_update_step(args.settings[alg]) if "timesteps_per_batch" in args.settings[alg] else 1
        if args.timesteps % batch:
            # ours stops at the last whole batch within --timesteps, SB3 at the first whole batch past it
            parser.error(f"--timesteps must be a multiple of {alg}'s batch ({batch} steps) so that both sides run "
                         f"the same number of batches, got {args.timesteps}")
        if "ours" in args.sides:
            try:
                our_flags(alg, args.settings[alg])
            except ValueError as err:
                parser.error(str(err))
    return args


def versions() -> str:
    """Our TensorFlow and Keras versions (the peer's are in its result lines)."""
    found = []
    for package in ("tensorflow", "tensorflow-cpu", "keras"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def main() -> None:
    args = parse_args()
    header = (f"`python {shlex.join(sys.argv)}`\n\n{datetime.datetime.now():%Y-%m-%d %H:%M}; {machine_description()}; "
              f"load average {load_average()} before")
    peer_python = None
    if "peer" in args.sides and not args.report_only:
        peer_python = checked_peer_python(args.peer_venv.resolve())
    run = run_speed if args.mode == "speed" else run_learning
    body = run(args, args.settings, peer_python)
    print(f"{header}, {load_average()} after; ours: {versions()}.\n\n{body}")


if __name__ == "__main__":
    main()
