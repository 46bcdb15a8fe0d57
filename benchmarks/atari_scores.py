"""The Atari scores: (config, game, seed, steps) trained through the CLI, resumable, rendered into docs/scores.md.

    mkdir -p benchmarks/.atari_runs && nohup python benchmarks/atari_scores.py \\
        --runs ppo2:PongNoFrameskip-v4:3000000 deepq:PongNoFrameskip-v4:1500000 --seeds 0 1 \\
        > benchmarks/.atari_runs/harness.log 2>&1 &
    python benchmarks/atari_scores.py --report_only          (the default table; re-renders docs/scores.md)

Each run is `python -m baselines_tf2.run --alg=A --env=GAME --num_timesteps=N <the config's arguments> --seed=S
--log_path=OUT/<config>/<GAME>/seed<S>` (CONFIGS: every config's exact arguments, in one place), one at a time,
seed-major (every row's seed 0 before any seed 1). A run folder with checkpoints is resumed with the same command
plus `--load_path=<run folder>`, whoever started it: a run launched by hand with that command is adopted (the
harness first waits for its process to end, if it is still training). SIGTERM or Ctrl-C to the harness reaches the
training, which writes a checkpoint and exits; the next start of the harness resumes it (run it with nohup so a
closing session does not stop it; a second harness on the same OUT exits at once). The peer config `sb3_dqn`
(stable-baselines3's DQN, in the peer virtualenv) saves its model and replay buffer every 100k steps and when
stopped by a signal, and goes on from there when started again (close to, not exactly, the same run: peer_sb3.py's
measure_dqn_learning says what differs); killed outright before its first save, it starts again from scratch.

A finished run's summary (the curve, the final score, wall time summed over its pieces, the command, the commit)
goes to `benchmarks/results/atari/`, which is committed: a run with a summary there is never trained again. An
unfinished run's furthest status so far goes there too, as `<summary name>.unfinished.json` (written after each piece
and by each report), so that its curve outlives a run folder lost with its machine. The
score of a run is the mean of its last 100 games (real games: all lives, from the monitor files) against agent
steps; the report (one table, one plot per game and algorithm family with that family's published reference
points beside our curves, unfinished runs' curves so far marked as such) replaces the section between the markers
of docs/scores.md. Before each run the harness prints how long the remaining work will take, from the steps/s
measured so far in the run folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_common import DQN_SETTINGS
from compare_peers import PEER_SCRIPT, ensure_peer_venv
from ours import SB3_Q_NETWORK
from peer_sb3 import DQN_LEARNING_FLAGS
from run_table import (
    BENCH_DIR,
    REPO_DIR,
    WALL_FILE,
    Harness,
    TableRun,
    checkpoint_state,
    checkpoint_step,
    episodes,
    fmt_mean_se,
    fmt_steps,
    machine_note,
    peer_finished,
    pieces,
    plot_mean_se,
    resume_step,
    training_finished,
    unfinished_note,
    write_docs_section,
)

DOCS_FILE = REPO_DIR / "docs" / "scores.md"
IMG_DIR = REPO_DIR / "docs" / "img"
MARKS = ("<!-- atari-scores:start -->", "<!-- atari-scores:end -->")
TAG = "atari_scores"  # names the harness in its messages
RESULTS_DIR = BENCH_DIR / "results" / "atari"  # finished runs' summaries, committed: run folders are not
LAST_GAMES = 100  # the score: mean of the last 100 games, as the PPO paper and baselines' benchmarks report
CURVE_POINTS = 50

# SB3's DQN Atari settings (rl-baselines3-zoo's atari entry: 100k-step learning start, 100k buffer, target sync every
# 1000 steps, eps 1 -> 0.01 over 10 % of the run); the rest as compare_peers' DQN speed row, on both sides.
SB3_DQN_SETTINGS: dict[str, float | int] = {**DQN_SETTINGS, "learning_starts": 100_000}


def cli_flags(settings: dict[str, Any]) -> tuple[str, ...]:
    """--name=value flags for our CLI (values as Python literals or plain words)."""
    return tuple(f"--{name}={value}" for name, value in settings.items())


@dataclasses.dataclass(frozen=True)
class Config:
    """One learner configuration: how to launch it and how its monitor files count steps."""

    name: str
    alg: str  # the algorithm family of the published reference points (ppo2 or deepq)
    description: str
    args: tuple[str, ...]  # ours: CLI flags after --alg/--env/--num_timesteps; peer: the peer script's flags
    side: str = "ours"  # "ours" (resumable CLI run) or "peer" (SB3 in the peer venv: see run_table's Harness.train)
    frames_per_monitor_step: int = 1  # SB3's Monitor sits under the frame skip and counts frames; ours agent steps


CONFIGS = {config.name: config for config in (
    Config("ppo2", "ppo2", "baselines' Atari defaults (8 envs x 128 steps, lr and clip annealed)", ("--num_env=8",)),
    Config("ppo2_float32", "ppo2", "as ppo2, in float32 (ppo2 computes in bfloat16 where the CPU has it natively)",
           ("--num_env=8", "--precision=float32")),
    Config("deepq", "deepq", "baselines' atari() defaults: dueling, double Q, prioritized replay (10k buffer)",
           ("--save_replay",)),
    Config("deepq_sb3like", "deepq", "SB3's DQN settings: uniform replay (100k), no dueling, no double Q, Nature "
           "CNN with one 512 layer", (*cli_flags({**SB3_Q_NETWORK, "prioritized_replay": False}),
                                       *cli_flags(SB3_DQN_SETTINGS), "--save_replay")),
    Config("sb3_dqn", "deepq", "stable-baselines3's DQN('CnnPolicy'), the same settings",
           tuple(part for name in DQN_LEARNING_FLAGS for part in (f"--{name}", str(SB3_DQN_SETTINGS[name]))),
           side="peer", frames_per_monitor_step=4),
)}

# Published scores at a number of agent steps (1 step = 4 frames). `what` says which score each one is.
REFERENCES: list[dict[str, Any]] = [
    dict(alg="ppo2", game="Pong", steps=10_000_000, value=20.36, source="CleanRL ppo_atari.py",
         url="https://docs.cleanrl.dev/rl-algorithms/ppo/#ppo_ataripy",
         what="mean training-episode return (full games) at the end, 3 seeds"),
    dict(alg="ppo2", game="Pong", steps=10_000_000, value=20.512, source="openai/baselines PPO2 (Huang et al. 2022)",
         url="https://docs.cleanrl.dev/rl-algorithms/ppo/#ppo_ataripy",
         what="as CleanRL's row: baselines' ppo2 rerun by CleanRL, 3 seeds"),
    dict(alg="ppo2", game="Pong", steps=10_000_000, value=13.68, source="baselines Atari10M table (commit 7bfbcf1)",
         url="https://github.com/openai/baselines/blob/master/benchmarks_atari10M.htm",
         what="training-episode return at 10M steps, mean of 6 runs"),
    dict(alg="ppo2", game="Breakout", steps=10_000_000, value=414.66, source="CleanRL ppo_atari.py",
         url="https://docs.cleanrl.dev/rl-algorithms/ppo/#ppo_ataripy",
         what="mean training-episode return (full games) at the end, 3 seeds"),
    dict(alg="ppo2", game="Breakout", steps=10_000_000, value=406.57,
         source="openai/baselines PPO2 (Huang et al. 2022)",
         url="https://docs.cleanrl.dev/rl-algorithms/ppo/#ppo_ataripy",
         what="as CleanRL's row: baselines' ppo2 rerun by CleanRL, 3 seeds"),
    dict(alg="ppo2", game="Breakout", steps=10_000_000, value=114.26,
         source="baselines Atari10M table (commit 7bfbcf1)",
         url="https://github.com/openai/baselines/blob/master/benchmarks_atari10M.htm",
         what="training-episode return at 10M steps, mean of 6 runs"),
    dict(alg="deepq", game="Pong", steps=10_000_000, value=20.25, source="CleanRL dqn_atari.py",
         url="https://docs.cleanrl.dev/rl-algorithms/dqn/#dqn_ataripy",
         what="mean training-episode return (full games) at the end, 3 seeds; no dueling/double/prioritized"),
    dict(alg="deepq", game="Pong", steps=10_000_000, value=16.49, source="baselines Atari10M table (commit 7bfbcf1)",
         url="https://github.com/openai/baselines/blob/master/benchmarks_atari10M.htm",
         what="training-episode return at 10M steps, mean of 6 runs"),
    dict(alg="deepq", game="Pong", steps=12_500_000, value=18.9, source="Mnih et al. 2015 (Nature DQN)",
         url="https://doi.org/10.1038/nature14236",
         what="evaluation episodes (eps 0.05, up to 30 no-op starts) after 50M frames; not training episodes"),
    dict(alg="deepq", game="Breakout", steps=10_000_000, value=366.928, source="CleanRL dqn_atari.py",
         url="https://docs.cleanrl.dev/rl-algorithms/dqn/#dqn_ataripy",
         what="mean training-episode return (full games) at the end, 3 seeds; no dueling/double/prioritized"),
    dict(alg="deepq", game="Breakout", steps=10_000_000, value=131.46,
         source="baselines Atari10M table (commit 7bfbcf1)",
         url="https://github.com/openai/baselines/blob/master/benchmarks_atari10M.htm",
         what="training-episode return at 10M steps, mean of 6 runs"),
    dict(alg="deepq", game="Breakout", steps=12_500_000, value=401.2, source="Mnih et al. 2015 (Nature DQN)",
         url="https://doi.org/10.1038/nature14236",
         what="evaluation episodes (eps 0.05, up to 30 no-op starts) after 50M frames; not training episodes"),
]

# Points read off the learning curves of the same baselines Atari10M page (the 6-run mean as plotted, each run's lr
# and clip annealed over 10M steps), where our milestones sit. The page's table gives lower numbers for the same runs
# (Pong ppo2 13.68 against the curve's 20.65 at its end); it does not say how either was computed.
BASELINES_CURVE = dict(source="baselines Atari10M curves (commit 7bfbcf1)",
                       url="https://github.com/openai/baselines/blob/master/benchmarks_atari10M.htm",
                       what="read off the page's plotted learning curve (mean of 6 runs, smoothed as plotted; "
                            "each run annealed over 10M steps), linear between the curve's vertices ~100k steps "
                            "apart")
REFERENCES += [
    dict(BASELINES_CURVE, alg=alg, game=game, steps=steps, value=value)
    for alg, game, points in (
        ("ppo2", "Pong", ((1_000_000, -2.6), (2_000_000, 14.1), (3_000_000, 17.6), (10_000_000, 20.7))),
        ("ppo2", "Breakout", ((1_000_000, 22.0), (3_000_000, 97.1), (5_000_000, 176.5), (10_000_000, 239.9))),
        ("deepq", "Pong", ((1_000_000, 15.6), (1_500_000, 19.8))),
    )
    for steps, value in points
]

# The milestones, in the order they run for each seed (the long Breakout run last).
DEFAULT_RUNS = ("ppo2:PongNoFrameskip-v4:3000000", "deepq:PongNoFrameskip-v4:1500000",
                "deepq_sb3like:PongNoFrameskip-v4:1000000", "sb3_dqn:PongNoFrameskip-v4:1000000",
                "ppo2:BreakoutNoFrameskip-v4:10000000")


class Run(TableRun[Config]):
    """One cell of the table."""

    @property
    def game(self) -> str:
        return self.env_id.split("NoFrameskip")[0].split("-")[0]


def command_for(run: Run, run_dir: Path, peer_python: str | None = None, resume: bool = False,
                extra_args: tuple[str, ...] = ()) -> list[str]:
    """The command that trains `run` into `run_dir` (ours: with `extra_args`, plus --load_path when resuming)."""
    if run.config.side == "peer":
        if peer_python is None:
            raise ValueError("the peer's command needs the peer virtualenv's python")
        return [peer_python, str(PEER_SCRIPT), "dqn_learning", "--env", run.env_id, "--timesteps",
                str(run.timesteps), "--seed", str(run.seed), "--monitor_dir", str(run_dir), *run.config.args]
    command = [sys.executable, "-m", "baselines_tf2.run", f"--alg={run.config.alg}", f"--env={run.env_id}",
               f"--num_timesteps={run.timesteps}", *run.config.args, *extra_args, f"--seed={run.seed}",
               f"--log_path={run_dir}"]
    return command + [f"--load_path={run_dir}"] if resume else command


def last_mean(games: list[tuple[float, float]], upto: float | None = None) -> float | None:
    """Mean score of the last LAST_GAMES games that ended by step `upto` (all games if None); None before any."""
    scores = [score for step, score in games if upto is None or step <= upto][-LAST_GAMES:]
    return statistics.fmean(scores) if scores else None


def last_mean_curve(games: list[tuple[float, float]], timesteps: int,
                    reached: float | None = None) -> list[float | None]:
    """The score (mean of the last 100 games) at CURVE_POINTS evenly spaced steps up to `timesteps`; None at the
    points past `reached` (an unfinished run's steps so far)."""
    points = [timesteps * (index + 1) / CURVE_POINTS for index in range(CURVE_POINTS)]
    return [None if reached is not None and step > reached else last_mean(games, step) for step in points]


def run_status(run: Run, run_dir: Path) -> dict[str, Any]:
    """What a run folder shows so far: steps done, wall time, games, score and curve (finished or not)."""
    games = episodes(run_dir, run.config.frames_per_monitor_step, pieces(run_dir))
    last_game_step = games[-1][0] if games else 0.0
    steps = checkpoint_step(run_dir) if run.config.side == "ours" else max(resume_step(run_dir) or 0, last_game_step)
    finished = peer_finished(run_dir, run.timesteps) if run.config.side == "peer" else training_finished(
        run_dir, run.timesteps)
    reached = None if finished else max(steps, last_game_step)  # an unfinished curve stops where the run is
    return {**run.status(run_dir), "steps_done": run.timesteps if finished else steps, "finished": finished,
            "games": len(games), "last100_mean": last_mean(games),
            "curve": last_mean_curve(games, run.timesteps, reached)}


def adopt(run_dir: Path) -> None:
    """Take over a run folder started outside the harness (Harness.train has checked it is this run): estimate the wall
    time it took up to its newest checkpoint (monitor files' start to the checkpoint's write) if no harness piece
    recorded it."""
    if not (run_dir / WALL_FILE).exists() and checkpoint_state(run_dir) is not None:
        headers = [json.loads(path.open(encoding="utf-8").readline().lstrip("#")).get("t_start")
                   for path in run_dir.glob("*monitor.csv")]
        newest = max((path.stat().st_mtime for path in (run_dir / "checkpoints").iterdir()), default=None)
        if headers and newest is not None:
            (run_dir / WALL_FILE).write_text(f"{max(0.0, newest - min(headers))}\n")


def references_for(config_name: str, game: str) -> list[dict[str, Any]]:
    """The published points for this config's algorithm family on this game."""
    return [ref for ref in REFERENCES if ref["alg"] == CONFIGS[config_name].alg and ref["game"] == game]


def report(rows: list[dict[str, Any]], command: str, games: list[str]) -> str:
    """The markdown section: the table, the plots, and the reference points (of `games`) with their sources."""
    lines = [
        f"`{command}`", "",
        f"Score: mean of the last {LAST_GAMES} training games (full games over all lives, from the monitor files), "
        "mean ± standard error over seeds; the wall time is summed over the pieces of a resumed run, one run at a "
        "time on a 2-core machine, with the CPU models its pieces ran on where they were recorded. *unfinished*: the "
        "run so far (steps done of the target).", "",
        "| game | config | steps | seeds | our score | reference at the same steps | published elsewhere | "
        "wall h/run | code |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in dict.fromkeys((row["env"], row["config"], row["timesteps"]) for row in rows):
        env_id, config_name, timesteps = key
        cell = [row for row in rows if (row["env"], row["config"], row["timesteps"]) == key]
        game = env_id.split("NoFrameskip")[0]
        scores = [row["last100_mean"] for row in cell if row["last100_mean"] is not None]
        score = fmt_mean_se(scores, 1) + unfinished_note(cell)
        refs = references_for(config_name, game)
        same = "; ".join(f"{ref['value']:g} ({ref['source']})" for ref in refs if ref["steps"] == timesteps) or "-"
        other = "; ".join(f"{ref['value']:g} at {fmt_steps(ref['steps'])} ({ref['source']})" for ref in refs
                          if ref["steps"] != timesteps) or "-"
        walls = [row["wall_s"] for row in cell if row.get("wall_s")]
        wall = f"{statistics.fmean(walls) / 3600:.1f}{machine_note(cell)}" if walls else "-"
        codes = ", ".join(sorted({row["code"] for row in cell if row.get("code")})) or "-"
        lines.append(f"| {game} | {config_name} | {fmt_steps(timesteps)} | {len(cell)} | {score} | {same} | {other} "
                     f"| {wall} | {codes} |")
    if not rows:
        lines.append("| (no run has finished a game yet) | | | | | | | | |")
    lines += ["", "Configs (each run's exact command is in its summary in `benchmarks/results/atari/`):", ""]
    for name in dict.fromkeys(row["config"] for row in rows):
        config = CONFIGS[name]
        lines.append(f"- `{name}`: {config.description}; `{' '.join(config.args)}`")
    for game, family in figures(rows):
        lines += ["", f"![{game}, {family}: our curves beside the published points](img/{figure_file(game, family)})"]
    lines += ["", "Reference points (value, agent steps = frames / 4, source, what it measures):", ""]
    for ref in REFERENCES:
        if ref["game"] in games:
            lines.append(f"- {ref['game']}, {ref['alg']}: {ref['value']:g} at {fmt_steps(ref['steps'])} steps, "
                         f"[{ref['source']}]({ref['url']}): {ref['what']}")
    return "\n".join(lines)


def figures(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (game, algorithm family) pairs the rows cover, in order: one figure each, so that a family's curves
    (ours and the peer's) share a plot with that family's published points and nothing else."""
    return list(dict.fromkeys((row["env"].split("NoFrameskip")[0], CONFIGS[row["config"]].alg) for row in rows))


def figure_file(game: str, family: str) -> str:
    """The figure's file name in IMG_DIR (docs/img)."""
    return f"scores_{game}_{family}.png"


def plot(rows: list[dict[str, Any]]) -> list[Path]:
    """One figure per game and algorithm family: each config's score curve (mean ± s.e. over seeds) and the
    family's published points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for game, family in figures(rows):
        figure, axis = plt.subplots(figsize=(7, 4))
        game_rows = [row for row in rows
                     if row["env"].split("NoFrameskip")[0] == game and CONFIGS[row["config"]].alg == family]
        for config_name, timesteps in dict.fromkeys((row["config"], row["timesteps"]) for row in game_rows):
            cell = [row for row in game_rows if (row["config"], row["timesteps"]) == (config_name, timesteps)]
            unfinished = any(not row.get("finished", True) for row in cell)
            label = f"{config_name}, {fmt_steps(timesteps)} ({len(cell)} seed{'s' * (len(cell) > 1)}" + (
                ", unfinished)" if unfinished else ")")
            bins = len(cell[0]["curve"])
            plot_mean_se(axis, [row["curve"] for row in cell], [timesteps * (i + 1) / bins for i in range(bins)],
                         label, linestyle="--" if unfinished else "-")
        horizon = max(row["timesteps"] for row in game_rows)  # points past our longest run stay in the table only
        points: dict[str, list[tuple[int, float]]] = {}  # one colour and legend entry per source
        for ref in REFERENCES:
            if ref["game"] == game and ref["alg"] == family and ref["steps"] <= 1.5 * horizon:
                points.setdefault(ref["source"], []).append((ref["steps"], ref["value"]))
        for source, xy in points.items():
            axis.scatter(*zip(*xy), marker="x", zorder=3, label=f"{source} ({family})")
        axis.set_title(f"{game}, {family}: mean of the last {LAST_GAMES} games")
        axis.set_xlabel("agent steps")
        axis.set_ylabel("score")
        axis.legend(fontsize=6, loc="best")
        figure.tight_layout()
        target = IMG_DIR / figure_file(game, family)
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, dpi=100)
        plt.close(figure)
        written.append(target)
    return written


def parse_runs(parser: argparse.ArgumentParser, specs: list[str], seeds: list[int]) -> list[Run]:
    """CONFIG:GAME:STEPS rows x seeds, seed-major; parser.error on a bad row."""
    rows = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 3 or parts[0] not in CONFIGS or not parts[2].isdigit() or int(parts[2]) < 1:
            parser.error(f"--runs takes CONFIG:GAME:STEPS with CONFIG one of {', '.join(CONFIGS)}, got {spec!r}")
        rows.append((CONFIGS[parts[0]], parts[1], int(parts[2])))
    if len(set(rows)) != len(rows):
        parser.error("each CONFIG:GAME:STEPS row can appear once")
    return [Run(config, env_id, seed, steps) for seed in seeds for config, env_id, steps in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=list(DEFAULT_RUNS), metavar="CONFIG:GAME:STEPS",
                        help=f"rows of the table; configs: {', '.join(CONFIGS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / ".atari_runs", help="one folder per run")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="where finished runs' summaries go (committed: benchmarks/results/atari)")
    parser.add_argument("--peer_venv", type=Path, default=BENCH_DIR / ".peer_venv")
    parser.add_argument("--extra_args", default="",
                        help="more flags for our CLI runs (e.g. '--num_env=2 --nsteps=32' for a smoke test); they "
                             "go into the runs' commands and summaries")
    parser.add_argument("--report_only", action="store_true", help="render what exists; train nothing")
    parser.add_argument("--no_docs", action="store_true", help="print the report; leave docs/ alone")
    args = parser.parse_args()
    plan = parse_runs(parser, args.runs, args.seeds)
    out, results, extra_args = args.out.resolve(), args.results.resolve(), tuple(args.extra_args.split())
    harness = Harness(TAG, out, results, functools.partial(command_for, extra_args=extra_args), run_status,
                      shows=lambda status: status["games"] > 0,
                      peer_outputs=("*monitor.csv", "peer_model-*", "peer_replay-*"), prepare_ours=adopt)
    if not args.report_only:
        harness.train_all(plan, lambda: str(ensure_peer_venv(args.peer_venv.resolve())))
    rows = harness.summaries(plan)
    command = "python benchmarks/atari_scores.py --runs " + " ".join(args.runs) + " --seeds " + " ".join(
        map(str, args.seeds))
    section = report(rows, command, list(dict.fromkeys(run.game for run in plan)))
    print(section)
    if not args.no_docs:
        plot(rows)
        write_docs_section(DOCS_FILE, MARKS, section, "Scores")


if __name__ == "__main__":
    main()
