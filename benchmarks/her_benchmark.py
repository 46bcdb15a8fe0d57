"""HER's learning evidence, two tables of resumable runs rendered into docs/her.md:

    mkdir -p benchmarks/.her_runs
    nohup .venv/bin/python benchmarks/her_benchmark.py sac_her > benchmarks/.her_runs/sac_her.log 2>&1 &
    nohup .venv/bin/python benchmarks/her_benchmark.py fetchpush > benchmarks/.her_runs/fetchpush.log 2>&1 &
    .venv/bin/python benchmarks/her_benchmark.py --report_only          (re-renders docs/her.md from what exists)

`sac_her`: our `--alg=sac` (robotics defaults: HerReplayBuffer, k=4 'future') against stable-baselines3's SAC with
its HerReplayBuffer (`peer_sb3.py sac_her_learning`, in the peer virtualenv) at equal env steps, seeds 0 1 2, on
the rows of `--sac_envs` (FetchReach-v4 for 10,000 steps; add e.g. FetchPush-v4:300000 for the optional row). The
curve is the training success rate (`is_success` at the end of each training episode), averaged over the episodes
that ended in each 1,000-step bin: ours logs exactly that as `train/success_rate` every 1,000 steps, the peer
writes one row per episode, binned here. Both sides get SAC_HER_SETTINGS; after our run the harness compares them
with the hyperparameters its checkpoint recorded, so a changed default shows in the report instead of going unseen.

`fetchpush`: our `--alg=her` (baselines' DDPG+HER, DEFAULT_PARAMS) under `mpiexec -n 2` with `--num_env=2` on
FetchPush-v4 for `--steps` env steps (an epoch is 50 cycles x 50 steps x 2 envs x 2 ranks = 10,000 steps); the
curve is `test/success_rate` (10 deterministic episodes per env and rank after each epoch) against env steps.

Each run lives in its own folder under `--out` (benchmarks/.her_runs/<config>/<env>/seed<S>; fetchpush's
under <env>/<ranks>x<envs per rank>/), one at a time. Ours resumes from its checkpoints with the same command plus
`--load_path` (`--save_replay` keeps the replay buffer, so a resumed run trains on at once; under MPI rank 0 writes
the checkpoint, so after a resume both ranks start from rank 0's buffer); SIGTERM or Ctrl-C to the harness reaches
the training, which checkpoints and exits, and the next start goes on. The peer cannot resume: an interrupted peer
run starts again. The peer runs torch on `--torch_threads` threads (default 1: at torch's default of 2 it ran over
10x slower while other jobs shared the cores). A finished run's summary goes to `--results`
(benchmarks/results/her/, committed) and is never trained again. Before each run the harness prints how long the
remaining runs will take at the steps/s measured so far.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from compare_peers import PEER_SCRIPT, ensure_peer_venv
from run_table import (
    BENCH_DIR,
    PEER_RESULT,
    PIECE_RECORDS,
    REPO_DIR,
    Harness,
    TableRun,
    checkpoint_step,
    fmt_mean_se,
    fmt_steps,
    has_checkpoint,
    machine_note,
    mean_se,
    plot_mean_se,
    training_finished,
    unfinished_note,
    write_docs_section,
)

TAG = "her_benchmark"
DOCS_FILE = REPO_DIR / "docs" / "her.md"
IMG_DIR = REPO_DIR / "docs" / "img"
MARKS = {"sac_her": ("<!-- her-sac:start -->", "<!-- her-sac:end -->"),
         "fetchpush": ("<!-- her-fetchpush:start -->", "<!-- her-fetchpush:end -->")}
TABLES = ("sac_her", "fetchpush")
HEADINGS = {"sac_her": "SAC+HER against stable-baselines3", "fetchpush": "DDPG+HER on FetchPush (MPI)"}
RESULTS_DIR = BENCH_DIR / "results" / "her"  # finished runs' summaries, committed: run folders are not
PEER_EPISODES = "episodes.csv"  # the peer's rows, one per finished training episode
MPIEXEC = Path(sys.executable).with_name("mpiexec")  # the mpich wheel puts it next to the interpreter

BIN = 1_000  # sac_her: steps per curve bin (ours logs train/success_rate every log_interval = 1,000 steps)
THRESHOLD = 0.9  # sac_her: "steps to first reach": the first bin whose mean success rate is at least this
DEFAULT_SAC_ENVS = ("FetchReach-v4:10000",)
# The peer's torch threads: at torch's default (2 here) SB3's update ran over 10x slower than at 1 thread while
# other jobs kept both cores busy (its OpenMP threads wait on each other); only the wall time depends on it.
PEER_TORCH_THREADS = 1
PEER_PACKAGES_HER = "gymnasium-robotics mujoco==3.11.0"  # what the peer needs beyond compare_peers' packages

# fetchpush: baselines' DDPG+HER epoch on this machine (n_cycles 50 x T 50 x envs x ranks).
RANKS, PUSH_NUM_ENV, N_CYCLES, EPISODE_STEPS = 2, 2, 50, 50  # --push_num_env can change the envs per rank


def push_epoch(num_env: int) -> int:
    """Env steps of one epoch of baselines' HER on RANKS ranks of `num_env` envs."""
    return N_CYCLES * EPISODE_STEPS * num_env * RANKS


PUSH_EPOCH = push_epoch(PUSH_NUM_ENV)  # 10,000 env steps
# About two hours here: FetchPush ran at ~57 steps/s (mpiexec -n 2, 2 envs per rank, test rollouts and checkpoints
# included) on this 2-core machine while an Atari run and a pip install shared it; 40 epochs.
DEFAULT_PUSH_STEPS = 40 * PUSH_EPOCH
# Plappert et al. 2018 (arXiv:1802.09464), the published curves of baselines' HER: 19 MPI workers x 2 parallel
# rollouts, 50 cycles of 50-step episodes per epoch.
PAPER_WORKERS, PAPER_ROLLOUTS_PER_WORKER = 19, 2
PAPER_EPOCH = N_CYCLES * PAPER_WORKERS * PAPER_ROLLOUTS_PER_WORKER * EPISODE_STEPS  # 95,000 env steps

# SAC+HER's settings, handed to the peer as flags (peer_sb3.py's names); ours gets them from
# baselines_tf2/sac/defaults.py robotics() over SACConfig's defaults, checked against these after each run
# (ours_settings). Observations are normalized on both sides, each its own way (docs/her.md).
SAC_HER_SETTINGS: dict[str, Any] = dict(
    hiddens="256,256", activation="relu", lr=1e-3, batch_size=256, buffer_size=1_000_000, tau=0.005, gamma=0.95,
    train_freq=1, gradient_steps=1, learning_starts=1000, ent_coef="auto", target_entropy="auto",
    n_sampled_goal=4, goal_selection_strategy="future",
)


@dataclasses.dataclass(frozen=True)
class Config:
    """One learner configuration of a table."""

    name: str
    table: str  # sac_her or fetchpush
    side: str  # "ours" (resumable CLI run) or "peer" (SB3 in the peer venv, restarted from scratch)
    alg: str  # ours: --alg
    description: str
    args: tuple[str, ...] = ()  # ours: CLI flags after --alg/--env/--num_timesteps


CONFIGS = {config.name: config for config in (
    Config("sac", "sac_her", "ours", "sac", "our `--alg=sac` with its robotics defaults (HerReplayBuffer k=4 "
           "'future', observations normalized in the agent)", ("--save_replay",)),
    Config("sb3_sac", "sac_her", "peer", "sac", "stable-baselines3's SAC('MultiInputPolicy') with HerReplayBuffer "
           "(k=4 'future') behind VecNormalize(norm_obs=True, norm_reward=False), the same settings"),
    Config("her", "fetchpush", "ours", "her", f"our `--alg=her` (baselines' DDPG+HER DEFAULT_PARAMS) under "
           f"`mpiexec -n {RANKS}` (`--num_env` envs per rank)", ("--save_replay",)),
)}


@dataclasses.dataclass(frozen=True)
class Run(TableRun[Config]):
    """One cell of a table."""

    num_env: int = 1  # ours' --num_env (fetchpush: per MPI rank)

    @property
    def layout(self) -> str:
        """'' or, under MPI, '<ranks>x<envs per rank>' (runs of other layouts are other rows)."""
        return f"{RANKS}x{self.num_env}" if self.config.table == "fetchpush" else ""


def settings_flags(settings: dict[str, Any]) -> list[str]:
    """--name value pairs for peer_sb3.py."""
    return [part for name, value in settings.items() for part in (f"--{name}", str(value))]


def command_for(run: Run, run_dir: Path, peer_python: str | None = None, resume: bool = False,
                torch_threads: int = PEER_TORCH_THREADS) -> list[str]:
    """The command that trains `run` into `run_dir` (ours: plus --load_path when resuming; the peer: with
    `torch_threads`, 0 for torch's own choice)."""
    if run.config.side == "peer":
        if peer_python is None:
            raise ValueError("the peer's command needs the peer virtualenv's python")
        threads = ["--torch_threads", str(torch_threads)] if torch_threads else []
        return [peer_python, str(PEER_SCRIPT), "sac_her_learning", "--env", run.env_id, "--timesteps",
                str(run.timesteps), "--seed", str(run.seed), "--monitor_dir", str(run_dir),
                *settings_flags(SAC_HER_SETTINGS), *threads]
    launcher = [str(MPIEXEC), "-n", str(RANKS)] if run.config.table == "fetchpush" else []
    envs = [f"--num_env={run.num_env}"] if run.config.table == "fetchpush" else []
    command = [*launcher, sys.executable, "-m", "baselines_tf2.run", f"--alg={run.config.alg}", f"--env={run.env_id}",
               f"--num_timesteps={run.timesteps}", *envs, *run.config.args, f"--seed={run.seed}",
               f"--log_path={run_dir}"]
    return command + [f"--load_path={run_dir}"] if resume else command


# ---- reading a run folder ------------------------------------------------------------------------------------


def progress_points(run_dir: Path, key: str) -> list[tuple[int, float]]:
    """(total/steps, `key`) of the progress.csv rows that have both, in step order. A resumed piece appends to the
    file; its rows replace the previous piece's rows at the same or later steps (logged after its last checkpoint,
    then trained again)."""
    path = run_dir / "progress.csv"
    if not path.exists():
        return []
    points: list[tuple[int, float]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            step, value = row.get("total/steps"), row.get(key)
            if not step or not value:
                continue
            while points and points[-1][0] >= int(float(step)):
                points.pop()
            points.append((int(float(step)), float(value)))
    return points


def peer_episodes(run_dir: Path) -> list[tuple[int, float]]:
    """(step at which it ended, is_success) of every training episode the peer wrote."""
    path = run_dir / PEER_EPISODES
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return [(int(row["step"]), float(row["is_success"])) for row in csv.DictReader(handle)
                if row.get("is_success") not in (None, "", "nan")]


def binned(points: list[tuple[int, float]], timesteps: int) -> list[float | None]:
    """Mean value of the points in each BIN-step range (step-1)//BIN, None where there is none: ours logs one
    point per bin (its own mean over the bin's episodes), the peer one per episode."""
    bins = math.ceil(timesteps / BIN)
    sums, counts = [0.0] * bins, [0] * bins
    for step, value in points:
        index = min(max(step - 1, 0) // BIN, bins - 1)
        sums[index] += value
        counts[index] += 1
    return [total / count if count else None for total, count in zip(sums, counts)]


def first_reach(curve: list[float | None]) -> int | None:
    """Steps at the end of the first bin whose success rate is at least THRESHOLD (None if none is)."""
    return next(((index + 1) * BIN for index, value in enumerate(curve) if value is not None and value >= THRESHOLD),
                None)


def ours_settings(run_dir: Path) -> dict[str, Any] | None:
    """Our SAC run's settings in SAC_HER_SETTINGS' names, from its newest checkpoint's hyperparameters (None
    without a checkpoint); with what ours adds that has no peer flag (observation normalization)."""
    from baselines_tf2.training.checkpoint import CheckpointError, read_metadata, resolve_checkpoint_path

    if not has_checkpoint(run_dir):
        return None
    try:
        metadata = read_metadata(resolve_checkpoint_path(run_dir / "checkpoints"))
    except (CheckpointError, OSError):
        return None
    hyper, network = metadata.get("hyperparameters", {}), metadata.get("network_kwargs", {})
    replay = hyper.get("replay_buffer_kwargs") or {}
    return {
        "hiddens": ",".join([str(network.get("num_hidden"))] * int(network.get("num_layers", 0))),
        "activation": network.get("activation"), "lr": hyper.get("learning_rate"),
        **{name: hyper.get(name) for name in ("batch_size", "buffer_size", "tau", "gamma", "train_freq",
                                              "gradient_steps", "learning_starts", "ent_coef", "target_entropy")},
        "n_sampled_goal": replay.get("n_sampled_goal"),
        "goal_selection_strategy": replay.get("goal_selection_strategy"),
        "replay_buffer_class": hyper.get("replay_buffer_class"),
        "normalize_observations": hyper.get("normalize_observations"),
    }


def settings_differ(settings: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{name: [ours, peer's]} where our run's settings are not SAC_HER_SETTINGS."""
    if settings is None:
        return {}
    return {name: [settings.get(name), value] for name, value in SAC_HER_SETTINGS.items()
            if settings.get(name) != value}


def run_status(run: Run, run_dir: Path) -> dict[str, Any]:
    """What a run folder shows so far (finished or not): steps done, wall time, the curve."""
    status: dict[str, Any] = {"table": run.config.table, **run.status(run_dir)}
    if run.config.table == "fetchpush":
        success = progress_points(run_dir, "test/success_rate")
        q_values = dict(progress_points(run_dir, "test/mean_Q"))
        finished = training_finished(run_dir, run.timesteps)
        done = max([checkpoint_step(run_dir), *(step for step, _ in success)])
        return {**status, "finished": finished, "steps_done": run.timesteps if finished else done,
                "ranks": RANKS, "num_env": run.num_env, "steps_per_epoch": push_epoch(run.num_env),
                "points": [[step, value, q_values.get(step)] for step, value in success]}
    if run.config.side == "peer":
        finished = (run_dir / PEER_RESULT).exists()
        episodes = peer_episodes(run_dir)
        curve = binned(episodes, run.timesteps)
        peer = json.loads((run_dir / PEER_RESULT).read_text(encoding="utf-8")).get("peer") if finished else None
        extra = {"episodes": len(episodes), "peer": peer, "settings": SAC_HER_SETTINGS}
        steps = run.timesteps if finished else (episodes[-1][0] if episodes else 0)
    else:
        finished = training_finished(run_dir, run.timesteps)
        points = progress_points(run_dir, "train/success_rate")
        curve = binned(points, run.timesteps)
        settings = ours_settings(run_dir)
        extra = {"settings": settings, "settings_differ": settings_differ(settings)}
        steps = run.timesteps if finished else (points[-1][0] if points else 0)
    return {**status, "finished": finished, "steps_done": steps, "bin": BIN, "curve": curve,
            "first_reach": first_reach(curve), "threshold": THRESHOLD, **extra}


# ---- training ------------------------------------------------------------------------------------------------


def restart_ours(run_dir: Path) -> None:
    """Before a fresh start (no checkpoint), clear what an earlier attempt logged, so the curve is this run's."""
    if not has_checkpoint(run_dir):
        for path in [run_dir / "progress.csv", *run_dir.glob("*monitor.csv"),
                     *(run_dir / name for name in PIECE_RECORDS)]:
            path.unlink(missing_ok=True)


def peer_python_for(venv: Path) -> str:
    """The peer venv's python, checked to import what sac_her_learning needs (SystemExit naming the fix if not)."""
    import subprocess

    python = ensure_peer_venv(venv)
    check = subprocess.run([str(python), "-c", "import gymnasium_robotics, mujoco, stable_baselines3"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SystemExit(f"the peer venv {venv} cannot run sac_her_learning ({last}); install its robotics "
                         f"packages: {venv}/bin/pip install {PEER_PACKAGES_HER} torch==2.13.0")
    return str(python)


# ---- the report ----------------------------------------------------------------------------------------------


def sac_report(rows: list[dict[str, Any]], command: str) -> str:
    """The sac_her section: per env and config, the curve's bins (mean ± s.e. over seeds), steps to THRESHOLD,
    wall time; then any setting of ours that differed from the peer's."""
    lines = [f"`{command}`", "",
             f"Training success rate (`is_success` at the end of each training episode), mean of the episodes that "
             f"ended in each {BIN:,}-step bin, mean ± standard error over seeds. *first ≥ {THRESHOLD:g}*: steps at "
             f"the end of the first bin reaching {THRESHOLD:g} (mean ± s.e. over the seeds that reached it). Wall "
             "time: one run at a time on this 2-core machine, shared with other jobs.", ""]
    envs = list(dict.fromkeys(row["env"] for row in rows))
    for env_id in envs:
        env_rows = [row for row in rows if row["env"] == env_id]
        keys = list(dict.fromkeys((row["config"], row["timesteps"]) for row in env_rows))
        bins = max(len(row["curve"]) for row in env_rows)
        shown = sorted({index for index in range(bins) if bins <= 12 or (index + 1) % max(1, bins // 10) == 0}
                       | {bins - 1})
        lines += [f"**{env_id}**", "",
                  "| config | steps | seeds | " + " | ".join(fmt_steps((index + 1) * BIN) for index in shown)
                  + f" | first ≥ {THRESHOLD:g} | wall min/run |",
                  "|---|---|---|" + "---|" * len(shown) + "---|---|"]
        for config_name, timesteps in keys:
            cell = [row for row in env_rows if (row["config"], row["timesteps"]) == (config_name, timesteps)]
            values = []
            for index in shown:
                at = [row["curve"][index] for row in cell if index < len(row["curve"])
                      and row["curve"][index] is not None]
                values.append(fmt_mean_se(at, 2))
            reached = [row["first_reach"] for row in cell if row.get("first_reach") is not None]
            first = (fmt_mean_se(reached, 0) if reached else "never") + f" ({len(reached)}/{len(cell)})"
            walls = [row["wall_s"] for row in cell if row.get("wall_s")]
            wall = f"{statistics.fmean(walls) / 60:.1f}{machine_note(cell)}" if walls else "-"
            lines.append(f"| {config_name}{unfinished_note(cell)} | {fmt_steps(timesteps)} | {len(cell)} | "
                         + " | ".join(values) + f" | {first} | {wall} |")
        lines += ["", f"![{env_id}: training success rate against env steps](img/her_sac_{env_id}.png)", ""]
    if not rows:
        lines += ["(no run has logged a point yet)", ""]
    differ = {f"{row['config']} seed {row['seed']}": row["settings_differ"] for row in rows
              if row.get("settings_differ")}
    lines.append("Settings (both sides; ours read back from each run's checkpoint): "
                 + ", ".join(f"{name} {value}" for name, value in SAC_HER_SETTINGS.items()) + ". "
                 + ("Ours differed from the peer's in: " + "; ".join(f"{run}: {diff}" for run, diff in differ.items())
                    if differ else "Every run of ours read back had exactly these."
                    if any(row.get("settings_differ") == {} for row in rows) else "No run of ours read back yet."))
    speeds = [row["peer"]["value"] for row in rows if row.get("peer") and row["peer"].get("value")]
    ours = [row["timesteps"] / row["wall_s"] for row in rows if row["config"] == "sac" and row.get("finished")
            and row.get("wall_s")]
    if speeds or ours:
        lines += ["", f"Speed over whole runs (start-up included): ours {fmt_mean_se(ours, 0)} steps/s, "
                      f"SB3 {fmt_mean_se(speeds, 0)} steps/s."]
    return "\n".join(lines)


def push_cells(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], tuple[list[dict[str, Any]],
                                                                            dict[int, list[list[Any]]]]]:
    """fetchpush rows by (config, layout, steps): the rows, and their [success, mean Q] at each env step."""
    cells: dict[tuple[str, str, int], tuple[list[dict[str, Any]], dict[int, list[list[Any]]]]] = {}
    for row in rows:
        key = (row["config"], f"{row['ranks']}x{row['num_env']}", row["timesteps"])
        cell, by_step = cells.setdefault(key, ([], {}))
        cell.append(row)
        for step, success, q_value in row["points"]:
            by_step.setdefault(int(step), []).append([success, q_value])
    return cells


def push_report(rows: list[dict[str, Any]], command: str) -> str:
    """The fetchpush section: test success rate at about 10 evenly spaced epochs (mean ± s.e. over seeds), in our
    epochs, env steps and the paper's epochs of PAPER_EPOCH steps."""
    lines = [f"`{command}`", "",
             f"`test/success_rate`: 10 deterministic test episodes per env and rank after each epoch (50 cycles x 50 "
             f"steps x envs per rank x ranks: {PUSH_EPOCH:,} env steps with {RANKS} ranks x {PUSH_NUM_ENV} envs), "
             f"mean ± standard error over seeds. *paper epochs*: the same env steps in Plappert et al.'s epochs of "
             f"{PAPER_EPOCH:,} steps (19 workers x 2 rollouts), to read their figure at equal steps. *layout*: MPI "
             "ranks x envs per rank.", "",
             "| config | layout | epochs done | env steps | paper epochs | seeds | test success rate | test mean Q |",
             "|---|---|---|---|---|---|---|---|"]
    for (config_name, layout, _), (cell, by_step) in push_cells(rows).items():
        steps = sorted(by_step)
        every = max(1, len(steps) // 10)
        shown = dict.fromkeys(step for index, step in enumerate(steps)
                              if (index + 1) % every == 0 or index == len(steps) - 1)
        epoch = cell[0]["steps_per_epoch"]
        for step in shown:
            successes = [success for success, _ in by_step[step]]
            q_values = [q_value for _, q_value in by_step[step] if q_value is not None]
            lines.append(f"| {config_name}{unfinished_note(cell)} | {layout} | {step / epoch:g} | {step:,} | "
                         f"{step / PAPER_EPOCH:.2f} | {len(successes)} | {fmt_mean_se(successes, 2)} | "
                         f"{fmt_mean_se(q_values, 1)} |")
    if not rows:
        lines.append("| (no epoch has finished yet) | | | | | | | |")
    for (config_name, layout, timesteps), (cell, _) in push_cells(rows).items():
        walls = [row["wall_s"] for row in cell if row.get("wall_s")]
        if walls:
            lines += ["", f"{config_name} {layout}, {fmt_steps(timesteps)} steps: wall time "
                          f"{statistics.fmean(walls) / 3600:.2f} h per run, "
                          f"{sum(row['steps_done'] for row in cell) / sum(walls):.0f} env steps/s."]
    lines += ["", "![FetchPush: test success rate against env steps](img/her_fetchpush.png)"]
    return "\n".join(lines)


def plot_sac(rows: list[dict[str, Any]]) -> None:
    """One figure per env: each config's binned success rate, mean ± s.e. over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for env_id in dict.fromkeys(row["env"] for row in rows):
        figure, axis = plt.subplots(figsize=(7, 4))
        env_rows = [row for row in rows if row["env"] == env_id]
        for config_name, timesteps in dict.fromkeys((row["config"], row["timesteps"]) for row in env_rows):
            cell = [row for row in env_rows if (row["config"], row["timesteps"]) == (config_name, timesteps)]
            unfinished = any(not row.get("finished", True) for row in cell)
            label = f"{config_name} ({len(cell)} seed{'s' * (len(cell) > 1)}" + (", unfinished)" if unfinished else ")")
            bin_steps = [(index + 1) * BIN for index in range(len(cell[0]["curve"]))]
            plot_mean_se(axis, [row["curve"] for row in cell], bin_steps, label, marker="o", markersize=3,
                         linestyle="--" if unfinished else "-")
        axis.axhline(THRESHOLD, color="grey", linewidth=0.8, linestyle=":")
        axis.set_ylim(-0.05, 1.05)
        axis.set_title(f"{env_id}: training success rate ({BIN:,}-step bins)")
        axis.set_xlabel("env steps")
        axis.set_ylabel("success rate")
        axis.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        IMG_DIR.mkdir(parents=True, exist_ok=True)
        figure.savefig(IMG_DIR / f"her_sac_{env_id}.png", dpi=100)
        plt.close(figure)


def plot_push(rows: list[dict[str, Any]]) -> None:
    """Test success rate against env steps (bottom axis) and our epochs (top axis, when every row has the same
    epoch), mean ± s.e. over seeds; a mark where the paper's first epoch ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for (config_name, layout, _), (cell, by_step) in push_cells(rows).items():
        xs = sorted(by_step)
        stats = [mean_se([success for success, _ in by_step[step]]) for step in xs]
        unfinished = any(not row.get("finished", True) for row in cell)
        label = f"{config_name}, {layout} ({len(cell)} seed{'s' * (len(cell) > 1)}" + (
            ", unfinished)" if unfinished else ")")
        line, = axis.plot(xs, [mean for mean, _ in stats], marker="o", markersize=3, label=label,
                          linestyle="--" if unfinished else "-")
        axis.fill_between(xs, [mean - se for mean, se in stats], [mean + se for mean, se in stats], alpha=0.25,
                          color=line.get_color())
    axis.axvline(PAPER_EPOCH, color="grey", linewidth=0.8, linestyle=":",
                 label=f"end of Plappert et al.'s first epoch ({PAPER_EPOCH:,} steps)")
    axis.set_ylim(-0.05, 1.05)
    axis.set_xlabel("env steps (all envs and ranks)")
    axis.set_ylabel("test success rate")
    epochs = {row["steps_per_epoch"] for row in rows}
    if len(epochs) == 1:
        epoch = epochs.pop()
        top = axis.secondary_xaxis("top", functions=(lambda steps: steps / epoch, lambda count: count * epoch))
        top.set_xlabel(f"our epochs ({epoch:,} steps)")
    axis.set_title("FetchPush-v4, DDPG+HER", fontsize=10)
    axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    figure.savefig(IMG_DIR / "her_fetchpush.png", dpi=100)
    plt.close(figure)


# ---- command line --------------------------------------------------------------------------------------------


def parse_env_steps(parser: argparse.ArgumentParser, specs: list[str]) -> list[tuple[str, int]]:
    """ENV:STEPS rows; parser.error on a bad one."""
    rows = []
    for spec in specs:
        env_id, _, steps = spec.rpartition(":")
        if not env_id or not steps.isdigit() or int(steps) < BIN:
            parser.error(f"--sac_envs takes ENV:STEPS with STEPS >= {BIN}, e.g. FetchPush-v4:300000; got {spec!r}")
        rows.append((env_id, int(steps)))
    if len({env_id for env_id, _ in rows}) != len(rows):
        parser.error("each env can appear once in --sac_envs: its runs share the folder <config>/<env>/seed<S>")
    return rows


def plan_for(table: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Run]:
    """The table's runs in the order they train: seed-major, ours before the peer."""
    if table == "fetchpush":
        epoch = push_epoch(args.push_num_env)
        if args.steps % epoch:
            parser.error(f"--steps must be a whole number of epochs of {epoch:,} steps, got {args.steps}")
        return [Run(CONFIGS["her"], "FetchPush-v4", seed, args.steps, args.push_num_env) for seed in args.push_seeds]
    rows = parse_env_steps(parser, args.sac_envs)
    return [Run(CONFIGS[name], env_id, seed, steps) for seed in args.seeds for env_id, steps in rows
            for name in ("sac", "sb3_sac")]


def table_command(table: str, args: argparse.Namespace) -> str:
    """The command that reproduces the table (for the docs)."""
    if table == "fetchpush":
        layout = f" --push_num_env {args.push_num_env}" if args.push_num_env != PUSH_NUM_ENV else ""
        return (f"python benchmarks/her_benchmark.py fetchpush --steps {args.steps} --push_seeds "
                + " ".join(map(str, args.push_seeds)) + layout)
    return ("python benchmarks/her_benchmark.py sac_her --sac_envs " + " ".join(args.sac_envs) + " --seeds "
            + " ".join(map(str, args.seeds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tables", nargs="*", default=[], metavar="TABLE",
                        help=f"which tables to train, in this order: {', '.join(TABLES)}; none with --report_only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="sac_her's seeds")
    parser.add_argument("--sac_envs", nargs="+", default=list(DEFAULT_SAC_ENVS), metavar="ENV:STEPS",
                        help="sac_her's rows (the optional FetchPush row: FetchPush-v4:300000)")
    parser.add_argument("--steps", type=int, default=DEFAULT_PUSH_STEPS,
                        help=f"fetchpush's env steps (whole epochs of {PUSH_EPOCH:,}); the default, "
                             f"{DEFAULT_PUSH_STEPS:,}, is about two hours here")
    parser.add_argument("--push_seeds", type=int, nargs="+", default=[0], help="fetchpush's seeds")
    parser.add_argument("--push_num_env", type=int, default=PUSH_NUM_ENV,
                        help=f"fetchpush's envs per rank (the table's runs use {PUSH_NUM_ENV}; another value makes "
                             "other rows)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / ".her_runs", help="one folder per run")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="where finished runs' summaries go (committed: benchmarks/results/her)")
    parser.add_argument("--peer_venv", type=Path, default=BENCH_DIR / ".peer_venv")
    parser.add_argument("--torch_threads", type=int, default=PEER_TORCH_THREADS,
                        help="the peer's torch.set_num_threads (0: torch's default)")
    parser.add_argument("--report_only", action="store_true", help="render both tables from what exists; train "
                                                                   "nothing")
    parser.add_argument("--no_docs", action="store_true", help="print the report; leave docs/ alone")
    args = parser.parse_args()
    if not args.tables and not args.report_only or any(table not in TABLES for table in args.tables):
        parser.error(f"name the tables to train ({', '.join(TABLES)}) or give --report_only; got {args.tables}")
    plans = {table: plan_for(table, args, parser) for table in TABLES}
    harness = Harness(TAG, args.out.resolve(), args.results.resolve(),
                      functools.partial(command_for, torch_threads=args.torch_threads), run_status,
                      shows=lambda status: bool(status.get("steps_done") or status.get("points")),
                      peer_outputs=(PEER_EPISODES, "*monitor.csv"), prepare_ours=restart_ours)
    if not args.report_only:
        if "fetchpush" in args.tables and not MPIEXEC.exists():
            raise SystemExit(f"fetchpush runs under MPI: no {MPIEXEC} (pip install -e '.[mpi]')")
        harness.train_all([run for table in args.tables for run in plans[table]],
                          lambda: peer_python_for(args.peer_venv.resolve()))
    for table in TABLES if args.report_only else args.tables:
        rows = harness.summaries(plans[table])
        section = (sac_report if table == "sac_her" else push_report)(rows, table_command(table, args))
        print(section)
        if not args.no_docs:
            (plot_sac if table == "sac_her" else plot_push)(rows)
            write_docs_section(DOCS_FILE, MARKS[table], section, HEADINGS[table])


if __name__ == "__main__":
    main()
