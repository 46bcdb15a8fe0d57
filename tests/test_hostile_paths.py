"""Hostile paths and surroundings: unwritable --log_path/--save_path and checkpoint-less --load_path folders are usage
errors before training; a full disk at a checkpoint keeps the previous one; a stopped run also saves --save_path;
progress written to a file is plain lines, never carriage returns.

The command-line runs start together (each pays TensorFlow's start-up), every one in its own session, killed whole
if its test fails.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cli_helpers import MAX_PARALLEL, RUN, Finished

from baselines_tf2.training.checkpoint import load_checkpoint, read_metadata
from baselines_tf2.training.progress import INTERVAL_VARIABLE, TrainingProgress, progress_interval

RUN_TIMEOUT_S = 180  # start-up plus training, several runs at once on 2 busy cores
ERROR_PREFIX = "python -m baselines_tf2.run: error:"
NBATCH = 2 * 64  # --num_env=2 --nsteps=64
PROGRESS_LINE = re.compile(r"^training: (\d+)/(\d+) steps")
IS_ROOT = os.geteuid() == 0
UNCREATABLE = "/proc/baselines_tf2-no-such-folder"  # procfs refuses new entries, even to root

# Once the run's first checkpoint is complete, the disk is full for everything written atomically but the logs:
# writes start, fill part of their temporary file, then fail with ENOSPC, as on a real full disk.
FULL_DISK_SCRIPT = """
import errno
import os
import runpy

from baselines_tf2.common import atomic_io

if __name__ == "__main__":
    first_checkpoint_done = os.path.join(os.environ["FULL_DISK_RUN_DIR"], "checkpoints", "latest")
    real_atomic_write = atomic_io.atomic_write

    def fill_then_fail(file):
        file.write(bytes(4096))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def atomic_write(path, write):
        full = os.path.exists(first_checkpoint_done) and not os.fspath(path).endswith(".csv")
        return real_atomic_write(path, fill_then_fail if full else write)

    atomic_io.atomic_write = atomic_write  # before baselines_tf2.run imports the checkpoint modules
    runpy.run_module("baselines_tf2.run", run_name="__main__")
"""


class BackgroundRun:
    """A command in its own session with output to files in `folder`; the session is killed on exit if still up."""

    def __init__(self, command: list[str], folder: Path, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, cwd=folder, env=full_env, stdout=stdout, stderr=stderr,
                                            start_new_session=True)
        self.pid = self.process.pid
        self.started = time.monotonic()

    def __enter__(self) -> BackgroundRun:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()

    def wait_for_stderr(self, pattern: str) -> None:
        """Poll until a stderr line matches `pattern`; fail if the run exits first or takes too long."""
        while not re.search(pattern, self.stderr_path.read_text(errors="replace"), re.MULTILINE):
            if self.process.poll() is not None:
                pytest.fail(f"the run exited ({self.process.returncode}) before printing {pattern!r}:\n"
                            f"{self.stderr_path.read_text()[-3000:]}")
            if time.monotonic() - self.started > RUN_TIMEOUT_S:
                pytest.fail(f"no {pattern!r} {RUN_TIMEOUT_S} s after the run started")
            time.sleep(0.02)

    def finish(self) -> Finished:
        """Wait for the exit; its status and output (the session is killed, failing the test, on a timeout)."""
        try:
            self.process.wait(max(1.0, RUN_TIMEOUT_S - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"the run did not exit in {RUN_TIMEOUT_S} s:\n{self.stderr_path.read_text()[-3000:]}")
        return Finished(self.process.returncode, self.stdout_path.read_text(errors="replace"),
                        self.stderr_path.read_text(errors="replace"))


def ppo2_args(log_dir: Path, num_timesteps: int, *extra: str) -> list[str]:
    return ["--alg=ppo2", "--env=CartPole-v1", "--num_env=2", "--nsteps=64", f"--num_timesteps={num_timesteps}",
            "--seed=0", f"--log_path={log_dir}", *extra]


def one_error_line(result: Finished) -> str:
    """The CLI's error line; fails unless there is exactly one, it is the last line, and there is no traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr[-3000:]
    return errors[0]


def progress_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if PROGRESS_LINE.match(line)]


# ---------------------------------------------------------------------------------------------------------------
# the command-line scenarios, started together

# name -> (extra CLI arguments, pattern the error line must match). {tmp} is the case's folder, {file} a regular
# file in it, {empty} an empty folder, {run} a run folder with logs but no checkpoint, {read_only} a folder
# without write permission. Each would train 2 updates if its check were missing: that shows as exit 0.
USAGE_ERRORS = {
    "log_path_under_proc": ([f"--log_path={UNCREATABLE}/logs"],
                            r"--log_path=.* cannot hold the run's logs: the directory '/proc' is not writable"),
    "log_path_under_a_file": (["--log_path={file}/logs"], r"--log_path=.* cannot hold .*'{file}' is a file"),
    "log_path_is_a_file": (["--log_path={file}"], r"--log_path=.* cannot hold .*'{file}' is a file"),
    "save_path_under_proc": ([f"--save_path={UNCREATABLE}/model"],
                             r"--save_path=.* cannot hold the model: the directory '/proc' is not writable"),
    "save_path_under_a_file": (["--save_path={file}/deeper/model"],
                               r"--save_path=.* cannot hold the model: '{file}' is a file"),
    "save_path_is_a_folder": (["--save_path={empty}"], r"--save_path=.* is a directory; give a file name"),
    "save_path_in_a_read_only_folder": (["--save_path={read_only}/model"],
                                        r"--save_path=.* the directory '{read_only}' is not writable"),
    "load_path_is_an_empty_folder": (["--load_path={empty}"], r"--load_path: '{empty}' is a folder without"),
    "load_path_is_a_run_folder_without_checkpoints": (["--load_path={run}"],
                                                      r"--load_path: '{run}' is a folder without"),
    "progress_interval_not_a_number": ([], rf"{INTERVAL_VARIABLE} must be a number of seconds >= 0, got 'soon'"),
}
ROOT_SKIP = "root writes into folders whatever their permission bits; the /proc and file cases cover refusals"


def usage_error(name: str) -> Callable[[Path], Finished]:
    def scenario(folder: Path) -> Finished:
        folder.mkdir(parents=True)
        names = {"tmp": folder, "file": folder / "a_file", "empty": folder / "empty", "run": folder / "old_run",
                 "read_only": folder / "read_only"}
        names["file"].write_text("not a folder")
        names["empty"].mkdir()
        (names["run"] / "checkpoints").mkdir(parents=True)
        (names["run"] / "progress.csv").write_text("eprewmean\n1.0\n")
        names["read_only"].mkdir(mode=0o555)
        args = [arg.format(**names) for arg in USAGE_ERRORS[name][0]]
        env = {INTERVAL_VARIABLE: "soon"} if name == "progress_interval_not_a_number" else {}
        with BackgroundRun(RUN + ppo2_args(folder / "logs", 2 * NBATCH) + args, folder / "cwd", env) as run:
            result = run.finish()
        names["read_only"].chmod(0o755)
        return result

    return scenario


def missing_save_folder(folder: Path) -> Finished:
    """A --save_path whose folders do not exist yet; progress goes to a file (the default interval)."""
    args = ppo2_args(folder / "logs", 16 * NBATCH, f"--save_path={folder / 'new' / 'deeper' / 'model'}")
    with BackgroundRun(RUN + args, folder) as run:
        return run.finish()


def stopped(signum: int, whole_group: bool) -> Callable[[Path], Finished]:
    """A run with --save_path sent `signum` after its first progress line (one per update here)."""
    def scenario(folder: Path) -> Finished:
        args = ppo2_args(folder / "logs", 400 * NBATCH, f"--save_path={folder / 'saved' / 'model'}")
        with BackgroundRun(RUN + args, folder, {INTERVAL_VARIABLE: "0"}) as run:
            run.wait_for_stderr(PROGRESS_LINE.pattern)
            if whole_group:
                os.killpg(run.pid, signum)  # Ctrl-C in a terminal signals the whole process group
            else:
                os.kill(run.pid, signum)  # kill PID, docker stop
            return run.finish()

    return scenario


def full_disk(folder: Path) -> Finished:
    """4 updates with a checkpoint after each, on a disk that is full once the first checkpoint is complete."""
    folder.mkdir(parents=True)
    script = folder / "full_disk_run.py"
    script.write_text(FULL_DISK_SCRIPT)
    args = ppo2_args(folder / "logs", 4 * NBATCH, "--save_interval=1", f"--save_path={folder / 'model'}")
    with BackgroundRun([sys.executable, str(script), *args], folder,
                       {"FULL_DISK_RUN_DIR": str(folder / "logs")}) as run:
        return run.finish()


SCENARIOS: dict[str, Callable[[Path], Finished]] = {  # longest first
    "sigterm": stopped(signal.SIGTERM, whole_group=False),
    "ctrl_c": stopped(signal.SIGINT, whole_group=True),
    "full_disk": full_disk,
    "missing_save_folder": missing_save_folder,
    **{name: usage_error(name) for name in USAGE_ERRORS
       if not (IS_ROOT and name == "save_path_in_a_read_only_folder")},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Future[Finished]]]]:
    root = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        yield root, {name: pool.submit(scenario, root / name) for name, scenario in SCENARIOS.items()}


# ---------------------------------------------------------------------------------------------------------------
# 1. paths: usage errors before training; missing --save_path folders are made


@pytest.mark.parametrize("case", [
    pytest.param(name, marks=pytest.mark.skipif(IS_ROOT, reason=ROOT_SKIP))
    if name == "save_path_in_a_read_only_folder" else name
    for name in USAGE_ERRORS
])
def test_unusable_path_is_a_usage_error_before_training(runs: tuple[Path, dict[str, Future[Finished]]],
                                                        case: str) -> None:
    root, futures = runs
    result = futures[case].result()
    assert result.returncode == 2, result.stderr[-3000:]
    folder = root / case
    names = {"file": folder / "a_file", "empty": folder / "empty", "run": folder / "old_run",
             "read_only": folder / "read_only"}
    pattern = USAGE_ERRORS[case][1].format(**{key: re.escape(str(path)) for key, path in names.items()})
    assert re.search(pattern, one_error_line(result)), (pattern, one_error_line(result))
    assert "training ppo2" not in result.stdout
    assert not (folder / "logs" / "checkpoints").exists() and not (folder / "logs" / "progress.csv").exists()
    assert not any(name.startswith(".write-probe") for name in os.listdir(folder)), "the write probe was left"


def test_missing_save_path_folders_are_created(runs: tuple[Path, dict[str, Future[Finished]]]) -> None:
    root, futures = runs
    result = futures["missing_save_folder"].result()
    assert result.returncode == 0, result.stderr[-3000:]
    model = root / "missing_save_folder" / "new" / "deeper" / "model"
    assert read_metadata(model)["timesteps"] == 16 * NBATCH
    assert f"saved the final model to {model}" in result.stdout


# ---------------------------------------------------------------------------------------------------------------
# 1b. a full disk at a checkpoint: the previous checkpoint stays, the run says so, trains on, and exits 1 when
# even the final model cannot be written


def test_full_disk_keeps_the_previous_checkpoint_and_says_so(runs: tuple[Path, dict[str, Future[Finished]]]) -> None:
    root, futures = runs
    result = futures["full_disk"].result()
    checkpoints = root / "full_disk" / "logs" / "checkpoints"
    first = checkpoints / "00001"
    warnings = [line for line in result.stdout.splitlines() if "could not be written" in line]
    assert len(warnings) == 3, result.stdout[-3000:]  # checkpoints 2, 3 and 4
    for update, line in zip((2, 3, 4), warnings):
        assert f"checkpoint {update} could not be written" in line and "No space left on device" in line
        assert f"the previous checkpoint {first} is intact" in line
        assert "training goes on" in line
    assert progress_lines(result.stderr)[-1].startswith(f"training: {4 * NBATCH}/{4 * NBATCH} steps")
    assert result.returncode == 1, result.stderr[-3000:]
    error = one_error_line(result)
    assert f"could not write the final model to {root / 'full_disk' / 'model'}" in error
    assert "No space left on device" in error and f"the newest checkpoint is {first}" in error
    assert sorted(os.listdir(checkpoints)) == ["00001", "latest"], "a partial file was left"
    assert (checkpoints / "latest").read_text().strip() == "00001"
    metadata, groups = load_checkpoint(first)  # every array's checksum verified
    assert metadata["training"]["update"] == 1 and groups["policy"]
    assert not (root / "full_disk" / "model").exists()


# ---------------------------------------------------------------------------------------------------------------
# 2. a stopped run writes its checkpoint and, with --save_path, the model there too


@pytest.mark.parametrize("case, status", [("sigterm", 128 + signal.SIGTERM), ("ctrl_c", 128 + signal.SIGINT)])
def test_a_stopped_run_saves_the_model_at_save_path(runs: tuple[Path, dict[str, Future[Finished]]], case: str,
                                                    status: int) -> None:
    root, futures = runs
    result = futures[case].result()
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    model = root / case / "saved" / "model"
    assert f"saved the model at the stop to {model}" in result.stdout
    stop_checkpoint = read_metadata(root / case / "logs")  # the run folder resolves to its newest checkpoint
    saved = read_metadata(model)
    assert saved["alg"] == "ppo2" and saved["timesteps"] == stop_checkpoint["timesteps"]
    assert NBATCH <= saved["timesteps"] < 400 * NBATCH


# ---------------------------------------------------------------------------------------------------------------
# 3. progress in a file: plain lines, at most one per interval, and always a last one


def test_progress_to_a_file_is_plain_lines_at_most_one_per_interval(
    runs: tuple[Path, dict[str, Future[Finished]]]
) -> None:
    _, futures = runs
    result = futures["missing_save_folder"].result()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stderr
    lines = progress_lines(result.stderr)
    assert 1 <= len(lines) <= 1 + RUN_TIMEOUT_S // 30  # the run lasted at most RUN_TIMEOUT_S; 16 updates
    assert lines[-1].startswith(f"training: {16 * NBATCH}/{16 * NBATCH} steps (100%)")
    assert re.search(r"\d+ steps/s, mean return \d+\.\d\d", lines[-1])


def test_progress_interval_zero_prints_every_update_and_the_last_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    stream = io.StringIO()
    progress = TrainingProgress(300, enabled=True, stream=stream)
    progress.update(100, [])
    progress.update(100, [1.0, 2.0])
    progress.update(100, [2.0])
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [PROGRESS_LINE.match(line).groups() for line in lines] == [("100", "300"), ("200", "300"), ("300", "300")]
    assert "no episode finished yet" in lines[0] and "mean return 1.50" in lines[1] and "mean return 2.00" in lines[2]
    assert "\r" not in stream.getvalue()


def test_progress_within_the_interval_prints_only_the_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_VARIABLE, raising=False)
    assert progress_interval() == 30.0
    stream = io.StringIO()
    progress = TrainingProgress(1000, enabled=True, stream=stream)
    for _ in range(4):
        progress.update(100, [5.0])
    assert stream.getvalue() == ""
    progress.close()  # stopped early (a signal): the last line says how far it got
    assert stream.getvalue().startswith("training: 400/1000 steps (40%)") and stream.getvalue().count("\n") == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_a_bar() -> None:
    stream = Terminal()
    progress = TrainingProgress(300, enabled=True, stream=stream)
    progress.update(100, [1.0])
    progress.close()
    assert "\r" in stream.getvalue() and "mean return 1.00" in stream.getvalue()


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_progress_interval_must_be_seconds(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(INTERVAL_VARIABLE, value)
    with pytest.raises(ValueError, match=f"{INTERVAL_VARIABLE} must be a number of seconds >= 0, got '{value}'"):
        progress_interval()
