"""What the learning tables share (`mujoco_table.py`, `atari_scores.py`): train or resume one CLI run into its
folder, read its games from the monitor files, keep a committed summary, and render a docs section between markers.

A run folder holds the CLI's logs, monitor files and `checkpoints/`, plus what the tables add: `train.log` (the
output of every piece, appended), `wall_s` (wall time summed over the pieces) and `pieces.json` (when each resumed
piece started and from which step, so a curve keeps its step count across resumes).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's baselines_tf2 (checkpoint reading)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WALL_FILE = "wall_s"
PIECES_FILE = "pieces.json"
LOG_FILE = "train.log"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # forwarded to the training, which checkpoints and exits


def checkpoint_state(run_dir: Path) -> dict[str, Any] | None:
    """The training state of the run folder's newest checkpoint (total_timesteps, update, nbatch, ...), or None."""
    from baselines_tf2.training.checkpoint import CheckpointError, read_metadata, resolve_checkpoint_path

    if not has_checkpoint(run_dir):
        return None
    try:
        return read_metadata(resolve_checkpoint_path(run_dir / "checkpoints")).get("training") or None
    except (CheckpointError, OSError):
        return None


def has_checkpoint(run_dir: Path) -> bool:
    """Whether the run folder holds checkpoints (then the CLI resumes it with --load_path)."""
    folder = run_dir / "checkpoints"
    return folder.is_dir() and any(folder.iterdir())


def checkpoint_step(run_dir: Path) -> int:
    """Steps trained at the newest checkpoint (0 without one)."""
    state = checkpoint_state(run_dir)
    return int(state["update"]) * int(state["nbatch"]) if state else 0


def training_finished(run_dir: Path, timesteps: int) -> bool:
    """Whether the run folder's newest checkpoint ends a run of `timesteps` steps."""
    state = checkpoint_state(run_dir)
    if not state or state.get("total_timesteps") != timesteps:
        return False
    return state["update"] * state["nbatch"] + state["nbatch"] > timesteps


def wall_seconds(run_dir: Path) -> float:
    """Wall time of the run's pieces so far (0 before the first)."""
    path = run_dir / WALL_FILE
    return float(path.read_text()) if path.exists() else 0.0


def pieces(run_dir: Path) -> list[dict[str, float]]:
    """The resumed pieces of the run: [{'started': epoch seconds, 'from_step': step}, ...] in order."""
    path = run_dir / PIECES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def run_piece(command: Sequence[str], run_dir: Path, tag: str) -> int:
    """Run one piece of a run (a fresh start or a resume) with its output appended to train.log; add its wall time
    to `wall_s` and, for a resume, record when it started and from which step; its exit status. SIGTERM or SIGINT
    is passed on to the training, which writes a checkpoint and exits; then this process exits with 128 + signal."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if has_checkpoint(run_dir):
        record = pieces(run_dir) + [{"started": time.time(), "from_step": checkpoint_step(run_dir)}]
        write_json_atomic(run_dir / PIECES_FILE, record)
    print(f"[{tag}] {' '.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    received: list[int] = []
    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
        # Its own session: a signal to our process group (a closing terminal, Ctrl-C) reaches the training once,
        # through us, so it stops at a safe point with a checkpoint instead of taking it as a second, hard stop.
        process = subprocess.Popen(list(command), cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)

        def forward(signum: int, _frame: Any) -> None:
            received.append(signum)
            process.send_signal(signum)

        previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
        try:
            status = process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    (run_dir / WALL_FILE).write_text(f"{time.perf_counter() - start + wall_seconds(run_dir)}\n")
    if received:
        raise SystemExit(128 + received[0])
    return status


def write_json_atomic(path: Path, value: Any) -> None:
    """Write `value` as JSON to `path` through a temporary file, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def monitor_rows(run_dir: Path) -> list[tuple[float, float, float]]:
    """(end time in epoch seconds, length, score) of every game in the run's monitor files, by end time."""
    rows: list[tuple[float, float, float]] = []
    for path in sorted(run_dir.glob("*monitor.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            t_start = float(json.loads(handle.readline().lstrip("#")).get("t_start", 0.0))
            rows.extend((t_start + float(row["t"]), float(row["l"]), float(row["r"])) for row in csv.DictReader(handle))
    rows.sort()
    return rows


def episodes(run_dir: Path, frames_per_monitor_step: int,
             resumes: Sequence[dict[str, float]] = ()) -> list[tuple[float, float]]:
    """(agent step at which the game ended, game score) of every game in the run's monitor files, in time order.

    Games from all envs are merged by end time and their lengths summed, as baselines' plot_util does. A resume
    (`pieces.json`) sets the count to the checkpoint's step at the time it started: the games in progress when the
    run stopped were never written, so without this the count would fall behind by their steps at every resume."""
    marks = sorted((piece["started"], piece["from_step"]) for piece in resumes)
    ended_at, steps = [], 0.0
    for end, length, score in monitor_rows(run_dir):
        while marks and marks[0][0] <= end:
            steps = float(marks.pop(0)[1])
        steps += length / frames_per_monitor_step
        ended_at.append((steps, score))
    return ended_at


def curve(games: list[tuple[float, float]], timesteps: int, bins: int) -> list[float | None]:
    """Mean score of the games that ended in each of `bins` equal step ranges (None where none ended)."""
    width = timesteps / bins
    sums, counts = [0.0] * bins, [0] * bins
    for step, score in games:
        index = min(int(step // width), bins - 1)
        sums[index] += score
        counts[index] += 1
    return [total / count if count else None for total, count in zip(sums, counts)]


def git_commit() -> str | None:
    """The short commit of the checkout (None outside git)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True,
                            text=True).stdout.strip()
    return commit or None


def keep_summary(target: Path, summary: dict[str, Any]) -> None:
    """Write a finished run's summary, with the code version, where git keeps it (run folders are not committed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**summary, "code": git_commit()}, indent=2) + "\n", encoding="utf-8")


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (0 for a single value)."""
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0)


def fmt_mean_se(values: list[float], digits: int = 0) -> str:
    """'mean ± s.e.' or '-'."""
    if not values:
        return "-"
    mean, se = mean_se(values)
    return f"{mean:,.{digits}f} ± {se:,.{digits}f}"


def mean_se_band(curves: list[list[float | None]]) -> tuple[list[int], list[float], list[float]]:
    """(bin indices, means, standard errors) over the curves' bins that at least one curve reaches."""
    indices, means, ses = [], [], []
    for index in range(len(curves[0]) if curves else 0):
        values = [value for c in curves if (value := c[index]) is not None]
        if values:
            mean, se = mean_se(values)
            indices.append(index)
            means.append(mean)
            ses.append(se)
    return indices, means, ses


def write_docs_section(docs_file: Path, marks: tuple[str, str], section: str, heading: str) -> None:
    """Replace the text between the two marker comments of `docs_file` (appended under `heading` the first time;
    the file is created if missing)."""
    start_mark, end_mark = marks
    text = docs_file.read_text(encoding="utf-8") if docs_file.exists() else ""
    block = f"{start_mark}\n{section}\n{end_mark}"
    if start_mark in text and end_mark in text:
        before, rest = text.split(start_mark, 1)
        text = before + block + rest.split(end_mark, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    docs_file.write_text(text, encoding="utf-8")
