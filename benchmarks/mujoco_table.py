"""The MuJoCo table: algorithm x env x seed trained through the CLI, resumable, rendered into docs/benchmarks.md.

    python benchmarks/mujoco_table.py --algs ppo2 --envs HalfCheetah-v5 Hopper-v5 Walker2d-v5 --seeds 0 1 2 \\
                                      --timesteps 1000000 [--out benchmarks/.mujoco_runs] [--report_only]

Each run is `python -m baselines_tf2.run --alg=A --env=E --seed=S --num_timesteps=N` with the algorithm's
`mujoco()` defaults (PPO2: baselines' settings, one env, VecNormalize), float32, into `OUT/A/E/seedS/`. Runs go
one at a time, seed-major (every env's seed 0 before any seed 1), so a table with one seed per cell exists early.
An interrupted run resumes from its run folder (`--load_path` on the folder: exact step count, optimizer and
VecNormalize statistics); a finished run has `result.json` and its summary (scores, curve, wall time, commit) in
`benchmarks/results/mujoco/`, which is committed: a run with a summary there is never trained again, in any checkout.

Two scores per run, both stated in the table: the mean return of the last 10 training episodes (monitor files,
raw rewards; what baselines' published Mujoco1M figures are) and the mean of 10 evaluation episodes of the final
model, acting deterministically with frozen VecNormalize statistics (`python -m baselines_tf2.evaluate`).
The report (markdown table and a plot of mean +- standard error over seeds) replaces the section between the
markers in docs/benchmarks.md; the estimate of the remaining work is printed before each run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from run_table import (
    BENCH_DIR,
    REPO_DIR,
    curve,
    episodes,
    fmt_mean_se,
    has_checkpoint,
    plot_mean_se,
    run_piece,
    training_finished,
    wall_seconds,
    write_docs_section,
    write_json_atomic,
)
from run_table import keep_summary as keep_summary_file

DOCS_FILE = REPO_DIR / "docs" / "benchmarks.md"
PLOT_FILE = REPO_DIR / "docs" / "img" / "mujoco_table.png"
START_MARK, END_MARK = "<!-- mujoco-table:start -->", "<!-- mujoco-table:end -->"
RESULT_FILE = "result.json"
RESULTS_DIR = BENCH_DIR / "results" / "mujoco"  # finished runs' summaries, committed: run folders are not
LAST_EPISODES = 10
EVAL_EPISODES = 10

# baselines' published Mujoco1M means (6 seeds, v2 envs, README of baselines/benchmarks): the bar for 1M steps
PUBLISHED_1M = {
    ("ppo2", "HalfCheetah"): 1669, ("ppo2", "Hopper"): 2316, ("ppo2", "Walker2d"): 3425,
    ("trpo_mpi", "HalfCheetah"): 1290, ("trpo_mpi", "Hopper"): 1913, ("trpo_mpi", "Walker2d"): 2343,
}


def run_dir_for(out: Path, alg: str, env_id: str, seed: int) -> Path:
    """Where one run lives."""
    return out / alg / env_id / f"seed{seed}"


def train_command(alg: str, env_id: str, seed: int, timesteps: int, run_dir: Path) -> list[str]:
    """The CLI command of one run; resumes from the run folder when it holds checkpoints."""
    command = [sys.executable, "-m", "baselines_tf2.run", f"--alg={alg}", f"--env={env_id}", f"--seed={seed}",
               f"--num_timesteps={timesteps}", f"--log_path={run_dir}", "--precision=float32"]
    if has_checkpoint(run_dir):
        command.append(f"--load_path={run_dir}")
    return command


def train(alg: str, env_id: str, seed: int, timesteps: int, run_dir: Path) -> None:
    """Train (or resume) one run to the end, evaluate its final checkpoint and write result.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not training_finished(run_dir, timesteps):
        status = run_piece(train_command(alg, env_id, seed, timesteps, run_dir), run_dir, "mujoco_table")
        if status != 0:
            raise SystemExit(f"{alg} {env_id} seed {seed} stopped with status {status}; see {run_dir}/train.log "
                             "(run this script again to resume)")
    # The final checkpoint, not <run>/model: it holds the VecNormalize statistics at the last step for any version
    eval_json = run_dir / "eval.json"
    subprocess.run([sys.executable, "-m", "baselines_tf2.evaluate", str(run_dir / "checkpoints"), "--episodes",
                    str(EVAL_EPISODES), "--deterministic", "--seed", str(1000 + seed), "--json", str(eval_json)],
                   cwd=REPO_DIR, check=True, stdout=subprocess.DEVNULL)
    result = {"alg": alg, "env": env_id, "seed": seed, "timesteps": timesteps,
              "wall_s": wall_seconds(run_dir) or None,
              "command": [part for part in train_command(alg, env_id, seed, timesteps, run_dir)
                          if not part.startswith("--load_path")],
              "evaluation": json.loads(eval_json.read_text(encoding="utf-8"))["summary"]}
    write_json_atomic(run_dir / RESULT_FILE, result)


def summarize(run_dir: Path, timesteps: int, bins: int) -> dict[str, Any]:
    """One finished run's scores, wall time and curve."""
    result = json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))
    games = episodes(run_dir, 1)
    last = [score for _, score in games[-LAST_EPISODES:]]
    return {**result, "train_last10": statistics.fmean(last) if last else None,
            "eval_mean": result["evaluation"]["mean"], "curve": curve(games, timesteps, bins)}


def summary_file(alg: str, env_id: str, seed: int, timesteps: int) -> Path:
    """The committed summary of one finished run (scores, wall time, curve, code version)."""
    return RESULTS_DIR / f"{alg}-{env_id}-seed{seed}-{timesteps}.json"


def keep_summary(run_dir: Path, key: tuple[str, str, int], timesteps: int, bins: int) -> None:
    """Write a finished run's summary where git keeps it, so the table survives a fresh checkout."""
    keep_summary_file(summary_file(*key, timesteps), summarize(run_dir, timesteps, bins))


def report(summaries: list[dict[str, Any]], timesteps: int, command: str) -> str:
    """The markdown section: one row per (algorithm, env) with both scores and the published bar."""
    lines = [
        f"`{command}`", "",
        f"{timesteps:,} steps per run, float32, one run at a time on the 2-core VM (some beside other training, "
        "so the wall column is the median run's). *train*: mean return of the last "
        f"{LAST_EPISODES} training episodes (raw rewards, as baselines' published figures); *eval*: "
        f"{EVAL_EPISODES} deterministic episodes of the final model with frozen VecNormalize statistics. Mean ± "
        "standard error over seeds. baselines' published Mujoco1M means ran the v2 envs with 6 seeds; the v5 envs "
        "differ most in Walker2d, whose v2-v4 model gave the left foot friction 1.9 and the right 0.9, and whose v5 "
        "model gives both 1.9 (gymnasium's Walker2d-v5 changelog, Gymnasium issue #477), so scores on the two "
        "are not the same measure.", "",
        "| algorithm | env | seeds | train (last 10) | eval (10 episodes) | baselines' published, 1M | wall min/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for alg, env_id in dict.fromkeys((row["alg"], row["env"]) for row in summaries):
        rows = [row for row in summaries if row["alg"] == alg and row["env"] == env_id]
        published = PUBLISHED_1M.get((alg, env_id.split("-")[0]))
        bar = f"{published:,}" if published is not None and timesteps == 1_000_000 else "-"
        train_scores = [row["train_last10"] for row in rows if row["train_last10"] is not None]
        wall = statistics.median(row["wall_s"] for row in rows) / 60
        lines.append(f"| {alg} | {env_id} | {len(rows)} | {fmt_mean_se(train_scores)} | "
                     f"{fmt_mean_se([row['eval_mean'] for row in rows])} | {bar} | {wall:.0f} |")
    lines += ["", f"![MuJoCo learning curves](img/{PLOT_FILE.name})"]
    return "\n".join(lines)


def plot(summaries: list[dict[str, Any]], timesteps: int, bins: int) -> None:
    """One panel per env: each algorithm's binned training-episode return, mean +- s.e. over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env_ids = list(dict.fromkeys(row["env"] for row in summaries))
    figure, axes = plt.subplots(1, len(env_ids), figsize=(4.5 * len(env_ids), 3.5), squeeze=False)
    steps = [timesteps * (index + 0.5) / bins for index in range(bins)]
    for axis, env_id in zip(axes[0], env_ids):
        for alg in dict.fromkeys(row["alg"] for row in summaries if row["env"] == env_id):
            curves = [row["curve"] for row in summaries if row["env"] == env_id and row["alg"] == alg]
            plot_mean_se(axis, curves, steps, f"{alg} ({len(curves)} seeds)")
            published = PUBLISHED_1M.get((alg, env_id.split("-")[0]))
            if published is not None and timesteps == 1_000_000:
                axis.axhline(published, linestyle="--", linewidth=1, color="gray")
        axis.set_title(env_id)
        axis.set_xlabel("steps")
        axis.set_ylabel("training episode return")
        axis.legend(fontsize=8)
    figure.tight_layout()
    PLOT_FILE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT_FILE, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algs", nargs="+", default=["ppo2"])
    parser.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / ".mujoco_runs", help="one folder per run")
    parser.add_argument("--bins", type=int, default=20, help="points on each curve")
    parser.add_argument("--report_only", action="store_true", help="render finished runs; train nothing")
    parser.add_argument("--no_docs", action="store_true", help="print the report; leave docs/ alone")
    args = parser.parse_args()
    if args.timesteps < 1:
        parser.error(f"--timesteps must be positive, got {args.timesteps}")
    out = args.out.resolve()
    plan = [(alg, env_id, seed) for seed in args.seeds for alg in args.algs for env_id in args.envs]
    if not args.report_only:
        for alg, env_id, seed in plan:
            if summary_file(alg, env_id, seed, args.timesteps).exists():
                continue
            done = [json.loads(summary_file(*key, args.timesteps).read_text())["wall_s"]
                    for key in plan if summary_file(*key, args.timesteps).exists()]
            left = len(plan) - len(done)
            if done:
                print(f"[mujoco_table] {left} runs left, about {left * statistics.fmean(done) / 3600:.1f} h "
                      "at the finished runs' mean wall time", file=sys.stderr, flush=True)
            run_dir = run_dir_for(out, alg, env_id, seed)
            if not (run_dir / RESULT_FILE).exists():
                train(alg, env_id, seed, args.timesteps, run_dir)
            keep_summary(run_dir, (alg, env_id, seed), args.timesteps, args.bins)
    summaries = [json.loads(summary_file(*key, args.timesteps).read_text(encoding="utf-8")) for key in plan
                 if summary_file(*key, args.timesteps).exists()]
    if not summaries:
        raise SystemExit("no finished runs to report")
    command = (f"python benchmarks/mujoco_table.py --algs {' '.join(args.algs)} --envs {' '.join(args.envs)} "
               f"--seeds {' '.join(map(str, args.seeds))} --timesteps {args.timesteps}")
    section = report(summaries, args.timesteps, command)
    print(section)
    if not args.no_docs:
        plot(summaries, args.timesteps, args.bins)
        write_docs_section(DOCS_FILE, (START_MARK, END_MARK), section, "MuJoCo table")


if __name__ == "__main__":
    main()
