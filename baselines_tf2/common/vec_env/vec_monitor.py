"""VecMonitor: episode return, length and time for every env of a VecEnv, in `info['episode']` and a monitor CSV."""

from __future__ import annotations

import os
import time
import warnings
from collections import deque
from typing import Any, Sequence

import numpy as np

from baselines_tf2.bench.monitor import ResultsWriter
from baselines_tf2.common.vec_env.vec_env import VecEnv, VecEnvWrapper

EPISODE_KEY = "episode"


class VecMonitor(VecEnvWrapper):
    """Adds `infos[i]['episode'] = {'r': return, 'l': length, 't': seconds since start}` when env i's episode ends.

    With `filename`, each episode is also a row of a baselines monitor CSV (see `baselines_tf2.bench.monitor`).
    `keep_buf` > 0 keeps the last `keep_buf` returns and lengths in `recent_episode_returns` / `_lengths`.
    `info_keywords` are copied from the episode's last info into the record and the CSV.
    If a wrapped env already reports `info['episode']` (an inner `Monitor`), VecMonitor warns once and replaces
    it with its own numbers, so `info['episode']` and the CSV always agree and no episode is counted twice.
    Note the inner Monitor may have seen different rewards (e.g. before reward clipping); keep one monitor.
    """

    def __init__(
        self,
        venv: VecEnv,
        filename: str | os.PathLike[str] | None = None,
        keep_buf: int = 0,
        info_keywords: Sequence[str] = (),
    ) -> None:
        if isinstance(keep_buf, bool) or not isinstance(keep_buf, (int, np.integer)) or keep_buf < 0:
            raise ValueError(f"keep_buf (how many recent episodes to keep) must be an integer >= 0, got {keep_buf!r}")
        super().__init__(venv)
        self.t_start = time.time()
        self.info_keywords = tuple(info_keywords)
        self.episode_returns = np.zeros(self.num_envs, dtype=np.float64)
        self.episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        self.episode_count = 0
        self.recent_episode_returns: deque[float] = deque(maxlen=int(keep_buf))
        self.recent_episode_lengths: deque[int] = deque(maxlen=int(keep_buf))
        self.results_writer: ResultsWriter | None = None
        if filename is not None:
            self.results_writer = ResultsWriter(
                filename,
                header={"t_start": self.t_start, "env_id": _env_id(venv)},
                extra_keys=self.info_keywords,
            )
        self._warned_inner_monitor = False

    # baselines' attribute names, read-only
    eprets = property(lambda self: self.episode_returns, doc="baselines' name for `episode_returns`.")
    eplens = property(lambda self: self.episode_lengths, doc="baselines' name for `episode_lengths`.")
    epcount = property(lambda self: self.episode_count, doc="baselines' name for `episode_count`.")
    tstart = property(lambda self: self.t_start, doc="baselines' name for `t_start`.")
    epret_buf = property(lambda self: self.recent_episode_returns, doc="baselines' name for `recent_episode_returns`.")
    eplen_buf = property(lambda self: self.recent_episode_lengths, doc="baselines' name for `recent_episode_lengths`.")

    def reset(self) -> Any:
        obs = self.venv.reset()
        self.episode_returns[:] = 0.0
        self.episode_lengths[:] = 0
        return obs

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.episode_returns += rewards
        self.episode_lengths += 1
        monitored_infos = list(infos)
        for index in np.flatnonzero(dones):
            monitored_infos[index] = {**infos[index], EPISODE_KEY: self._finish_episode(index, infos[index])}
        return obs, rewards, dones, monitored_infos

    def _finish_episode(self, index: int | np.integer, info: dict[str, Any]) -> dict[str, Any]:
        """Record env `index`'s finished episode (buffers, CSV), restart its counters, and return the record."""
        if EPISODE_KEY in info and not self._warned_inner_monitor:
            warnings.warn(
                "an inner env already reports info['episode'] (is it wrapped in Monitor?); VecMonitor replaces it "
                "with its own numbers. Use either Monitor or VecMonitor, not both.",
                UserWarning,
                stacklevel=4,
            )
            self._warned_inner_monitor = True
        missing = [key for key in self.info_keywords if key not in info]
        if missing:
            raise KeyError(f"info_keywords {missing} are not in env {index}'s final info (its keys: {sorted(info)})")
        episode_return = float(self.episode_returns[index])
        episode_length = int(self.episode_lengths[index])
        record: dict[str, Any] = {
            "r": round(episode_return, 6),
            "l": episode_length,
            "t": round(time.time() - self.t_start, 6),
        }
        record.update({key: info[key] for key in self.info_keywords})
        self.recent_episode_returns.append(episode_return)
        self.recent_episode_lengths.append(episode_length)
        self.episode_count += 1
        self.episode_returns[index] = 0.0
        self.episode_lengths[index] = 0
        if self.results_writer is not None:
            self.results_writer.write_row(record)
        return record

    def close(self) -> None:
        if self.results_writer is not None:
            self.results_writer.close()
            self.results_writer = None
        super().close()


def _env_id(venv: VecEnv) -> str | None:
    """The registered id of the first env when the VecEnv holds its envs in-process (`envs`), else None."""
    envs = getattr(venv.unwrapped, "envs", None)
    spec = getattr(envs[0], "spec", None) if envs else None
    return spec.id if spec is not None else None
