"""What the learning tables share (`mujoco_table.py`, `atari_scores.py`, `her_benchmark.py`): train or resume one
CLI run into its folder, read its games from the monitor files, keep a committed summary, and render a docs section
between markers. The harnesses of `atari_scores.py` and `her_benchmark.py` also share their resume rules: one
harness per output folder, waiting for another process that trains a run folder, a peer (SB3) run resumed from
its PEER_STATE file where its script writes one (atari_scores.py's DQN) and otherwise started again from scratch,
the estimate of the remaining work, and the committed record of each unfinished run's furthest status.

A run folder holds the CLI's logs, monitor files and `checkpoints/`, plus what the tables add: `train.log` (the
output of every piece, appended), `wall_s` (wall time summed over the pieces), `pieces.json` (when each resumed
piece started and from which step, so a curve keeps its step count across resumes) and `machines.json` (the wall time
and steps of the pieces on each CPU model: a run resumed across sessions may have run on several machine types).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Protocol, Sequence, TypeVar

from compare_peers import last_json_object
from peer_sb3 import PEER_STATE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's baselines_tf2 (checkpoint reading)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WALL_FILE = "wall_s"
PIECES_FILE = "pieces.json"
MACHINES_FILE = "machines.json"
PIECE_RECORDS = (WALL_FILE, PIECES_FILE, MACHINES_FILE)  # what the harness adds to a run folder about its pieces
LOG_FILE = "train.log"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # forwarded to the training, which checkpoints and exits
PEER_RESULT = "result.json"  # a peer run's end: its wall time and the peer script's JSON (ours: the checkpoint's)
POLL_S = 60.0  # how often to look whether another process still trains a run folder


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


def peer_state(run_dir: Path) -> dict[str, Any] | None:
    """A resumable peer run's state (num_timesteps, total_timesteps, pieces) from its PEER_STATE file, or None."""
    path = run_dir / PEER_STATE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def peer_finished(run_dir: Path, timesteps: int) -> bool:
    """Whether the folder holds a peer run that finished `timesteps` steps (its PEER_RESULT says how many it did)."""
    path = run_dir / PEER_RESULT
    if not path.exists():
        return False
    return int((json.loads(path.read_text(encoding="utf-8")).get("peer") or {}).get("timesteps", 0)) >= timesteps


def resume_step(run_dir: Path) -> int | None:
    """The step a resume of this folder starts from: ours' newest checkpoint's, or a peer's saved step; None if the
    folder holds nothing to resume."""
    if has_checkpoint(run_dir):
        return checkpoint_step(run_dir)
    state = peer_state(run_dir)
    return int(state["num_timesteps"]) if state else None


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


VECTOR_UNITS = (("amx_bf16", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))  # widest first


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """This machine's CPU model name and its widest vector unit, from /proc/cpuinfo: 'AMD EPYC [AVX-512]'. The name
    alone does not tell machines apart: two VMs named 'AMD EPYC' here, one with AVX2 only and one with AVX-512, ran
    the same DQN updates 3x apart. The architecture's name where `cpuinfo` is not readable."""
    with contextlib.suppress(OSError):
        name, flags = "", set()
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not name:
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
        if name:
            unit = next((label for flag, label in VECTOR_UNITS if flag in flags), None)
            return f"{name} [{unit}]" if unit else name
    return platform.machine() or "unknown"


def machines(run_dir: Path) -> dict[str, dict[str, float]]:
    """The wall time and steps of the run's pieces on each CPU model: {model: {'wall_s': s, 'steps': n}} (pieces run
    before this record was kept are not in it)."""
    path = run_dir / MACHINES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def record_machine(run_dir: Path, wall_s: float, steps: int) -> None:
    """Add one piece's wall time and steps to this CPU model's totals in the run's MACHINES_FILE."""
    record = machines(run_dir)
    totals = record.setdefault(cpu_model(), {"wall_s": 0.0, "steps": 0})
    totals["wall_s"] += wall_s
    totals["steps"] += steps
    write_json_atomic(run_dir / MACHINES_FILE, record)


def run_piece(command: Sequence[str], run_dir: Path, tag: str) -> int:
    """Run one piece of a run (a fresh start or a resume) with its output appended to train.log; add its wall time
    to `wall_s` and, with its steps, to this CPU model's totals; for a resume, record when it started and from which
    step; its exit status. SIGTERM or SIGINT is passed on to the training, which writes a checkpoint and exits; then
    this process exits with 128 + signal."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if (from_step := resume_step(run_dir)) is not None:
        record = pieces(run_dir) + [{"started": time.time(), "from_step": from_step}]
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
    piece_s = time.perf_counter() - start
    (run_dir / WALL_FILE).write_text(f"{piece_s + wall_seconds(run_dir)}\n")
    record_machine(run_dir, piece_s, max(0, (resume_step(run_dir) or 0) - (from_step or 0)))
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


def plot_mean_se(axis: Any, curves: list[list[float | None]], bin_steps: Sequence[float], label: str,
                 **line_style: Any) -> None:
    """Draw the curves' mean over seeds on a matplotlib axis as a line (bin i at step `bin_steps[i]`), with a band of
    one standard error either side in the line's colour."""
    indices, means, ses = mean_se_band(curves)
    xs = [bin_steps[index] for index in indices]
    line, = axis.plot(xs, means, label=label, **line_style)
    axis.fill_between(xs, [m - s for m, s in zip(means, ses)], [m + s for m, s in zip(means, ses)], alpha=0.25,
                      color=line.get_color())


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


# ---- a harness's runs (atari_scores.py, her_benchmark.py) ------------------------------------------------------


class RunConfig(Protocol):
    """What the harness reads of a run's configuration."""

    @property
    def name(self) -> str: ...

    @property
    def side(self) -> str: ...  # "ours" (a resumable CLI run) or "peer" (SB3: see Harness.train)


ConfigT = TypeVar("ConfigT", bound=RunConfig)


@dataclasses.dataclass(frozen=True)
class TableRun(Generic[ConfigT]):
    """One cell of a table: a config trained on an env with a seed for a number of steps, in its own folder."""

    config: ConfigT
    env_id: str
    seed: int
    timesteps: int

    @property
    def layout(self) -> str:
        """What tells runs of another layout apart in the folder and names ('' where there is one layout)."""
        return ""

    def folder(self, out: Path) -> Path:
        """out/<config>/<env>[/<layout>]/seed<S>."""
        return out / self.config.name / self.env_id / self.layout / f"seed{self.seed}"

    def summary_file(self, results: Path) -> Path:
        """results/<config>-<env>[-<layout>]-seed<S>-<steps>.json."""
        layout = f"-{self.layout}" if self.layout else ""
        return results / f"{self.config.name}-{self.env_id}{layout}-seed{self.seed}-{self.timesteps}.json"

    def progress_file(self, results: Path) -> Path:
        """results/<summary's name>.unfinished.json: the furthest status the unfinished run's folder has shown."""
        summary = self.summary_file(results)
        return summary.with_name(f"{summary.stem}.unfinished.json")

    def label(self) -> str:
        """'<config> <env>[ <layout>] seed <S> (<steps> steps)', for messages."""
        layout = f" {self.layout}" if self.layout else ""
        return f"{self.config.name} {self.env_id}{layout} seed {self.seed} ({self.timesteps:,} steps)"

    def status(self, run_dir: Path) -> dict[str, Any]:
        """What every run folder's status starts with (each script adds steps_done, finished and its curve)."""
        return {"config": self.config.name, "env": self.env_id, "seed": self.seed, "timesteps": self.timesteps,
                "wall_s": wall_seconds(run_dir), "pieces": len(pieces(run_dir)) + 1, "machines": machines(run_dir)}


RunT = TypeVar("RunT", bound=TableRun[Any])


@dataclasses.dataclass(frozen=True)
class Harness(Generic[RunT]):
    """A table script's resumable runs into `out`, one at a time, with finished runs' summaries in `results`: what
    differs between the scripts is given, the resume rules are here."""

    tag: str  # the script's name, in its messages and its lock's
    out: Path
    results: Path
    command: Callable[[RunT, Path, str | None, bool], list[str]]  # (run, folder, peer python, resume) -> command
    run_status: Callable[[RunT, Path], dict[str, Any]]  # a folder so far: TableRun.status plus steps_done, ...
    shows: Callable[[dict[str, Any]], bool]  # whether an unfinished run's status has anything to report yet
    peer_outputs: tuple[str, ...]  # glob patterns of what a peer run writes into its folder
    prepare_ours: Callable[[Path], None]  # before our run trains: the script's adoption or clean-up of its folder

    def train_all(self, plan: Sequence[RunT], peer_python: Callable[[], str]) -> None:
        """Train each run of `plan` without a summary, in order, and keep its summary; `peer_python` is called once,
        if a peer run is left."""
        with_peer = any(run.config.side == "peer" and not run.summary_file(self.results).exists() for run in plan)
        python = peer_python() if with_peer else None
        with harness_lock(self.out, self.tag):
            for run in plan:
                if run.summary_file(self.results).exists():
                    continue
                print(self.remaining_work(plan), file=sys.stderr, flush=True)
                try:
                    self.train(run, python)
                finally:  # a stopped or failed piece's progress is recorded too
                    self.progress(run)
                self.finish(run)

    def train(self, run: RunT, peer_python: str | None) -> None:
        """Train (or resume) one run to its end; a failed or stopped piece ends the harness (start it again to go on).

        First waits while another process trains into the folder (a run started by hand, or one a killed harness
        left), and refuses a folder that holds a checkpoint of another step count. A peer run goes on from its
        PEER_STATE (its script resumes itself with the same command) or, without one, starts again from scratch; it
        ends with PEER_RESULT. Ours: prepare_ours, then a resume when the folder holds checkpoints."""
        run_dir = run.folder(self.out)
        run_dir.mkdir(parents=True, exist_ok=True)
        while pids := training_pids(run_dir):
            print(f"[{self.tag}] waiting for process {pids[0]}, which trains {run_dir}", file=sys.stderr, flush=True)
            time.sleep(POLL_S)
        if not self.holds(run):
            raise SystemExit(f"{run_dir} holds a run of {self.held_steps(run)} steps, not {run.timesteps}; move it "
                             "away or give this row its steps")
        if run.config.side == "peer":
            if peer_finished(run_dir, run.timesteps):  # finished, but stopped before its summary was kept
                return
            (run_dir / PEER_RESULT).unlink(missing_ok=True)  # a run of other steps that shared the folder
            if peer_state(run_dir) is None:
                self.restart_peer(run_dir)
            try:
                status = run_piece(self.command(run, run_dir, peer_python, False), run_dir, self.tag)
            finally:  # also when a signal stopped the harness: it may have landed as the run finished
                self.keep_peer_result(run, run_dir)
        else:
            self.prepare_ours(run_dir)
            if training_finished(run_dir, run.timesteps):
                return
            status = run_piece(self.command(run, run_dir, None, has_checkpoint(run_dir)), run_dir, self.tag)
        if status != 0:
            raise SystemExit(f"{run.label()} stopped with status {status}; see {run_dir}/{LOG_FILE} "
                             "(run this script again to resume)")

    def keep_peer_result(self, run: RunT, run_dir: Path) -> None:
        """Write PEER_RESULT (wall time, the peer's JSON line) if the peer's last JSON line reports the run's steps."""
        peer = last_json_object((run_dir / LOG_FILE).read_text(encoding="utf-8")) or {}
        if int(peer.get("timesteps", 0)) >= run.timesteps:
            write_json_atomic(run_dir / PEER_RESULT, {"wall_s": wall_seconds(run_dir), "peer": peer})

    def held_steps(self, run: RunT) -> int | None:
        """The step count of the run whose checkpoint (ours) or PEER_STATE (a peer's) is in run's folder, or None."""
        folder = run.folder(self.out)
        state = checkpoint_state(folder) if run.config.side == "ours" else peer_state(folder)
        return state.get("total_timesteps") if state else None

    def holds(self, run: RunT) -> bool:
        """Whether run's folder is this run's: it holds no checkpoint of a run of another step count."""
        held = self.held_steps(run)
        return held is None or held == run.timesteps

    def restart_peer(self, run_dir: Path) -> None:
        """Clear an interrupted peer run that left nothing to resume from: what it wrote, its wall time and pieces;
        its log is kept and told."""
        written = [path for pattern in self.peer_outputs for path in run_dir.glob(pattern)]
        if written:
            with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
                log.write(f"[{self.tag}] the previous peer run left nothing to resume from; starting again from "
                          "scratch\n")
        for path in [*written, *(run_dir / name for name in PIECE_RECORDS)]:
            path.unlink(missing_ok=True)

    def finish(self, run: RunT) -> None:
        """Write the finished run's summary, with its command (paths relative to the repository), where git keeps
        it."""
        run_dir = run.folder(self.out)
        command = self.command(run, run_dir, "PEER_VENV/bin/python", False)
        relative = [part.replace(f"{REPO_DIR}/", "") for part in command]
        keep_summary(run.summary_file(self.results), {**self.run_status(run, run_dir), "command": relative})
        run.progress_file(self.results).unlink(missing_ok=True)

    def rates(self, plan: Sequence[RunT]) -> dict[str, float]:
        """Steps/s of each config so far, over its finished summaries and run folders: over the pieces on this CPU
        model where those recorded their steps (machine types differ up to 4x), else over all pieces."""
        here_model = cpu_model()
        anywhere: dict[str, list[float]] = {}
        here: dict[str, list[float]] = {}
        for run in plan:
            if run.summary_file(self.results).exists():
                status = json.loads(run.summary_file(self.results).read_text(encoding="utf-8"))
                steps = float(status["timesteps"])
            elif (run.folder(self.out) / WALL_FILE).exists():
                status = self.run_status(run, run.folder(self.out))
                steps = float(status["steps_done"])
            else:
                continue
            on_this = (status.get("machines") or {}).get(here_model) or {}
            for totals, (part_steps, part_wall) in ((anywhere, (steps, float(status.get("wall_s") or 0.0))),
                                                     (here, (float(on_this.get("steps", 0)),
                                                             float(on_this.get("wall_s", 0.0))))):
                if part_wall > 0 and part_steps > 0:
                    sums = totals.setdefault(run.config.name, [0.0, 0.0])
                    sums[0] += part_steps
                    sums[1] += part_wall
        return {name: steps / wall for name, (steps, wall) in {**anywhere, **here}.items()}

    def remaining_work(self, plan: Sequence[RunT]) -> str:
        """How long the unfinished runs will take at the steps/s measured so far (per config; a run goes on from its
        checkpoint or PEER_STATE, a peer run without one starts again)."""
        measured = self.rates(plan)
        lines, total_s, unknown = [], 0.0, 0
        for run in plan:
            if run.summary_file(self.results).exists():
                continue
            run_dir = run.folder(self.out)
            left = run.timesteps - ((resume_step(run_dir) or 0) if run_dir.exists() and self.holds(run) else 0)
            rate = measured.get(run.config.name)
            if rate is None:
                unknown += 1
                lines.append(f"  {run.label()}: {left:,} steps left, no speed measured yet")
                continue
            total_s += left / rate
            lines.append(f"  {run.label()}: {left:,} steps left at {rate:.0f} steps/s = {fmt_duration(left / rate)}")
        head = f"[{self.tag}] remaining work: about {total_s / 3600:.1f} h" + (
            f" plus {unknown} run(s) of unmeasured speed" if unknown else "")
        return "\n".join([head, *lines])

    def summaries(self, plan: Sequence[RunT]) -> list[dict[str, Any]]:
        """Every run's finished summary, or its unfinished folder's status so far where that shows something (not
        a folder whose checkpoint is of another step count: rows of one config and env with other steps share it,
        and only one of them can be unfinished at a time)."""
        found = []
        for run in plan:
            if run.summary_file(self.results).exists():
                found.append(json.loads(run.summary_file(self.results).read_text(encoding="utf-8")))
            elif (status := self.progress(run)) is not None:
                found.append(status)
        return found

    def progress(self, run: RunT) -> dict[str, Any] | None:
        """An unfinished run's furthest status: its folder's, recorded in `results` (committed, beside the summaries)
        when it goes further than the record, or else the record, marked `recorded` (the folder is not committed,
        and a machine may lose it; a run started again from scratch replaces the record once it gets further); None
        if neither shows anything. A folder whose run has finished is left to `finish`."""
        record_file = run.progress_file(self.results)
        record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else None
        folder = run.folder(self.out)
        status = self.run_status(run, folder) if folder.is_dir() and self.holds(run) else None
        if status is not None and self.shows(status) and (
                record is None or status["steps_done"] >= record["steps_done"]):
            if not status["finished"]:
                if record is not None and status["steps_done"] == record["steps_done"]:
                    return {**status, "code": record.get("code")}  # no further: the commit that got it there stays
                status = {**status, "code": git_commit()}
                record_file.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(record_file, status)
            return status
        return {**record, "recorded": True} if record is not None else None


@contextlib.contextmanager
def harness_lock(out: Path, tag: str) -> Iterator[None]:
    """One harness per output folder (`out`/harness.lock holds its pid): a second start exits instead of training a
    second run beside the first."""
    path = out / "harness.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise SystemExit(f"another {tag}.py (pid {handle.read().strip() or '?'}) is running on {out}; "
                             "let it finish or stop it with SIGTERM") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def training_pids(run_dir: Path) -> list[int]:
    """Processes (other than this one) that train into `run_dir`: their --log_path (or the peer's --monitor_dir),
    resolved from their working directory, is the folder (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            arguments = [part.decode(errors="replace") for part in (entry / "cmdline").read_bytes().split(b"\0")]
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        folders = [part.split("=", 1)[1] for part in arguments if part.startswith("--log_path=")]
        folders += [following for part, following in zip(arguments, arguments[1:]) if part == "--monitor_dir"]
        if any((cwd / folder).resolve() == run_dir.resolve() for folder in folders):
            found.append(int(entry.name))
    return found


def unfinished_note(cell: Sequence[dict[str, Any]]) -> str:
    """' (unfinished: seed S at <steps>)' for each unfinished row of a table cell; a row from its record says its
    run folder is not on this machine."""
    return "".join(
        f" (unfinished: seed {row['seed']} at {fmt_steps(row['steps_done'])}"
        + ("; recorded, its run folder is not here" if row.get("recorded") else "") + ")"
        for row in cell if not row.get("finished", True))


def machine_note(cell: Sequence[dict[str, Any]]) -> str:
    """' (on <CPU models>)': the machine types the cell's runs ran on, where their pieces recorded it; else ''."""
    models = sorted({short_cpu(model) for row in cell for model in (row.get("machines") or {})})
    return f" (on {', '.join(models)})" if models else ""


def short_cpu(model: str) -> str:
    """A CPU model name without its trademarks, 'CPU' and clock, its vector unit kept: 'Intel Xeon Platinum 8481C
    [AMX]', 'AMD EPYC [AVX-512]'."""
    for mark in ("(R)", "(TM)", "(tm)"):
        model = model.replace(mark, "")
    name, _, unit = model.partition(" [")
    name = name.split("@")[0].replace(" CPU", " ")
    return " ".join(name.split()) + (f" [{unit}" if unit else "")


def fmt_steps(steps: float) -> str:
    """10000 -> '10k', 300000 -> '300k', 1500000 -> '1.5M', 121509 -> '122k' (three significant digits)."""
    return f"{steps / 1e6:.3g}M" if steps >= 1e6 else f"{steps / 1e3:.3g}k"


def fmt_duration(seconds: float) -> str:
    """'1.5 h' from an hour up, '12 min' below."""
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
