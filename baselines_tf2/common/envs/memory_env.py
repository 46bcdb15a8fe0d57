"""A memory task on images: a cue shown at the first step must be recalled at the last, after blank frames.

A feed-forward policy sees only the final query frame, so its expected return is 0; a recurrent one can reach 1.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


class ImageMemoryEnv(gymnasium.Env):
    """Step 0 shows cue c in {0, 1} (left or right half lit), then `delay` blank frames, then a query frame.

    The action at the query frame earns +1 if it equals c, else -1; actions elsewhere earn 0. The episode then
    terminates. Observations are uint8 images (size x size x 1), big enough for the Nature CNN (>= 36).
    """

    metadata = {"render_modes": []}

    def __init__(self, delay: int = 2, size: int = 40) -> None:
        if delay < 0 or size < 36:
            raise ValueError(f"need delay >= 0 and size >= 36, got delay={delay}, size={size}")
        self.delay = delay
        self.size = size
        self.observation_space = gymnasium.spaces.Box(0, 255, shape=(size, size, 1), dtype=np.uint8)
        self.action_space = gymnasium.spaces.Discrete(2)
        self._cue = 0
        self._step = 0

    def _frame(self) -> np.ndarray:
        frame = np.zeros((self.size, self.size, 1), np.uint8)
        half = self.size // 2
        if self._step == 0:
            frame[:, :half] = 255 if self._cue == 0 else 0
            frame[:, half:] = 255 if self._cue == 1 else 0
        elif self._step == self.delay + 1:
            quarter = self.size // 4
            frame[quarter:-quarter, quarter:-quarter] = 128
        return frame

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._cue = int(self.np_random.integers(2))
        self._step = 0
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        at_query = self._step == self.delay + 1
        reward = (1.0 if int(action) == self._cue else -1.0) if at_query else 0.0
        self._step += 1
        return self._frame(), reward, at_query, False, {}
