"""Per-episode return, length and wall time of one env, written to a baselines-compatible `monitor.csv`.

File layout (readable by baselines' and SB3's plotting tools):
    #{"t_start": 1700000000.0, "env_id": "CartPole-v1"}
    r,l,t
    21.0,21,0.012345
"""

from __future__ import annotations

import csv
import glob
import json
import os
import time
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium

MONITOR_SUFFIX = "monitor.csv"
EPISODE_COLUMNS = ("r", "l", "t")


class LoadMonitorResultsError(Exception):
    """No monitor files were found, or one of them is not in the monitor.csv format."""


def monitor_path(filename: str | os.PathLike[str]) -> str:
    """Baselines' naming rule: a directory gets `monitor.csv` inside it; other names get `.monitor.csv` appended."""
    path = os.fspath(filename)
    if os.path.isdir(path):
        return os.path.join(path, MONITOR_SUFFIX)
    if not path.endswith(MONITOR_SUFFIX):
        return f"{path}.{MONITOR_SUFFIX}"
    return path


class ResultsWriter:
    """Writes the `#{json}` header line, the column line, then one flushed row per episode."""

    def __init__(
        self,
        filename: str | os.PathLike[str],
        header: dict[str, Any] | None = None,
        extra_keys: Sequence[str] = (),
        override_existing: bool = True,
    ) -> None:
        self.path = monitor_path(filename)
        self.columns = [*EPISODE_COLUMNS, *extra_keys]
        # no header (as baselines allowed): the rows' times count from now, so load_results can read the file
        self.header = {"t_start": time.time()} if header is None else dict(header)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        appending = not override_existing and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if appending:
            self.header = self._read_existing_header()
        self.file = open(self.path, "a" if appending else "w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=self.columns)
        if not appending:
            self.file.write(f"#{json.dumps(self.header)}\n")
            self.writer.writeheader()
            self.file.flush()

    def _read_existing_header(self) -> dict[str, Any]:
        """Header of the file being appended to; its columns must match, or the rows would not line up."""
        with open(self.path, encoding="utf-8", newline="") as fh:
            header = _parse_header_line(fh.readline(), self.path)
            columns = next(csv.reader(fh), [])
        if columns != self.columns:
            raise ValueError(
                f"cannot append to {self.path}: its columns {columns} differ from {self.columns}; "
                "use override_existing=True or another filename"
            )
        return header

    def write_row(self, epinfo: dict[str, Any]) -> None:
        """Append one episode and flush, so a crash loses at most the episode in progress."""
        self.writer.writerow({key: epinfo.get(key) for key in self.columns})
        self.file.flush()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class Monitor(gymnasium.Wrapper):
    """Records each episode's return `r`, length `l` and seconds since start `t`, into `info['episode']` and a CSV.

    `info_keywords` copies those keys from the final step's info into the record; `reset_keywords` copies those
    keys from `reset(options=...)`. Resetting mid-episode raises unless `allow_early_resets=True`.
    """

    EXT = MONITOR_SUFFIX  # baselines' name for the file suffix, as in glob('*' + Monitor.EXT)

    @property
    def tstart(self) -> float:
        """baselines' name for `t_start`."""
        return self.t_start

    def __init__(
        self,
        env: gymnasium.Env,
        filename: str | os.PathLike[str] | None,
        allow_early_resets: bool = False,
        reset_keywords: Sequence[str] = (),
        info_keywords: Sequence[str] = (),
        override_existing: bool = True,
    ) -> None:
        super().__init__(env)
        self.t_start = time.time()
        self.results_writer: ResultsWriter | None = None
        if filename is not None:
            env_id = env.spec.id if env.spec is not None else None
            self.results_writer = ResultsWriter(
                filename,
                header={"t_start": self.t_start, "env_id": env_id},
                extra_keys=(*reset_keywords, *info_keywords),
                override_existing=override_existing,
            )
            # Appending keeps the file's own clock, so every row's t stays relative to its header.
            self.t_start = self.results_writer.header["t_start"]
        self.allow_early_resets = allow_early_resets
        self.reset_keywords = tuple(reset_keywords)
        self.info_keywords = tuple(info_keywords)
        self.needs_reset = True
        self.rewards: list[float] = []
        self.current_reset_info: dict[str, Any] = {}
        self.episode_rewards: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_times: list[float] = []
        self.total_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start a new episode; raises RuntimeError mid-episode unless early resets are allowed."""
        if not self.allow_early_resets and not self.needs_reset:
            raise RuntimeError(
                "Tried to reset an environment before its episode was done (terminated or truncated). "
                "Wrap it with Monitor(env, filename, allow_early_resets=True) to allow early resets."
            )
        missing = [key for key in self.reset_keywords if key not in (options or {})]
        if missing:
            raise ValueError(f"Monitor expects reset(options={{...}}) to contain the reset_keywords {missing}")
        self.current_reset_info = {key: (options or {})[key] for key in self.reset_keywords}
        self.rewards = []
        self.needs_reset = False
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; on the episode's last step add `info['episode'] = {'r', 'l', 't', ...}` and write a row."""
        if self.needs_reset:
            raise RuntimeError("Tried to step an environment that needs reset; call reset() first")
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.rewards.append(float(reward))
        self.total_steps += 1
        if terminated or truncated:
            self.needs_reset = True
            info = {**info, "episode": self._finish_episode(info)}
        return obs, reward, terminated, truncated, info

    def _finish_episode(self, info: dict[str, Any]) -> dict[str, Any]:
        """Record the episode that just ended and return its `info['episode']` dict."""
        episode_return = sum(self.rewards)
        episode_length = len(self.rewards)
        elapsed = round(time.time() - self.t_start, 6)
        epinfo: dict[str, Any] = {"r": round(episode_return, 6), "l": episode_length, "t": elapsed}
        epinfo.update({key: info[key] for key in self.info_keywords})
        epinfo.update(self.current_reset_info)
        self.episode_rewards.append(episode_return)
        self.episode_lengths.append(episode_length)
        self.episode_times.append(elapsed)
        if self.results_writer is not None:
            self.results_writer.write_row(epinfo)
        return epinfo

    def close(self) -> None:
        """Close the CSV file and the wrapped env."""
        if self.results_writer is not None:
            self.results_writer.close()
            self.results_writer = None
        super().close()

    def get_total_steps(self) -> int:
        """Steps taken over all episodes, including the one in progress."""
        return self.total_steps

    def get_episode_rewards(self) -> list[float]:
        """Return of every finished episode."""
        return self.episode_rewards

    def get_episode_lengths(self) -> list[int]:
        """Length in steps of every finished episode."""
        return self.episode_lengths

    def get_episode_times(self) -> list[float]:
        """Seconds from `t_start` (the file header's, when appending) to the end of every finished episode."""
        return self.episode_times


def _parse_header_line(line: str, path: str) -> dict[str, Any]:
    """Decode a monitor file's first line, `#{json}`."""
    if not line.startswith("#"):
        raise LoadMonitorResultsError(f"{path} does not start with a '#{{json}}' header line; is it a monitor.csv?")
    try:
        header = json.loads(line[1:])
    except json.JSONDecodeError as err:
        raise LoadMonitorResultsError(f"{path}: the header line is not valid JSON ({err})") from None
    if not isinstance(header, dict) or "t_start" not in header:
        raise LoadMonitorResultsError(f"{path}: the header line has no 't_start'")
    return header


def get_monitor_files(dir: str | os.PathLike[str]) -> list[str]:
    """All `*monitor.csv` files directly inside `dir`, sorted."""
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(dir)), f"*{MONITOR_SUFFIX}")))


def load_results(dir: str | os.PathLike[str]) -> Any:
    """Concatenate every monitor file in `dir` into one pandas DataFrame sorted by `t` (empty files are skipped).

    `t` is made relative to the earliest `t_start`; the header dicts are in `df.headers` (as baselines) and
    `df.attrs['headers']`.
    """
    import pandas  # lazy: only result analysis needs pandas

    paths = get_monitor_files(dir)
    if not paths:
        raise LoadMonitorResultsError(f"no files matching *{MONITOR_SUFFIX} found in {os.fspath(dir)!r}")
    headers = []
    frames = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            first_line = fh.readline()
            if not first_line:  # empty: its writer died before the header line, as baselines skipped it
                continue
            header = _parse_header_line(first_line, path)
            frame = pandas.read_csv(fh, index_col=None)
        missing = [column for column in EPISODE_COLUMNS if column not in frame.columns]
        if missing:
            raise LoadMonitorResultsError(f"{path} lacks the column(s) {missing}")
        frame["t"] = frame["t"] + header["t_start"]
        headers.append(header)
        frames.append(frame)
    if not frames:
        raise LoadMonitorResultsError(f"no episodes in {os.fspath(dir)!r}: its monitor files {paths} are empty")
    results = pandas.concat(frames, ignore_index=True)
    results = results.sort_values("t", kind="stable").reset_index(drop=True)
    results["t"] = results["t"] - min(header["t_start"] for header in headers)
    object.__setattr__(results, "headers", headers)  # plain attribute, as baselines; bypasses pandas' column warning
    results.attrs["headers"] = headers
    return results
