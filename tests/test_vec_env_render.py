"""VecEnv.render keeps baselines' default mode 'human' (all envs' frames tiled in one window): without a display it
says how to get the frames instead; 'rgb_array' returns the tiled image as before."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env import DummyVecEnv, VecFrameStack

CARTPOLE_FRAME = (400, 600, 3)  # gymnasium's CartPole rgb_array frame


@pytest.fixture()
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """A headless Linux machine: no X11 or Wayland display, no SDL video driver chosen."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")


def cartpoles(count: int, render_mode: str | None = "rgb_array") -> DummyVecEnv:
    venv = DummyVecEnv([lambda: gymnasium.make("CartPole-v1", render_mode=render_mode)] * count)
    venv.reset()
    return venv


def test_human_render_without_a_display_says_how_to_get_frames(no_display: None) -> None:
    with cartpoles(2) as venv:
        with pytest.raises(RuntimeError, match=r"there is no display") as error:
            venv.render()  # baselines' default mode, 'human'
        assert "render(mode='rgb_array')" in str(error.value) and "render_mode='rgb_array'" in str(error.value)
        assert venv.render(mode="rgb_array").shape == (2 * CARTPOLE_FRAME[0], CARTPOLE_FRAME[1], 3)


def test_a_wrapper_renders_as_the_env_it_wraps(no_display: None) -> None:
    with cartpoles(3) as venv:
        stacked = VecFrameStack(venv, 2)
        with pytest.raises(RuntimeError, match=r"no display"):
            stacked.render("human")
        image = stacked.render("rgb_array")
        # baselines' tile_images: 3 frames on ceil(sqrt(3)) = 2 rows of 2, the fourth cell black
        assert image.shape == (2 * CARTPOLE_FRAME[0], 2 * CARTPOLE_FRAME[1], 3)
        assert not image[CARTPOLE_FRAME[0]:, CARTPOLE_FRAME[1]:].any()


def test_envs_made_without_rgb_array_are_named_as_the_fix() -> None:
    with cartpoles(1, render_mode=None) as venv:
        with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"render_mode='rgb_array'"):
            venv.render(mode="rgb_array")


def test_unknown_render_mode_lists_the_valid_ones() -> None:
    with cartpoles(1) as venv, pytest.raises(ValueError, match=r"'ansi' is not supported; use 'human' or 'rgb_array'"):
        venv.render(mode="ansi")


def test_human_render_shows_the_tiled_frames_in_a_window() -> None:
    """With a display (here SDL's dummy video driver, in a fresh process) 'human' draws and returns isopen."""
    pytest.importorskip("pygame")
    probe = (
        "import gymnasium, numpy as np\n"
        "from baselines_tf2.common.vec_env import DummyVecEnv\n"
        "venv = DummyVecEnv([lambda: gymnasium.make('CartPole-v1', render_mode='rgb_array')] * 2)\n"
        "venv.reset()\n"
        "assert venv.render() is True\n"
        "import pygame\n"
        "assert pygame.display.get_surface().get_size() == (600, 800)\n"  # (width, height): 2 frames on 2 rows
        "venv.close()\n"
        "assert venv.viewer is None\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    subprocess.run([sys.executable, "-c", probe], check=True, env={**env, "SDL_VIDEODRIVER": "dummy"}, timeout=120)


def test_the_viewer_window_closes_with_the_venv(no_display: None, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    class FakeViewer:
        isopen = True

        def imshow(self, frame: np.ndarray) -> None:
            self.frame = frame

        def close(self) -> None:
            closed.append(True)

    venv = cartpoles(1)
    monkeypatch.setattr(venv, "viewer", FakeViewer())
    assert venv.render() is True
    venv.close()
    assert closed == [True] and venv.viewer is None
