"""Training progress on stderr: steps done, steps/s and the recent mean episode return.

On a terminal a tqdm bar; elsewhere (a log file, CI, nohup) a plain line at most every
`BASELINES_TF2_PROGRESS_SECONDS` seconds (default 30) and one at the end, so a log file gets no carriage returns.
"""

from __future__ import annotations

import datetime
import math
import os
import sys
import time
from typing import Sequence, TextIO

from tqdm import tqdm

from baselines_tf2.training.callbacks import UNBOUNDED_TIMESTEPS

INTERVAL_VARIABLE = "BASELINES_TF2_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 30.0


def progress_interval() -> float:
    """Seconds between plain progress lines, from `BASELINES_TF2_PROGRESS_SECONDS`; ValueError if it is not >= 0."""
    raw = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:
        raise ValueError(f"{INTERVAL_VARIABLE} must be a number of seconds >= 0, got {raw!r}")
    return seconds


class TrainingProgress:
    """Shows training progress; a no-op when disabled, so learners can always call it. A run with no step budget
    (`total_timesteps` UNBOUNDED_TIMESTEPS: only an episode count or a time limit ends it) shows steps, steps/s
    and returns without a percentage or the time left."""

    def __init__(self, total_timesteps: int, *, enabled: bool, description: str = "training",
                 stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._total = total_timesteps if total_timesteps < UNBOUNDED_TIMESTEPS else None
        self._description = description
        self._done = 0
        self._mean_return: float | None = None
        self._started = self._printed_at = time.monotonic()
        self._printed_done = -1
        self._interval = progress_interval() if enabled else math.inf
        self._enabled = enabled
        self._bar = (
            tqdm(total=self._total, desc=description, unit="step", unit_scale=True, dynamic_ncols=True,
                 smoothing=0.1, file=self._stream)
            if enabled and _is_terminal(self._stream)
            else None
        )

    def update(self, steps: int, recent_returns: Sequence[float]) -> None:
        """Advance by `steps` and show the mean of `recent_returns` (the last 100 episodes)."""
        if not self._enabled:
            return
        self._done += steps
        self._mean_return = sum(recent_returns) / len(recent_returns) if recent_returns else None
        if self._bar is not None:
            self._bar.set_postfix_str("no episode finished yet" if self._mean_return is None
                                      else f"mean return {self._mean_return:.2f}")
            self._bar.update(steps)
        elif time.monotonic() - self._printed_at >= self._interval:
            self._print_line()

    def close(self) -> None:
        """End the bar, or print the last plain line (unless the last one printed already says the same)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._enabled and self._printed_done != self._done:
            self._print_line()
        self._enabled = False

    def _print_line(self) -> None:
        now = time.monotonic()
        elapsed = now - self._started
        rate = self._done / elapsed if elapsed > 0 else math.nan
        done = f"{self._done}" if self._total is None else f"{self._done}/{self._total}"
        percent = f" ({100 * self._done / self._total:.0f}%)" if self._total else ""
        left = (self._total or 0) - self._done
        eta = f", {_clock(left / rate)} left" if left > 0 and rate > 0 and math.isfinite(rate) else ""
        returns = ("no episode finished yet" if self._mean_return is None
                   else f"mean return {self._mean_return:.2f}")
        self._stream.write(f"{self._description}: {done} steps{percent}, {rate:.0f} steps/s, "
                           f"{returns}, {_clock(elapsed)} elapsed{eta}\n")
        self._stream.flush()
        self._printed_at, self._printed_done = now, self._done


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _clock(seconds: float) -> str:
    """'H:MM:SS', or 'D days, H:MM:SS' (as timedelta prints it), for any number of seconds: a huge step budget at a
    slow start gives times beyond timedelta's range."""
    days, rest = divmod(round(seconds), 86_400)
    clock = str(datetime.timedelta(seconds=rest))
    return f"{days:,} day{'s' * (days != 1)}, {clock}" if days else clock
