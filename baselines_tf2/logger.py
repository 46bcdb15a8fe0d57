"""The OpenAI baselines logger API (configure, logkv, dumpkvs, log) with stdout/log/csv/json/tensorboard outputs.

Ported code keeps calling `logger.logkv(...)` / `logger.dumpkvs()` unchanged. Importing this module never imports
TensorFlow: only the `tensorboard` output format does, inside its constructor.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import functools
import glob
import io
import json
import os
import sys
import tempfile
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, Protocol, runtime_checkable

from baselines_tf2.common.atomic_io import atomic_write_text

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
DISABLED = 50

VALID_FORMATS = ("stdout", "log", "csv", "json", "tensorboard")
MPI_RANK_ENV_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
MAX_CELL_WIDTH = 30


@runtime_checkable  # scripts written against baselines test isinstance(fmt, KVWriter)
class KVWriter(Protocol):
    """An output format that records one dict of key/value pairs per `dumpkvs`.

    Formats that also show free text (stdout, log) have `writeseq(args)`, which `log(...)` calls.
    """

    def writekvs(self, kvs: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def _plain_value(val: Any) -> Any:
    """Turn numpy scalars and tensor-likes (`.numpy()` / `.item()`) into plain Python numbers; leave others alone."""
    if isinstance(val, (bool, int, float, str)) or val is None:
        return val
    to_numpy = getattr(val, "numpy", None)
    if callable(to_numpy):
        with contextlib.suppress(Exception):
            val = to_numpy()
    to_item = getattr(val, "item", None)
    if callable(to_item):
        with contextlib.suppress(ValueError, TypeError):
            return to_item()
    return val


def _is_number(val: Any) -> bool:
    """True for values that can be averaged and written as a scalar (bools count as 0/1)."""
    return isinstance(val, (int, float))


def _shorten(text: str) -> str:
    """Cut a table cell to MAX_CELL_WIDTH characters, marking the cut with '...'."""
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 3] + "..."


def format_table(kvs: Mapping[str, Any]) -> str:
    """Render key/value pairs as baselines' dashed, aligned two-column table (keys sorted case-insensitively)."""
    if not kvs:
        return ""
    cells = {}
    for key, val in kvs.items():
        shown = f"{val:<8.3g}" if _is_number(val) else str(val)
        cells[_shorten(str(key))] = _shorten(shown)
    key_width = max(len(key) for key in cells)
    val_width = max(len(val) for val in cells.values())
    dashes = "-" * (key_width + val_width + 7)
    ordered = sorted(cells.items(), key=lambda cell: cell[0].lower())
    rows = [f"| {key.ljust(key_width)} | {val.ljust(val_width)} |" for key, val in ordered]
    return "\n".join([dashes, *rows, dashes]) + "\n"


class SeqWriter(ABC):
    """An output format that also shows free text: `log(...)` calls `writeseq(args)` (baselines' base class)."""

    @abstractmethod
    def writeseq(self, seq: tuple[Any, ...]) -> None:
        """Write the arguments of one `log(...)` call."""


class HumanOutputFormat(SeqWriter):
    """Aligned table of each dump plus `log` lines, to a file path, an open stream, or (None) the current stdout."""

    def __init__(self, filename_or_file: str | os.PathLike[str] | IO[str] | None) -> None:
        target = filename_or_file
        self._owns_file = isinstance(target, (str, os.PathLike))
        self._stream: IO[str] | None
        if isinstance(target, (str, os.PathLike)):
            self._stream = open(target, "a", encoding="utf-8")
        else:
            self._stream = target

    @property
    def stream(self) -> IO[str]:
        """The stream written to; None at construction means whatever `sys.stdout` is now (pytest's capsys too)."""
        return self._stream if self._stream is not None else sys.stdout

    def writekvs(self, kvs: Mapping[str, Any]) -> None:
        """Write one dump as a table."""
        self.stream.write(format_table(kvs))
        self.stream.flush()

    def writeseq(self, seq: tuple[Any, ...]) -> None:
        """Write the arguments of one `log(...)` call separated by spaces, like print."""
        self.stream.write(" ".join(str(elem) for elem in seq) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Close the file if this format opened it; never closes stdout."""
        if self._owns_file and self._stream is not None:
            self._stream.close()


class JSONOutputFormat:
    """One JSON object per dump, one per line (`progress.json`)."""

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        self.file = open(filename, "a", encoding="utf-8")

    def writekvs(self, kvs: Mapping[str, Any]) -> None:
        """Append the dump as one line; values JSON cannot hold are written as their str()."""
        self.file.write(json.dumps(dict(kvs), default=str) + "\n")
        self.file.flush()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class CSVOutputFormat:
    """`progress.csv`: one row per dump; keys first seen mid-run extend the header and pad the earlier rows.

    An existing file is continued, never truncated (a resumed run logging to the same folder keeps its history)."""

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        # absolute: a header rewrite reopens the file by name, and the process may have changed directory since
        self.path = os.path.abspath(os.fspath(filename))
        self.keys: list[str] = self._existing_header()
        self.file = open(self.path, "a", encoding="utf-8", newline="")

    def _existing_header(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", newline="") as existing:
                return next(csv.reader(existing), [])
        except FileNotFoundError:
            return []

    def writekvs(self, kvs: Mapping[str, Any]) -> None:
        """Append one row, first rewriting the file with a wider header if `kvs` has new keys."""
        new_keys = sorted(set(kvs) - set(self.keys))
        if new_keys:
            self._extend_header(new_keys)
        csv.writer(self.file).writerow([kvs.get(key) for key in self.keys])
        self.file.flush()

    def _extend_header(self, new_keys: list[str]) -> None:
        """Rewrite the file with the wider header atomically, so no row is ever lost."""
        self.file.close()
        with open(self.path, encoding="utf-8", newline="") as old:
            old_rows = list(csv.reader(old))[1:]
        wider_keys = self.keys + new_keys
        padding = [""] * len(new_keys)
        table = io.StringIO(newline="")
        writer = csv.writer(table)
        writer.writerow(wider_keys)
        writer.writerows(row + padding for row in old_rows)
        try:
            atomic_write_text(self.path, table.getvalue())
            self.keys = wider_keys
        finally:
            self.file = open(self.path, "a", encoding="utf-8", newline="")

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class TensorBoardOutputFormat:
    """Scalar summaries under `<dir>/tb`, one TensorBoard step per dump. Imports TensorFlow here and only here."""

    def __init__(self, dir: str | os.PathLike[str]) -> None:
        import tensorflow as tf  # deliberately lazy: the rest of the logger stays TF-free

        self._tf = tf
        self.path = os.fspath(dir)
        os.makedirs(self.path, exist_ok=True)
        self.writer = tf.summary.create_file_writer(self.path)
        # What tf.summary.scalar records, built from core TF: TF >= 2.21 no longer installs the
        # `tensorboard` package that tf.summary.scalar needs, while tf.summary.write is always there.
        self._scalar_metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        self.step = 0

    def writekvs(self, kvs: Mapping[str, Any]) -> None:
        """Write every numeric value as a scalar at the current step, then advance the step."""
        with self.writer.as_default():
            for key, val in kvs.items():
                if _is_number(val):
                    scalar = self._tf.constant(float(val), dtype=self._tf.float32)
                    self._tf.summary.write(key, scalar, step=self.step, metadata=self._scalar_metadata)
        self.writer.flush()
        self.step += 1

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def make_output_format(format: str, ev_dir: str | os.PathLike[str], log_suffix: str = "") -> KVWriter:
    """Build the output format named `format` writing into `ev_dir` (file names carry `log_suffix`)."""
    os.makedirs(ev_dir, exist_ok=True)
    if format == "stdout":
        return HumanOutputFormat(None)
    if format == "log":
        return HumanOutputFormat(os.path.join(ev_dir, f"log{log_suffix}.txt"))
    if format == "json":
        return JSONOutputFormat(os.path.join(ev_dir, f"progress{log_suffix}.json"))
    if format == "csv":
        return CSVOutputFormat(os.path.join(ev_dir, f"progress{log_suffix}.csv"))
    if format == "tensorboard":
        return TensorBoardOutputFormat(os.path.join(ev_dir, f"tb{log_suffix}"))
    raise ValueError(f"unknown log format {format!r}; valid formats are {', '.join(VALID_FORMATS)}")


class Logger:
    """Accumulates key/values between dumps and writes them to its output formats; `log` lines go to text outputs."""

    DEFAULT: Logger
    CURRENT: Logger

    def __init__(self, dir: str | None, output_formats: list[KVWriter], comm: Any = None) -> None:
        self.name2val: dict[str, Any] = {}
        self.name2cnt: dict[str, int] = {}
        self.level = INFO
        self.dir = dir
        self.output_formats = output_formats
        self.comm = comm

    def logkv(self, key: str, val: Any) -> None:
        """Set `key` for the next dump, replacing any earlier value (and any running mean) for it."""
        self.name2val[key] = _plain_value(val)
        self.name2cnt.pop(key, None)

    def logkv_mean(self, key: str, val: Any) -> None:
        """Fold `val` into the running mean of `key` for the next dump."""
        val = _plain_value(val)
        if not _is_number(val):
            raise TypeError(f"logkv_mean({key!r}, ...) needs a number, got {type(val).__name__}: {val!r}")
        count = self.name2cnt.get(key, 0)
        previous = self.name2val.get(key, 0.0) if count else 0.0
        # baselines' form: the mean of [inf, 1] stays inf (previous + (val - previous) / n would give inf - inf)
        self.name2val[key] = previous * count / (count + 1) + val / (count + 1)
        self.name2cnt[key] = count + 1

    def dumpkvs(self) -> dict[str, Any]:
        """Write the accumulated values to every output, clear them, and return them.

        With a comm, every rank must call this: numeric values are averaged over ranks (weighted by logkv_mean counts).
        """
        if self.comm is None:
            dumped = dict(self.name2val)
        else:
            dumped = _mean_over_ranks(self.comm, self.name2val, self.name2cnt)
        if dumped and self.level < DISABLED:
            for fmt in self.output_formats:
                fmt.writekvs(dumped)
        self.name2val.clear()
        self.name2cnt.clear()
        return dumped

    def log(self, *args: Any, level: int = INFO) -> None:
        """Write a text line to the text outputs if `level` is at or above this logger's level."""
        if self.level <= level:
            for fmt in self.output_formats:
                writeseq = getattr(fmt, "writeseq", None)
                if writeseq is not None:
                    writeseq(args)

    def set_level(self, level: int) -> None:
        """Drop `log` lines below `level` (DEBUG, INFO, WARN, ERROR, or DISABLED to silence everything)."""
        self.level = level

    def set_comm(self, comm: Any) -> None:
        """Use the mpi4py communicator `comm` (or None) to average dumps across ranks."""
        self.comm = comm

    def get_dir(self) -> str | None:
        """The directory this logger writes into, or None for the stdout-only default logger."""
        return self.dir

    def close(self) -> None:
        """Close every output format's files."""
        for fmt in self.output_formats:
            fmt.close()


def _mean_over_ranks(comm: Any, values: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    """Average numeric values across all ranks of `comm`, weighting each by its logkv_mean count (1 for logkv)."""
    local = {key: (val, counts.get(key, 1)) for key, val in values.items()}
    totals: dict[str, list[float]] = {}
    result: dict[str, Any] = {}
    for rank_values in comm.allgather(local):
        for key, (val, count) in rank_values.items():
            if _is_number(val):
                weighted = totals.setdefault(key, [0.0, 0.0])
                weighted[0] += val * count
                weighted[1] += count
            else:
                result.setdefault(key, val)
    result.update({key: weighted_sum / weight for key, (weighted_sum, weight) in totals.items()})
    return result


Logger.DEFAULT = Logger.CURRENT = Logger(dir=None, output_formats=[HumanOutputFormat(None)])


def get_current() -> Logger:
    """The logger the module-level functions write to."""
    return Logger.CURRENT


def logkv(key: str, val: Any) -> None:
    """Log `key = val` for this iteration; a later call with the same key in the same iteration wins."""
    get_current().logkv(key, val)


def logkv_mean(key: str, val: Any) -> None:
    """Log `val` into the mean of `key` for this iteration."""
    get_current().logkv_mean(key, val)


def logkvs(d: Mapping[str, Any]) -> None:
    """Log every key/value pair of `d`."""
    for key, val in d.items():
        logkv(key, val)


def dumpkvs() -> dict[str, Any]:
    """Write this iteration's key/values to all outputs and return them."""
    return get_current().dumpkvs()


def getkvs() -> dict[str, Any]:
    """The key/values logged since the last dump (the live dict, as baselines)."""
    return get_current().name2val


def log(*args: Any, level: int = INFO) -> None:
    """Write a text line (args joined by spaces) to stdout/log outputs if `level` passes the logger's level."""
    get_current().log(*args, level=level)


def debug(*args: Any) -> None:
    """`log` at DEBUG level."""
    log(*args, level=DEBUG)


def info(*args: Any) -> None:
    """`log` at INFO level."""
    log(*args, level=INFO)


def warn(*args: Any) -> None:
    """`log` at WARN level."""
    log(*args, level=WARN)


def error(*args: Any) -> None:
    """`log` at ERROR level."""
    log(*args, level=ERROR)


def set_level(level: int) -> None:
    """Set the minimum level of `log` lines that are written."""
    get_current().set_level(level)


def get_level() -> int:
    """The current logger's minimum level."""
    return get_current().level


def set_comm(comm: Any) -> None:
    """Set the mpi4py communicator used to average dumps across ranks."""
    get_current().set_comm(comm)


def get_dir() -> str | None:
    """The current log directory (None before `configure`)."""
    return get_current().get_dir()


record_tabular = logkv
dump_tabular = dumpkvs


def mpi_rank_from_environment() -> int:
    """This process's MPI rank read from launcher env vars (0 outside MPI); mpi4py is never imported."""
    for name in MPI_RANK_ENV_VARS:
        value = os.environ.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"environment variable {name}={value!r} is not an integer MPI rank") from None
    return 0


get_rank_without_mpi_import = mpi_rank_from_environment  # baselines' name


def mpi_weighted_mean(comm: Any, local_name2valcount: dict[str, tuple[Any, float]]) -> dict[str, float]:
    """On rank 0, each name's mean over every rank's (value, count) pairs weighted by count; {} on other ranks.
    Values that are not numbers are skipped with a warning."""
    gathered = comm.gather(local_name2valcount)
    if comm.Get_rank() != 0:
        return {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for name2valcount in gathered:
        for name, (value, count) in name2valcount.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                warnings.warn(f"mpi_weighted_mean: {name}={value!r} is not a number; left out", stacklevel=2)
                continue
            sums[name] = sums.get(name, 0.0) + number * count
            counts[name] = counts.get(name, 0.0) + count
    return {name: sums[name] / counts[name] for name in sums}


def _default_dir() -> str:
    """A fresh `openai-YYYY-MM-DD-HH-MM-SS-ffffff` folder name under the system temp dir."""
    stamp = datetime.datetime.now().strftime("openai-%Y-%m-%d-%H-%M-%S-%f")
    return os.path.join(tempfile.gettempdir(), stamp)


def configure(
    dir: str | os.PathLike[str] | None = None,
    format_strs: list[str] | None = None,
    comm: Any = None,
    log_suffix: str = "",
) -> None:
    """Replace the current logger with one writing `format_strs` into `dir`.

    None falls back to OPENAI_LOGDIR / OPENAI_LOG_FORMAT (OPENAI_LOG_FORMAT_MPI on ranks > 0), then to a new
    temp folder and `stdout,log,csv` (`log` on ranks > 0, whose files get a `-rank%03i` suffix).
    """
    if dir is None:
        dir = os.environ.get("OPENAI_LOGDIR") or _default_dir()
    log_dir = os.path.expanduser(os.fspath(dir))
    os.makedirs(log_dir, exist_ok=True)
    rank = mpi_rank_from_environment()
    if rank > 0:
        log_suffix = f"{log_suffix}-rank{rank:03d}"
    if format_strs is None:
        if rank == 0:
            format_strs = os.environ.get("OPENAI_LOG_FORMAT", "stdout,log,csv").split(",")
        else:
            format_strs = os.environ.get("OPENAI_LOG_FORMAT_MPI", "log").split(",")
    if isinstance(format_strs, str):
        raise TypeError(f"format_strs must be a list such as ['stdout', 'csv'], got the string {format_strs!r}")
    names = [name.strip() for name in format_strs if name.strip()]
    unknown = [name for name in names if name not in VALID_FORMATS]
    if unknown:
        raise ValueError(f"unknown log format(s) {unknown}; valid formats are {', '.join(VALID_FORMATS)}")
    output_formats = [make_output_format(name, log_dir, log_suffix) for name in names]
    if Logger.CURRENT is not Logger.DEFAULT:
        Logger.CURRENT.close()
    Logger.CURRENT = Logger(dir=log_dir, output_formats=output_formats, comm=comm)
    if output_formats:
        log(f"Logging to {log_dir}")


def reset() -> None:
    """Close the configured logger and go back to the stdout-only default logger."""
    if Logger.CURRENT is not Logger.DEFAULT:
        Logger.CURRENT.close()
        Logger.CURRENT = Logger.DEFAULT
        log("Reset logger")


@contextlib.contextmanager
def scoped_configure(
    dir: str | os.PathLike[str] | None = None, format_strs: list[str] | None = None, comm: Any = None
) -> Iterator[Logger]:
    """Use a freshly configured logger inside the `with` block, then close it and restore the previous one."""
    previous = Logger.CURRENT
    # Detach the previous logger first so configure() does not close it.
    Logger.CURRENT = Logger.DEFAULT
    try:
        configure(dir=dir, format_strs=format_strs, comm=comm)
        yield Logger.CURRENT
    finally:
        if Logger.CURRENT is not Logger.DEFAULT:
            Logger.CURRENT.close()
        Logger.CURRENT = previous


def read_json(fname: str | os.PathLike[str]) -> Any:
    """Load a `progress.json` (one object per line) as a pandas DataFrame."""
    import pandas  # lazy: pandas is only needed for reading results back

    with open(fname, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return pandas.DataFrame(rows)


def read_csv(fname: str | os.PathLike[str]) -> Any:
    """Load a `progress.csv` as a pandas DataFrame (empty cells become NaN)."""
    import pandas  # lazy: pandas is only needed for reading results back

    return pandas.read_csv(fname, index_col=None, comment="#")


@contextlib.contextmanager
def profile_kv(scopename: str) -> Iterator[None]:
    """Add the seconds spent in the `with` block to the key 'wait_<scopename>' of the next dump."""
    key = "wait_" + scopename
    start = time.perf_counter()
    try:
        yield
    finally:
        current = get_current()
        current.name2val[key] = current.name2val.get(key, 0.0) + time.perf_counter() - start


def profile(n: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: time every call of the function with `profile_kv(n)`."""
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with profile_kv(n):
                return func(*args, **kwargs)

        return timed

    return decorator


def read_tb(path: str | os.PathLike[str]) -> Any:
    """Load TensorBoard scalars as a pandas DataFrame: one column per tag, row i for step i + 1 (NaN where missing).

    `path` is an event file (`events.*`) or a folder holding them. Step 0 is skipped, as baselines did; the
    tensorboard output of this logger starts at step 0, so its first dump is not read back. Imports TensorFlow.
    """
    import numpy as np
    import pandas
    import tensorflow as tf  # deliberately lazy, as in TensorBoardOutputFormat

    path = os.fspath(path)
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "events.*")))
    elif os.path.basename(path).startswith("events."):
        files = [path]
    else:
        raise ValueError(f"read_tb needs a TensorBoard event file (events.*) or a folder of them, got {path!r}")
    values: dict[str, dict[int, float]] = {}
    for file in files:
        for record in tf.data.TFRecordDataset(file):
            event = tf.compat.v1.Event.FromString(record.numpy())
            if event.step <= 0:
                continue
            for value in event.summary.value:
                scalar = value.simple_value if value.HasField("simple_value") else tf.make_ndarray(value.tensor)
                values.setdefault(value.tag, {})[event.step] = float(scalar)
    max_step = max((max(steps) for steps in values.values()), default=0)
    tags = sorted(values)
    data = np.full((max_step, len(tags)), np.nan)
    for column, tag in enumerate(tags):
        for step, scalar in values[tag].items():
            data[step - 1, column] = scalar
    return pandas.DataFrame(data, columns=tags)
