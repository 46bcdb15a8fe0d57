"""DeepMind-style Atari preprocessing (baselines' wrappers) on gymnasium 1.x and ale-py.

`make_atari` builds the raw game (noop starts + frame skipping with max-pooling); `wrap_deepmind`
adds life-loss episodes, FIRE on reset, 84x84 frames, reward clipping and frame stacking.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from typing import Any, Sequence, SupportsFloat

import ale_py
import cv2
import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

from baselines_tf2.common.validation import require_int

__all__ = [
    "NoopResetEnv",
    "FireResetEnv",
    "MaxAndSkipEnv",
    "EpisodicLifeEnv",
    "WarpFrame",
    "ClipRewardEnv",
    "LazyFrames",
    "FrameStack",
    "ScaledFloatFrame",
    "make_atari",
    "wrap_deepmind",
]

ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"
NOOP_ACTION = 0
FIRE_ACTION = 1
ID_FORMS_HINT = (
    "Atari ids look like '<Game>NoFrameskip-v4' (e.g. 'BreakoutNoFrameskip-v4') "
    "or 'ALE/<Game>-v5' (e.g. 'ALE/Breakout-v5')"
)


def _action_meanings(env: gymnasium.Env, wrapper_name: str) -> list[str]:
    """The ALE action names of `env` (e.g. ['NOOP', 'FIRE', ...]); only ALE games provide them."""
    get_meanings = getattr(env.unwrapped, "get_action_meanings", None)
    if get_meanings is None:
        raise ValueError(
            f"{wrapper_name} needs an ALE Atari env (one with get_action_meanings()), got {env.unwrapped!r}"
        )
    return list(get_meanings())


def _ale(env: gymnasium.Env, wrapper_name: str) -> ale_py.ALEInterface:
    """The ALEInterface under `env`, for lives and frame counters."""
    ale = getattr(env.unwrapped, "ale", None)
    if ale is None:
        raise ValueError(f"{wrapper_name} needs an ALE Atari env (one with an `ale` attribute), got {env.unwrapped!r}")
    return ale


def _env_frameskip(env: gymnasium.Env) -> int | tuple[int, int]:
    """How many emulator frames one step of the unwrapped env runs (an int, or a (low, high) range)."""
    # ale-py's AtariEnv keeps its frameskip only in this private attribute; fall back to the spec for other envs.
    frameskip = getattr(env.unwrapped, "_frameskip", None)
    if frameskip is None and env.unwrapped.spec is not None:
        frameskip = env.unwrapped.spec.kwargs.get("frameskip")
    return 1 if frameskip is None else frameskip


def _atari_specs() -> dict[str, gymnasium.envs.registration.EnvSpec]:
    """Every registered ale-py environment id with its spec."""
    gymnasium.register_envs(ale_py)
    return {env_id: spec for env_id, spec in gymnasium.registry.items() if spec.entry_point == ATARI_ENTRY_POINT}


def _takes_raw_frames(spec: gymnasium.envs.registration.EnvSpec) -> bool:
    """Ids make_atari accepts: frameskip 1 ids (NoFrameskip) and ALE/ v5 ids (made with frameskip=1)."""
    return spec.namespace == "ALE" or spec.kwargs.get("frameskip", 1) == 1


def _ids_for_game(game: str | None) -> list[str]:
    """The NoFrameskip-v4 and ALE/...-v5 ids of one ALE game (e.g. 'breakout'), the two forms make_atari takes."""
    return sorted(
        env_id
        for env_id, spec in _atari_specs().items()
        if spec.kwargs.get("game") == game
        and (spec.namespace == "ALE" or env_id.endswith("NoFrameskip-v4"))
    )


def _close_atari_ids(env_id: str) -> list[str]:
    """Accepted Atari ids that look like `env_id` (case-insensitive), by whole id and by game name."""
    specs = _atari_specs()
    by_lower = {candidate.lower(): candidate for candidate, spec in specs.items() if _takes_raw_frames(spec)}
    id_matches = [
        by_lower[match] for match in difflib.get_close_matches(env_id.lower(), list(by_lower), n=5, cutoff=0.6)
    ]
    games = {spec.name.lower(): spec.kwargs["game"] for spec in specs.values() if spec.namespace == "ALE"}
    typed_game = re.sub(r"(noframeskip|deterministic)$", "", re.sub(r"^ale/|-v\d+$", "", env_id.lower()))
    game_matches = difflib.get_close_matches(typed_game, list(games), n=2, cutoff=0.75)
    by_game = [candidate for name in game_matches for candidate in _ids_for_game(games[name])]
    return list(dict.fromkeys(by_game + id_matches))[:6]


def _frameskip_fix(env: gymnasium.Env) -> str:
    """The advice for an env that already skips frames, naming this game's ids when it is known."""
    spec = env.unwrapped.spec
    ids = _ids_for_game(spec.kwargs.get("game")) if spec is not None else []
    no_frameskip = next((env_id for env_id in ids if env_id.endswith("NoFrameskip-v4")), "<Game>NoFrameskip-v4")
    v5 = next((env_id for env_id in ids if env_id.startswith("ALE/")), "ALE/<Game>-v5")
    return (
        f"Use the '{no_frameskip}' id or make the env with frameskip=1, e.g. gymnasium.make('{v5}', frameskip=1); "
        f"make_atari('{v5}') does this for you."
    )


class NoopResetEnv(gymnasium.Wrapper):
    """On reset, play a random number of NOOPs in [1, noop_max] so episodes start in varied states."""

    def __init__(self, env: gymnasium.Env, noop_max: int = 30) -> None:
        super().__init__(env)
        require_int("noop_max", noop_max, minimum=1)
        meanings = _action_meanings(env, "NoopResetEnv")
        if meanings[NOOP_ACTION] != "NOOP":
            raise ValueError(
                f"NoopResetEnv needs action {NOOP_ACTION} to be 'NOOP', but this game's actions are {meanings}"
            )
        self.noop_max = int(noop_max)
        self.override_num_noops: int | None = None  # baselines': a fixed count instead of the random one
        self.noop_action = NOOP_ACTION

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, then step NOOP a count drawn from the env's np_random (so reset(seed=) fixes the count), or
        `override_num_noops` times when set."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self.override_num_noops is not None:
            noops = int(self.override_num_noops)
        else:
            noops = int(self.np_random.integers(1, self.noop_max + 1))
        for _ in range(noops):
            obs, _, terminated, truncated, info = self.env.step(self.noop_action)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class FireResetEnv(gymnasium.Wrapper):
    """On reset, press FIRE then action 2, as baselines, for games that wait for FIRE to start (Breakout)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        meanings = _action_meanings(env, "FireResetEnv")
        if len(meanings) < 3 or meanings[FIRE_ACTION] != "FIRE":
            raise ValueError(
                f"FireResetEnv needs action {FIRE_ACTION} to be 'FIRE' (and at least 3 actions), "
                f"but this game's actions are {meanings}; only wrap games that have FIRE "
                "(wrap_deepmind checks for it)"
            )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, then take FIRE and action 2, resetting again if either ends the game."""
        obs, info = self.env.reset(seed=seed, options=options)
        for action in (FIRE_ACTION, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class MaxAndSkipEnv(gymnasium.Wrapper):
    """Repeat each action `skip` frames, sum the rewards, and return the pixel-wise max of the last two frames.

    The max removes the flicker of sprites drawn on alternate frames. The wrapped env must run one frame
    per step (ALE frameskip=1), otherwise the skipping would compound.
    """

    def __init__(self, env: gymnasium.Env, skip: int = 4) -> None:
        super().__init__(env)
        require_int("skip", skip, minimum=1)
        frameskip = _env_frameskip(env)
        if frameskip != 1:
            env_name = env.unwrapped.spec.id if env.unwrapped.spec is not None else repr(env.unwrapped)
            raise ValueError(
                f"MaxAndSkipEnv skips frames itself, but {env_name} already runs frameskip={frameskip} "
                f"emulator frames per step, which would compound to {skip} x {frameskip}. {_frameskip_fix(env)}"
            )
        if not isinstance(env.observation_space, spaces.Box):
            raise ValueError(f"MaxAndSkipEnv needs a Box observation space (image frames), got {env.observation_space}")
        self.skip = int(skip)
        self._last_two_frames = np.zeros((2, *env.observation_space.shape), dtype=env.observation_space.dtype)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act for up to `skip` frames, stopping early when the episode ends."""
        total_reward = 0.0
        terminated = truncated = False
        info: dict[str, Any] = {}
        frames_seen = 0
        for frame_index in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            self._last_two_frames[frame_index % 2] = obs
            frames_seen += 1
            total_reward += float(reward)
            if terminated or truncated:
                break
        if frames_seen == 1:
            pooled = self._last_two_frames[0].copy()
        else:
            pooled = np.maximum(self._last_two_frames[0], self._last_two_frames[1])
        return pooled, total_reward, terminated, truncated, info


class EpisodicLifeEnv(gymnasium.Wrapper):
    """Losing a life ends the agent's episode (terminated=True) while the game itself goes on.

    `reset()` restarts the game only after a real game over (`was_real_done`), passing its seed on; otherwise it
    takes one NOOP step and play continues, seed or not (as baselines: exact-resume runs seed every reset, and a
    seed must not turn a lost life into a new game). Each step's info carries 'real_done', the game-over flag, so
    evaluation code can count whole games.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._ale = _ale(env, "EpisodicLifeEnv")
        self.lives = 0
        self.was_real_done = True

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the game; a lost life (with lives left) reports terminated=True."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.was_real_done = bool(terminated or truncated)
        lives = self._ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        info["real_done"] = self.was_real_done
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Really reset after a game over; after a lost life, step NOOP and carry on."""
        if self.was_real_done:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, terminated, truncated, info = self.env.step(NOOP_ACTION)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self.was_real_done = False
        self.lives = self._ale.lives()
        return obs, info


class WarpFrame(gymnasium.ObservationWrapper):
    """Resize frames to height x width (cv2 INTER_AREA), in grayscale (H, W, 1) or color (H, W, 3), uint8.

    With `dict_space_key`, only that entry of a Dict observation is warped.
    """

    def __init__(
        self,
        env: gymnasium.Env,
        width: int = 84,
        height: int = 84,
        grayscale: bool = True,
        dict_space_key: str | None = None,
    ) -> None:
        super().__init__(env)
        require_int("width", width, minimum=1)
        require_int("height", height, minimum=1)
        self.width, self.height = int(width), int(height)
        self.grayscale = grayscale
        self.dict_space_key = dict_space_key

        if dict_space_key is None:
            frame_space = env.observation_space
        elif isinstance(env.observation_space, spaces.Dict) and dict_space_key in env.observation_space.spaces:
            frame_space = env.observation_space.spaces[dict_space_key]
        else:
            raise ValueError(
                f"dict_space_key={dict_space_key!r} is not a key of the observation space {env.observation_space}"
            )
        if not isinstance(frame_space, spaces.Box) or frame_space.dtype != np.uint8:
            raise ValueError(f"WarpFrame needs uint8 image frames (Box), got {frame_space}")
        shape = frame_space.shape
        self._input_is_rgb = len(shape) == 3 and shape[-1] == 3
        if not self._input_is_rgb and not (len(shape) == 2 or (len(shape) == 3 and shape[-1] == 1)):
            raise ValueError(f"WarpFrame needs frames shaped (H, W, 3), (H, W, 1) or (H, W), got {shape}")
        if not grayscale and not self._input_is_rgb:
            raise ValueError(f"grayscale=False needs RGB frames (H, W, 3), got {shape}")

        channels = 1 if grayscale else 3
        warped_space = spaces.Box(low=0, high=255, shape=(self.height, self.width, channels), dtype=np.uint8)
        if dict_space_key is None:
            self.observation_space = warped_space
        else:
            assert isinstance(env.observation_space, spaces.Dict)  # checked above
            self.observation_space = spaces.Dict({**env.observation_space.spaces, dict_space_key: warped_space})

    def observation(self, observation: Any) -> Any:
        """Warp the frame (or the `dict_space_key` entry), leaving the input untouched."""
        if self.dict_space_key is None:
            return self._warp(observation)
        warped = dict(observation)
        warped[self.dict_space_key] = self._warp(observation[self.dict_space_key])
        return warped

    def _warp(self, frame: np.ndarray) -> np.ndarray:
        """RGB -> gray (if asked) -> INTER_AREA resize -> channel-last uint8."""
        if self._input_is_rgb and self.grayscale:
            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        elif frame.ndim == 3 and frame.shape[-1] == 1:
            frame = frame[..., 0]
        frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return frame[..., None] if frame.ndim == 2 else frame


class ClipRewardEnv(gymnasium.RewardWrapper):
    """Replace each reward by its sign (-1.0, 0.0 or 1.0), so one learning rate suits every game."""

    def reward(self, reward: SupportsFloat) -> float:
        """sign(reward) as a Python float."""
        return float(np.sign(float(reward)))


class LazyFrames:
    """The last k frames, kept as separate arrays and concatenated on the channel axis only when asked.

    `frames` holds the per-step arrays (each H x W x C). Consecutive LazyFrames from one FrameStack share
    the same (read-only) array objects, so a replay buffer can store each frame once by reading `frames`.
    Indexing, `len` and `shape` follow the concatenated (H, W, k*C) array, as in baselines.
    """

    __slots__ = ("frames",)

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        if len(frames) == 0:
            raise ValueError("LazyFrames needs at least one frame")
        self.frames: tuple[np.ndarray, ...] = tuple(frames)

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("LazyFrames cannot be viewed without a copy: stacking the frames always makes a new array")
        stacked = np.concatenate(self.frames, axis=-1)
        return stacked if dtype is None else stacked.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> Any:
        return np.asarray(self)[index]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the stacked array: the frame shape with channels summed over frames."""
        first = self.frames[0]
        return (*first.shape[:-1], sum(frame.shape[-1] for frame in self.frames))

    @property
    def dtype(self) -> np.dtype:
        """dtype of the frames (and of the stacked array)."""
        return self.frames[0].dtype

    def count(self) -> int:
        """Number of channels in the stacked array (k for grayscale frames)."""
        return self.shape[-1]

    def frame(self, i: int) -> np.ndarray:
        """Channel `i` of the stacked array (the i-th oldest frame for grayscale)."""
        return np.asarray(self)[..., i]


class FrameStack(gymnasium.Wrapper):
    """Observe the last k frames stacked on the channel axis, as LazyFrames; a reset repeats the first frame k times.

    Each incoming frame is copied once and made read-only, so the frames shared between LazyFrames can't change.
    """

    def __init__(self, env: gymnasium.Env, k: int) -> None:
        super().__init__(env)
        require_int("k", k, minimum=1)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) < 1:
            raise ValueError(f"FrameStack needs a Box observation space with a channel axis, got {space}")
        self.k = int(k)
        self._frames: deque[np.ndarray] = deque(maxlen=self.k)
        self.observation_space = spaces.Box(
            low=np.concatenate([space.low] * self.k, axis=-1),
            high=np.concatenate([space.high] * self.k, axis=-1),
            dtype=space.dtype,
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[LazyFrames, dict[str, Any]]:
        """Reset and fill the stack with k references to the first frame."""
        obs, info = self.env.reset(seed=seed, options=options)
        first = self._frozen(obs)
        for _ in range(self.k):
            self._frames.append(first)
        return LazyFrames(self._frames), info

    def step(self, action: Any) -> tuple[LazyFrames, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and push the new frame, dropping the oldest."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(self._frozen(obs))
        return LazyFrames(self._frames), reward, terminated, truncated, info

    @staticmethod
    def _frozen(obs: np.ndarray) -> np.ndarray:
        """A private read-only copy of `obs`, safe to share between LazyFrames."""
        frame = np.array(obs, copy=True)
        frame.setflags(write=False)
        return frame


class ScaledFloatFrame(gymnasium.ObservationWrapper):
    """uint8 pixels -> float32 in [0, 1]."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"ScaledFloatFrame needs a Box observation space, got {space}")
        self.observation_space = spaces.Box(low=0.0, high=1.0, shape=space.shape, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Divide by 255 in float32."""
        return np.asarray(observation, dtype=np.float32) / np.float32(255.0)


def _atari_spec(env_id: str) -> gymnasium.envs.registration.EnvSpec:
    """The registered spec of an ale-py id; a ValueError with close matches for anything else."""
    gymnasium.register_envs(ale_py)
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error:
        suggestions = _close_atari_ids(env_id)
        did_you_mean = f" Did you mean: {', '.join(map(repr, suggestions))}?" if suggestions else ""
        raise ValueError(
            f"{env_id!r} is not a registered Atari environment id.{did_you_mean} {ID_FORMS_HINT}."
        ) from None
    if spec.entry_point != ATARI_ENTRY_POINT:
        raise ValueError(
            f"{env_id!r} is registered but is not an Atari (ale-py) game (entry point {spec.entry_point!r}); "
            f"make_atari only builds ALE games. {ID_FORMS_HINT}."
        )
    return spec


def make_atari(
    env_id: str,
    max_episode_steps: int | None = None,
    repeat_action_probability: float | None = None,
    render_mode: str | None = None,
    **kwargs: Any,
) -> gymnasium.Env:
    """Make an ALE game at one frame per step, then MaxAndSkipEnv(NoopResetEnv(env, 30), 4) as baselines.

    Takes '<Game>NoFrameskip-v4' and 'ALE/<Game>-v5' ids (v5 ids get frameskip=1). `repeat_action_probability`
    (sticky actions) defaults to the id's own (0.0 for v4, 0.25 for v5). Episodes keep ALE's 108,000-frame
    cap, which ends them with truncated=True. `max_episode_steps`, counted in agent steps of 4 frames (as
    baselines), adds a tighter gymnasium TimeLimit that also truncates. Extra kwargs go to gymnasium.make.
    """
    spec = _atari_spec(env_id)
    make_kwargs = dict(kwargs)
    if spec.namespace == "ALE":
        make_kwargs.setdefault("frameskip", 1)
    frameskip = make_kwargs.get("frameskip", spec.kwargs.get("frameskip", 1))
    if frameskip != 1:
        examples = ", ".join(repr(env_id) for env_id in _ids_for_game(spec.kwargs.get("game")))
        raise ValueError(
            f"{env_id!r} runs frameskip={frameskip} frames per step, but make_atari needs one frame per step "
            f"because MaxAndSkipEnv does the skipping. Use {examples or ID_FORMS_HINT} instead."
        )
    if repeat_action_probability is not None:
        if not 0.0 <= repeat_action_probability <= 1.0:
            raise ValueError(f"repeat_action_probability must lie in [0, 1], got {repeat_action_probability!r}")
        make_kwargs["repeat_action_probability"] = float(repeat_action_probability)

    if max_episode_steps is not None:
        require_int("max_episode_steps", max_episode_steps, minimum=1)
    env = gymnasium.make(env_id, render_mode=render_mode, **make_kwargs)
    env = MaxAndSkipEnv(NoopResetEnv(env, noop_max=30), skip=4)
    if max_episode_steps is not None:
        env = TimeLimit(env, max_episode_steps=int(max_episode_steps))
    return env


def wrap_deepmind(
    env: gymnasium.Env,
    episode_life: bool = True,
    clip_rewards: bool = True,
    frame_stack: bool = False,
    scale: bool = False,
) -> gymnasium.Env:
    """DeepMind's Atari preprocessing, applied innermost first in baselines' order:
    EpisodicLife -> FireReset (if the game has FIRE) -> WarpFrame -> ScaledFloat -> ClipReward -> FrameStack(4).
    FireReset sits outside EpisodicLife, so FIRE is pressed again after every lost life.
    """
    if episode_life:
        env = EpisodicLifeEnv(env)
    if "FIRE" in _action_meanings(env, "wrap_deepmind"):
        env = FireResetEnv(env)
    env = WarpFrame(env)
    if scale:
        env = ScaledFloatFrame(env)
    if clip_rewards:
        env = ClipRewardEnv(env)
    if frame_stack:
        env = FrameStack(env, 4)
    return env
