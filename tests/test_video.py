"""Videos: VecVideoRecorder's schedule and frame counts, play's video of the real game frames, the GIF fallback."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import pytest
from cli_helpers import PLAY, RUN, run_one

from baselines_tf2.common import video
from baselines_tf2.common.cmd_util import make_vec_env
from baselines_tf2.common.vec_env import VecFrameStack, VecVideoRecorder
from baselines_tf2.tools.play import play_episodes

ATARI_FRAME = (210, 160, 3)  # what ALE renders; the network sees 84x84x4


def atari_env(num_env: int) -> VecFrameStack:
    venv = make_vec_env("BreakoutNoFrameskip-v4", "atari", num_env, seed=0, vec_env_kind="dummy",
                        render_mode="rgb_array")
    return VecFrameStack(venv, 4)


def frames_of(path: str) -> np.ndarray:
    return np.stack(list(imageio.imiter(path)))


def random_steps(venv: VecVideoRecorder, steps: int) -> None:
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        venv.step(rng.integers(venv.action_space.n, size=venv.num_envs))


def test_recorder_writes_one_video_per_trigger_with_the_asked_length(tmp_path: Path) -> None:
    venv = VecVideoRecorder(atari_env(2), str(tmp_path), lambda step: step % 50 == 0, video_length=20)
    try:
        random_steps(venv, 120)
    finally:
        venv.close()
    assert [Path(path).name for path in venv.videos] == [
        "video-000000000-000000019.mp4", "video-000000050-000000069.mp4", "video-000000100-000000119.mp4"]
    for path in venv.videos:
        frames = frames_of(path)
        assert frames.shape[0] == 20
        # two real frames tiled as baselines' tile_images does: ceil(sqrt(2)) = 2 rows of 1 (codecs may pad)
        assert frames.shape[1] >= 2 * ATARI_FRAME[0] and frames.shape[2] >= ATARI_FRAME[1]
        assert frames.std() > 0  # a picture, not a blank


def test_recorder_writes_the_recording_in_progress_on_close(tmp_path: Path) -> None:
    venv = VecVideoRecorder(atari_env(1), str(tmp_path), lambda step: step == 5, video_length=100)
    random_steps(venv, 30)
    venv.close()
    assert [Path(path).name for path in venv.videos] == ["video-000000005-000000030.mp4"]
    assert frames_of(venv.videos[0]).shape[0] == 26  # the frames after steps 5..30


def test_without_an_mp4_encoder_videos_are_gifs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "mp4_encoder_available", lambda: False)
    frames = [np.full(ATARI_FRAME, value, np.uint8) for value in range(7)]
    written = video.write_video(str(tmp_path / "clip.mp4"), frames)
    assert written == str(tmp_path / "clip.gif")
    assert frames_of(written).shape[0] == 7
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.gif"]  # no temporary file left


def test_play_records_one_real_frame_per_step(tmp_path: Path) -> None:
    env = atari_env(1)
    steps = 0

    def random_actions(obs: np.ndarray, dones: np.ndarray) -> np.ndarray:
        nonlocal steps
        steps += 1
        return np.array([steps % env.action_space.n])

    try:
        play_episodes(env, 1, random_actions, video_path=str(tmp_path / "game.mp4"))
    finally:
        env.close()
    frames = frames_of(str(tmp_path / "game.mp4"))
    assert frames.shape == (steps, *ATARI_FRAME)


def test_play_script_writes_a_video_of_a_checkpoint(tmp_path: Path) -> None:
    checkpoint = tmp_path / "breakout.ckpt"
    saved = run_one([*RUN, "--alg=ppo2", "--env=BreakoutNoFrameskip-v4", "--num_timesteps=0", "--num_env=1",
                     f"--save_path={checkpoint}", f"--log_path={tmp_path / 'run'}"], tmp_path, timeout=300)
    assert saved.returncode == 0, saved.stderr
    played = run_one([*PLAY, str(checkpoint), "--episodes=1", "--seed=0", f"--video={tmp_path / 'play.mp4'}"],
                     tmp_path, timeout=300)
    assert played.returncode == 0, played.stderr
    assert f"video written to {tmp_path / 'play.mp4'}" in played.stdout
    frames = frames_of(str(tmp_path / "play.mp4"))
    assert frames.shape[1:] == ATARI_FRAME and frames.shape[0] > 10


def test_training_with_save_video_interval_writes_videos_of_the_real_frames(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    finished = run_one([*RUN, "--alg=ppo2", "--env=BreakoutNoFrameskip-v4", "--num_env=2", "--nsteps=32",
                        "--nminibatches=2", "--num_timesteps=256", "--seed=0", "--save_video_interval=50",
                        "--save_video_length=10", f"--log_path={run_dir}"], tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr
    videos = sorted(path.name for path in (run_dir / "videos").iterdir())
    assert videos == ["video-000000000-000000009.mp4", "video-000000050-000000059.mp4",
                      "video-000000100-000000109.mp4"]  # 128 vector steps: recordings start at 0, 50 and 100
    frames = frames_of(str(run_dir / "videos" / videos[0]))
    assert frames.shape[0] == 10 and frames.shape[1] >= ATARI_FRAME[0]
    first_videos = {name: (run_dir / "videos" / name).stat().st_mtime_ns for name in videos}
    # trained further from its checkpoint (256 steps = 128 vector steps before): the videos are numbered on
    continued = run_one([*RUN, "--alg=ppo2", "--env=BreakoutNoFrameskip-v4", "--num_env=2", "--nsteps=32",
                         "--nminibatches=2", "--num_timesteps=128", "--seed=0", "--save_video_interval=50",
                         "--save_video_length=10", f"--load_path={run_dir}"], tmp_path, timeout=300)
    assert continued.returncode == 0, continued.stderr
    assert sorted(path.name for path in (run_dir / "videos").iterdir()) == [
        *videos, "video-000000150-000000159.mp4"]  # vector steps 128..192
    assert {name: (run_dir / "videos" / name).stat().st_mtime_ns for name in videos} == first_videos


def test_a_long_video_streams_to_the_encoder_instead_of_piling_up_in_memory(tmp_path: Path) -> None:
    """A trained agent's game can run to tens of thousands of frames (100 KB each): play streams them into ffmpeg,
    so memory stays flat however long the game, and the file appears only once complete."""
    import tracemalloc

    frame_count = 1_000  # about 100 MB if held
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, ATARI_FRAME, dtype=np.uint8)
    tracemalloc.start()
    try:
        with video.VideoWriter(str(tmp_path / "long.mp4")) as writer:
            for index in range(frame_count):
                writer.append(np.roll(noise, index, axis=1))  # each frame a new array
                if index == frame_count // 2:
                    assert not (tmp_path / "long.mp4").exists(), "published before it is complete"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 2**20, f"{peak / 2**20:.0f} MiB held while writing"
    assert frames_of(str(tmp_path / "long.mp4")).shape == (frame_count, *ATARI_FRAME)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long.mp4"]


def test_a_play_that_fails_part_way_leaves_no_video(tmp_path: Path) -> None:
    env = atari_env(1)

    def fails_on_step_20(obs: np.ndarray, dones: np.ndarray, steps: list[int] = []) -> np.ndarray:  # noqa: B006
        steps.append(1)
        if len(steps) == 20:
            raise RuntimeError("the policy failed")
        return np.array([1])

    try:
        with pytest.raises(RuntimeError, match="the policy failed"):
            play_episodes(env, 1, fails_on_step_20, video_path=str(tmp_path / "game.mp4"))
    finally:
        env.close()
    assert not list(tmp_path.iterdir()), "no partial or temporary file"
