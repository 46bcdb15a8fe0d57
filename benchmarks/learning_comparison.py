"""Equal-step PPO learning curves on Breakout: ours (float32 and mixed_bfloat16) beside stable-baselines3.

Speed is worth nothing if learning suffers, so this trains each configuration for the same number of steps and
seeds and compares the scores of real games (monitor files, full games across lives):

    python benchmarks/learning_comparison.py --timesteps 300000 --seeds 0 1 --out benchmarks/.learning_runs
                                              [--configs ours_bf16 ours_fp32 sb3] [--peer_venv PATH] [--report_only]

Ours runs through the CLI users run (`python -m baselines_tf2.run --alg=ppo2`, Atari defaults: lr and clip range
annealed to 0); the peer is SB3's PPO('CnnPolicy') with the same settings (`peer_sb3.py ppo_learning`). Runs go
one after another (never two at once), each into `OUT/<config>-seed<S>/`; a run whose `result.json` exists is
reused, so an interrupted comparison resumes. The report gives per-run wall time, the mean score of the last 100
games, and the curve: mean score of the games that ended in each step bin.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from compare_peers import BENCH_DIR, PEER_SCRIPT, REPO_DIR, ensure_peer_venv, last_json_object
from run_table import curve, episodes

ENV_ID = "BreakoutNoFrameskip-v4"
LAST_EPISODES = 100  # the score reported: mean of the last 100 games, as the issue and the papers do
RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class Config:
    """One learner configuration: how to launch it and how its monitor files count steps."""

    name: str
    side: str  # "ours" or "peer"
    precision: str | None  # ours only
    frames_per_monitor_step: int  # SB3's Monitor sits under the frame skip and counts frames; ours counts agent steps


CONFIGS = {
    "ours_bf16": Config("ours_bf16", "ours", "mixed_bfloat16", 1),
    "ours_fp32": Config("ours_fp32", "ours", "float32", 1),
    "sb3": Config("sb3", "peer", None, 4),
}


def command_for(config: Config, seed: int, timesteps: int, run_dir: Path, peer_python: str | None) -> list[str]:
    """The command that trains `config` with `seed` for `timesteps` steps, writing monitor files into `run_dir`."""
    if config.side == "ours":
        return [sys.executable, "-m", "baselines_tf2.run", "--alg=ppo2", f"--env={ENV_ID}",
                f"--num_timesteps={timesteps}", f"--seed={seed}", f"--log_path={run_dir}",
                f"--precision={config.precision}"]
    assert peer_python is not None
    return [peer_python, str(PEER_SCRIPT), "ppo_learning", "--timesteps", str(timesteps), "--seed", str(seed),
            "--monitor_dir", str(run_dir)]


def train(config: Config, seed: int, timesteps: int, run_dir: Path, peer_python: str | None) -> dict[str, Any]:
    """Run one training to completion (output to `run_dir/train.log`) and record its wall time in result.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    command = command_for(config, seed, timesteps, run_dir, peer_python)
    print(f"training {config.name} seed {seed}: {' '.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with open(run_dir / "train.log", "w", encoding="utf-8") as log:
        completed = subprocess.run(command, cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT, text=True)
    wall_s = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(
            f"{config.name} seed {seed} failed with status {completed.returncode}; see {run_dir}/train.log"
        )
    result = {"config": config.name, "seed": seed, "timesteps": timesteps, "wall_s": wall_s, "command": command}
    if config.side == "peer":
        result.update(last_json_object((run_dir / "train.log").read_text(encoding="utf-8")) or {})
    tmp = run_dir / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / RESULT_FILE)
    return result


def summarize(config: Config, seed: int, run_dir: Path, timesteps: int, bins: int) -> dict[str, Any]:
    """The run's wall time, steps/s, game count, last-100 mean score and binned curve."""
    result = json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))
    games = episodes(run_dir, config.frames_per_monitor_step)
    last = [score for _, score in games[-LAST_EPISODES:]]
    return {
        "config": config.name, "seed": seed, "wall_s": result["wall_s"], "steps_per_s": timesteps / result["wall_s"],
        "games": len(games), "last100_mean": statistics.fmean(last) if last else None,
        "curve": curve(games, timesteps, bins),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    """A score or rate for the tables, or '-'."""
    return "-" if value is None else f"{value:.{digits}f}"


def report(summaries: list[dict[str, Any]], timesteps: int, bins: int) -> str:
    """Markdown: per-run table with curves, then per-configuration means over seeds."""
    edges = [f"{timesteps * (index + 1) / bins / 1000:.3g}" for index in range(bins)]
    lines = [
        f"Mean score of the last {LAST_EPISODES} games after {timesteps:,} steps of PPO on {ENV_ID} "
        "(8 envs, 128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 and clip 0.1 annealed to 0); curve columns: mean "
        "score of the games that ended in the bin (k steps).", "",
        "| config | seed | wall s | steps/s | games | last-100 mean | "
        + " | ".join(f"≤{edge}k" for edge in edges)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * bins,
    ]
    for row in summaries:
        lines.append(
            f"| {row['config']} | {row['seed']} | {row['wall_s']:.0f} | {row['steps_per_s']:.0f} | {row['games']} | "
            f"{fmt(row['last100_mean'])} | " + " | ".join(fmt(value) for value in row["curve"]) + " |"
        )
    lines += ["", "| config | seeds | last-100 mean over seeds | per seed |", "|---|---|---|---|"]
    for name in dict.fromkeys(row["config"] for row in summaries):
        scores = [row["last100_mean"] for row in summaries if row["config"] == name and row["last100_mean"] is not None]
        per_seed = ", ".join(fmt(score) for score in scores)
        lines.append(f"| {name} | {len(scores)} | {fmt(statistics.fmean(scores) if scores else None)} | {per_seed} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=300_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["ours_bf16", "sb3", "ours_fp32"])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / ".learning_runs", help="one folder per run")
    parser.add_argument("--bins", type=int, default=6, help="points on each curve")
    parser.add_argument("--peer_venv", type=Path, default=BENCH_DIR / ".peer_venv")
    parser.add_argument("--report_only", action="store_true", help="summarize finished runs; train nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write the summaries as JSON")
    args = parser.parse_args()
    if args.timesteps < 2048:
        parser.error(f"--timesteps must cover two PPO updates (>= 2048), got {args.timesteps}")
    peer_python = None
    if "sb3" in args.configs and not args.report_only:
        peer_python = str(ensure_peer_venv(args.peer_venv.resolve()))
    summaries = []
    for seed in args.seeds:
        for name in args.configs:
            config, run_dir = CONFIGS[name], args.out.resolve() / f"{name}-seed{seed}"
            if not (run_dir / RESULT_FILE).exists():
                if args.report_only:
                    continue
                train(config, seed, args.timesteps, run_dir, peer_python)
            summaries.append(summarize(config, seed, run_dir, args.timesteps, args.bins))
    text = report(summaries, args.timesteps, args.bins)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
