"""A progress bar for long runs: steps done, steps/s and the recent mean episode return (tqdm, on stderr)."""

from __future__ import annotations

import math
from typing import Sequence

from tqdm import tqdm


class TrainingProgress:
    """Shows training progress; a no-op when disabled, so learners can always call it."""

    def __init__(self, total_timesteps: int, *, enabled: bool, description: str = "training") -> None:
        self._bar = (
            tqdm(total=total_timesteps, desc=description, unit="step", unit_scale=True, dynamic_ncols=True,
                 smoothing=0.1)
            if enabled
            else None
        )

    def update(self, steps: int, recent_returns: Sequence[float]) -> None:
        """Advance by `steps` and show the mean of `recent_returns` (the last 100 episodes)."""
        if self._bar is None:
            return
        mean_return = sum(recent_returns) / len(recent_returns) if recent_returns else math.nan
        self._bar.set_postfix_str(f"mean return {mean_return:.2f}" if recent_returns else "no episode finished yet")
        self._bar.update(steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
