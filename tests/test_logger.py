"""baselines_tf2.logger: the baselines logger API, each output format read back, levels, env vars, MPI naming."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from baselines_tf2 import logger

LOGGER_ENV_VARS = (
    "OPENAI_LOGDIR",
    "OPENAI_LOG_FORMAT",
    "OPENAI_LOG_FORMAT_MPI",
    *logger.MPI_RANK_ENV_VARS,
)


@pytest.fixture(autouse=True)
def clean_logger(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test starts from the default logger with no logger env vars, and leaves it that way."""
    for name in LOGGER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    logger.reset()
    yield
    logger.reset()
    logger.set_level(logger.INFO)


class ItemOnly:
    """A tensor-like value that only offers `.item()`, like a torch scalar."""

    def item(self) -> float:
        return 0.125


def table_rows(text: str) -> dict[str, str]:
    """Parse the `| key | value |` rows of baselines' table into a dict of stripped strings."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| "):
            key, val = (cell.strip() for cell in line.strip("|").split("|"))
            rows[key] = val
    return rows


def run_fresh_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` in a new interpreter so nothing imported by other tests leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in LOGGER_ENV_VARS}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_stdout_prints_aligned_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logger.configure(str(tmp_path), ["stdout"])
    logger.logkv("loss", 0.5)
    logger.logkv("eprewmean", np.float32(21.0))
    logger.logkv("a_very_long_key_name_that_goes_past_thirty_chars", 3)
    logger.dumpkvs()
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith(("|", "-"))]
    assert table[0] == table[-1] and set(table[0]) == {"-"}
    assert len({len(line) for line in table}) == 1, "every row of the table has the same width"
    assert table_rows(out) == {"loss": "0.5", "eprewmean": "21", "a_very_long_key_name_that_g...": "3"}
    assert [row.split("|")[1].strip() for row in table[1:-1]] == ["a_very_long_key_name_that_g...", "eprewmean", "loss"]


def test_log_format_writes_table_and_text_lines(tmp_path: Path) -> None:
    logger.configure(str(tmp_path), ["log"])
    logger.log("hello", 42)
    logger.logkv("fps", 1234)
    logger.dumpkvs()
    logger.reset()
    text = (tmp_path / "log.txt").read_text()
    assert "hello 42\n" in text
    assert table_rows(text) == {"fps": "1.23e+03"}


def test_csv_extends_header_when_key_appears_later(tmp_path: Path) -> None:
    logger.configure(str(tmp_path), ["csv"])
    logger.logkv("a", 1)
    logger.dumpkvs()
    logger.logkv("a", 2)
    logger.logkv("b", 3.5)
    logger.dumpkvs()
    logger.logkv("b", 4.5)
    logger.dumpkvs()
    logger.reset()
    path = tmp_path / "progress.csv"
    assert path.read_text().splitlines() == ["a,b", "1,", "2,3.5", ",4.5"]
    frame = logger.read_csv(str(path))
    assert list(frame.columns) == ["a", "b"]
    np.testing.assert_array_equal(frame["a"].to_numpy(), [1, 2, np.nan])
    np.testing.assert_array_equal(frame["b"].to_numpy(), [np.nan, 3.5, 4.5])
    assert [p.name for p in tmp_path.iterdir()] == ["progress.csv"], "no temporary file left behind"


def test_csv_configured_by_a_relative_dir_extends_its_header_after_a_change_of_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key first seen after the process changed directory rewrites the run's own file, not one named from the new
    directory (which raised FileNotFoundError mid-training)."""
    monkeypatch.chdir(tmp_path)
    logger.configure("run", ["csv"])
    logger.logkv("a", 1)
    logger.dumpkvs()
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")
    logger.logkv("b", 2)
    logger.dumpkvs()
    logger.reset()
    assert (tmp_path / "run" / "progress.csv").read_text().splitlines() == ["a,b", "1,", ",2"]
    assert not list((tmp_path / "elsewhere").iterdir())


def test_csv_continues_an_existing_progress_file(tmp_path: Path) -> None:
    """A resumed run logging to the same folder appends; the first run's rows stay."""
    for first, second in ((1, 2), (3, 4)):
        logger.configure(str(tmp_path), ["csv"])
        logger.logkv("a", first)
        logger.dumpkvs()
        logger.logkv("a", second)
        logger.logkv("b", 0.5)
        logger.dumpkvs()
        logger.reset()
    assert (tmp_path / "progress.csv").read_text().splitlines() == ["a,b", "1,", "2,0.5", "3,", "4,0.5"]


def test_json_writes_one_plain_object_per_line(tmp_path: Path) -> None:
    logger.configure(str(tmp_path), ["json"])
    logger.logkvs({"step": np.int64(1), "loss": np.float32(0.25), "item": ItemOnly(), "name": "run"})
    dumped = logger.dumpkvs()
    logger.logkv("step", 2)
    logger.dumpkvs()
    logger.reset()
    lines = (tmp_path / "progress.json").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"step": 1, "loss": 0.25, "item": 0.125, "name": "run"},
        {"step": 2},
    ]
    assert type(dumped["step"]) is int and type(dumped["loss"]) is float
    assert logger.read_json(str(tmp_path / "progress.json"))["step"].tolist() == [1, 2]


def test_logkv_mean_averages_and_dump_clears(tmp_path: Path) -> None:
    logger.configure(str(tmp_path), ["csv"])
    for val in (1.0, 2.0, 6.0):
        logger.logkv_mean("eplen", val)
    logger.logkv("overwritten", 1)
    logger.record_tabular("overwritten", 7)
    assert logger.getkvs() == {"eplen": 3.0, "overwritten": 7}
    assert logger.dump_tabular() == {"eplen": 3.0, "overwritten": 7}
    assert logger.getkvs() == {}
    logger.logkv_mean("eplen", 10.0)
    assert logger.dumpkvs() == {"eplen": 10.0}, "the mean restarts after a dump"
    with pytest.raises(TypeError, match="needs a number"):
        logger.logkv_mean("eplen", "ten")


def test_levels_filter_log_lines(tmp_path: Path) -> None:
    logger.configure(str(tmp_path), ["log"])
    logger.set_level(logger.WARN)
    assert logger.get_level() == logger.WARN
    logger.debug("debug-line")
    logger.info("info-line")
    logger.warn("warn-line")
    logger.error("error-line")
    logger.log("explicit-error", level=logger.ERROR)
    logger.set_level(logger.DISABLED)
    logger.error("disabled-line")
    logger.logkv("silenced", 1)
    logger.dumpkvs()
    logger.reset()
    text = (tmp_path / "log.txt").read_text()
    assert "warn-line" in text and "error-line" in text and "explicit-error" in text
    for hidden in ("debug-line", "info-line", "disabled-line", "silenced"):
        assert hidden not in text


def test_scoped_configure_restores_previous_logger(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    logger.configure(str(outer), ["csv"])
    previous = logger.get_current()
    logger.logkv("x", 1)
    logger.dumpkvs()
    with logger.scoped_configure(str(inner), ["json"]):
        assert logger.get_dir() == str(inner)
        logger.logkv("y", 2)
        logger.dumpkvs()
    assert logger.get_current() is previous and logger.get_dir() == str(outer)
    logger.logkv("x", 3)
    logger.dumpkvs()
    logger.reset()
    assert (outer / "progress.csv").read_text().splitlines() == ["x", "1", "3"]
    assert json.loads((inner / "progress.json").read_text()) == {"y": 2}


def test_reconfigure_closes_files_and_reset_returns_to_default(tmp_path: Path) -> None:
    logger.configure(str(tmp_path / "first"), ["csv", "json", "log"])
    first = logger.get_current()
    logger.configure(str(tmp_path / "second"), ["csv"])
    open_files = [fmt.file for fmt in first.output_formats if hasattr(fmt, "file")]
    open_files += [fmt.stream for fmt in first.output_formats if hasattr(fmt, "stream")]
    assert len(open_files) == 3 and all(f.closed for f in open_files)
    logger.reset()
    assert logger.get_current() is logger.Logger.DEFAULT and logger.get_dir() is None


def test_default_logger_prints_before_configure(capsys: pytest.CaptureFixture[str]) -> None:
    logger.logkv("before_configure", 5)
    logger.dumpkvs()
    assert table_rows(capsys.readouterr().out) == {"before_configure": "5"}


def test_env_vars_choose_dir_and_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_LOGDIR", str(tmp_path / "from_env"))
    monkeypatch.setenv("OPENAI_LOG_FORMAT", "json,csv")
    logger.configure()
    assert logger.get_dir() == str(tmp_path / "from_env")
    logger.logkv("k", 1)
    logger.dumpkvs()
    logger.reset()
    assert sorted(p.name for p in (tmp_path / "from_env").iterdir()) == ["progress.csv", "progress.json"]


def test_default_dir_is_timestamped_folder_in_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    logger.configure(format_strs=["csv"])
    log_dir = Path(logger.get_dir() or "")
    assert log_dir.parent == tmp_path and log_dir.is_dir()
    assert log_dir.name.startswith("openai-") and len(log_dir.name) == len("openai-YYYY-MM-DD-HH-MM-SS-ffffff")


def test_mpi_rank_from_env_gets_suffix_and_mpi_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMI_RANK", "2")
    logger.configure(str(tmp_path / "default_mpi"))
    logger.configure(str(tmp_path / "suffixed"), log_suffix="-a")
    logger.reset()
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OPENAI_LOG_FORMAT_MPI", "csv")
    logger.configure(str(tmp_path / "ompi"))
    logger.reset()
    assert [p.name for p in (tmp_path / "default_mpi").iterdir()] == ["log-rank002.txt"]
    assert [p.name for p in (tmp_path / "suffixed").iterdir()] == ["log-a-rank002.txt"]
    assert [p.name for p in (tmp_path / "ompi").iterdir()] == ["progress-rank003.csv"]


class ThreadComm:
    """The slice of an mpi4py communicator the logger uses (allgather), with ranks as threads."""

    def __init__(self, rank: int, slots: list[Any], barrier: threading.Barrier) -> None:
        self.rank, self.slots, self.barrier = rank, slots, barrier

    def allgather(self, obj: Any) -> list[Any]:
        self.slots[self.rank] = obj
        self.barrier.wait(timeout=10)
        gathered = list(self.slots)
        self.barrier.wait(timeout=10)
        return gathered


def test_comm_averages_logkv_mean_across_ranks_weighted_by_count() -> None:
    slots: list[Any] = [None, None]
    barrier = threading.Barrier(2)
    per_rank_values = {0: [1.0, 3.0], 1: [5.0]}
    dumped: dict[int, dict[str, Any]] = {}

    def run_rank(rank: int) -> None:
        rank_logger = logger.Logger(dir=None, output_formats=[], comm=ThreadComm(rank, slots, barrier))
        for val in per_rank_values[rank]:
            rank_logger.logkv_mean("eprew", val)
        rank_logger.logkv("rank_name", f"rank{rank}")
        dumped[rank] = rank_logger.dumpkvs()

    threads = [threading.Thread(target=run_rank, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # (1 + 3 + 5) / 3 samples = 3.0, not the mean of the per-rank means (2 + 5) / 2 = 3.5
    assert dumped[0]["eprew"] == pytest.approx(3.0) and dumped[1]["eprew"] == pytest.approx(3.0)


def test_unknown_format_raises_listing_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="valid formats are stdout, log, csv, json, tensorboard"):
        logger.configure(str(tmp_path), ["stdout", "xml"])
    with pytest.raises(ValueError, match="'xml'"):
        logger.make_output_format("xml", str(tmp_path))
    with pytest.raises(TypeError, match="must be a list"):
        logger.configure(str(tmp_path), "stdout,csv")  # type: ignore[arg-type]
    assert logger.get_current() is logger.Logger.DEFAULT, "a failed configure keeps the previous logger"


def test_configure_with_stdout_and_csv_does_not_import_tensorflow(tmp_path: Path) -> None:
    result = run_fresh_python(
        f"""
        import sys
        from baselines_tf2 import logger
        logger.configure({str(tmp_path)!r}, format_strs=["stdout", "csv"])
        logger.logkv("x", 1)
        logger.dumpkvs()
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tensorboard"))
        print("HEAVY", heavy)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert (tmp_path / "progress.csv").read_text().splitlines() == ["x", "1"]


def test_tensorboard_writes_scalars_that_read_back(tmp_path: Path) -> None:
    result = run_fresh_python(
        f"""
        import glob, json
        from baselines_tf2 import logger
        logger.configure({str(tmp_path)!r}, format_strs=["tensorboard"])
        for loss in (0.25, 0.5):
            logger.logkv("loss/policy", loss)
            logger.logkv("note", "not a number")
            logger.dumpkvs()
        logger.reset()
        import tensorflow as tf
        scalars = []
        for path in glob.glob({str(tmp_path / "tb" / "*tfevents*")!r}):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    plugin = value.metadata.plugin_data.plugin_name
                    scalars.append([value.tag, event.step, float(tf.make_ndarray(value.tensor)), plugin])
        print("SCALARS", json.dumps(scalars))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("SCALARS "))
    assert json.loads(line.removeprefix("SCALARS ")) == [
        ["loss/policy", 0, 0.25, "scalars"],
        ["loss/policy", 1, 0.5, "scalars"],
    ]
