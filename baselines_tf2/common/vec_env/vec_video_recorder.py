"""VecVideoRecorder: every so often, record the real game frames of all envs (tiled) into a video file."""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from baselines_tf2.common.vec_env.vec_env import VecEnv, VecEnvWrapper
from baselines_tf2.common.video import VIDEO_FPS, write_video


class VecVideoRecorder(VecEnvWrapper):
    """Starts a recording whenever `record_video_trigger(step)` is true (step counts `step` calls from 0) and
    keeps it for `video_length` frames (the frame after that step and the next ones), then writes
    `<directory>/video-<first step>-<last step>.mp4` (GIF when no MP4 encoder is installed). Frames are
    `venv.render(mode='rgb_array')`: the envs' own images, tiled, not the network's input; the envs must be made with
    render_mode='rgb_array'. `videos` lists the files written (baselines' signature).
    """

    def __init__(
        self,
        venv: VecEnv,
        directory: str,
        record_video_trigger: Callable[[int], bool],
        video_length: int = 200,
        fps: int = VIDEO_FPS,
    ) -> None:
        if isinstance(video_length, bool) or not isinstance(video_length, int) or video_length < 1:
            raise ValueError(f"video_length must be an int >= 1, got {video_length!r}")
        super().__init__(venv)
        self.directory = os.path.abspath(directory)
        self.record_video_trigger = record_video_trigger
        self.video_length = video_length
        self.fps = fps
        self.step_id = 0
        self.videos: list[str] = []
        self._frames: list[np.ndarray] = []
        self._first_step = 0

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._capture()
        return obs

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.step_id += 1
        self._capture()
        return obs, rewards, dones, infos

    def close(self) -> None:
        """Write a recording in progress, then close the envs."""
        if not self.closed and self._frames:
            self._write()
        super().close()

    def _capture(self) -> None:
        """Record the current frame if a recording is on or starts now; write the video once it is long enough."""
        if not self._frames:
            if not self.record_video_trigger(self.step_id):
                return
            self._first_step = self.step_id
        self._record()
        if len(self._frames) >= self.video_length:
            self._write()

    def _record(self) -> None:
        frame = self.venv.render(mode="rgb_array")
        if frame is None or np.ndim(frame) != 3:
            raise ValueError(
                "VecVideoRecorder needs envs that render RGB frames: make them with render_mode='rgb_array'"
            )
        self._frames.append(frame)

    def _write(self) -> None:
        last_step = self._first_step + len(self._frames) - 1
        path = os.path.join(self.directory, f"video-{self._first_step:09d}-{last_step:09d}.mp4")
        frames: Sequence[np.ndarray] = self._frames
        self._frames = []
        self.videos.append(write_video(path, frames, fps=self.fps))
