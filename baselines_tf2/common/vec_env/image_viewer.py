"""A window that shows RGB frames: what baselines' `VecEnv.render(mode='human')` drew into (gym's SimpleImageViewer).

Drawn with pygame, imported only when a window opens (gymnasium's own renderer; not a dependency of baselines_tf2).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

NO_DISPLAY_HINT = (
    "for the frames themselves, make the envs with render_mode='rgb_array' and call render(mode='rgb_array') "
    "(all envs tiled into one image) or get_images() (one frame per env)"
)


def display_available() -> bool:
    """Whether a window can open: a desktop OS, an X11 or Wayland display, or an SDL video driver chosen by hand."""
    if os.environ.get("SDL_VIDEODRIVER"):  # e.g. 'dummy' for tests, 'offscreen': the user picked one
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _import_pygame() -> Any:
    """pygame, or a RuntimeError saying how to install it."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame prints a banner on import otherwise
    try:
        import pygame
    except ImportError:
        raise RuntimeError(
            "render(mode='human') opens a window with pygame, which is not installed: pip install -e '.[render]' "
            f"(or pip install pygame); or {NO_DISPLAY_HINT}"
        ) from None
    return pygame


class SimpleImageViewer:
    """One window showing the latest frame given to `imshow`; `isopen` turns False when the user closes it."""

    def __init__(self, caption: str = "baselines_tf2") -> None:
        if not display_available():
            raise RuntimeError(
                "render(mode='human') shows the envs' frames in a window, but there is no display (neither "
                f"DISPLAY nor WAYLAND_DISPLAY is set); {NO_DISPLAY_HINT}"
            )
        self._pygame = _import_pygame()
        self.caption = caption
        self._screen: Any = None
        self.isopen = True

    def imshow(self, frame: np.ndarray) -> None:
        """Show an RGB frame [height, width, 3] (uint8), resizing the window to it."""
        if not self.isopen:
            return
        pygame = self._pygame
        frame = np.asarray(frame, dtype=np.uint8)
        if frame.shape[-1] == 1:  # grayscale: the same value in each of R, G, B
            frame = np.repeat(frame, 3, axis=-1)
        size = (frame.shape[1], frame.shape[0])
        if self._screen is None or self._screen.get_size() != size:
            pygame.display.init()
            self._screen = pygame.display.set_mode(size)
            pygame.display.set_caption(self.caption)
        # surfarray indexes pixels [x, y]; frames are [y, x]
        self._screen.blit(pygame.surfarray.make_surface(frame[..., :3].swapaxes(0, 1)), (0, 0))
        pygame.display.flip()
        if any(event.type == pygame.QUIT for event in pygame.event.get()):
            self.close()

    def close(self) -> None:
        """Close the window (safe to call twice)."""
        if self.isopen and self._screen is not None:
            self._pygame.display.quit()
        self._screen = None
        self.isopen = False
