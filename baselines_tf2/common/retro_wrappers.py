"""baselines' wrappers for retro (Sega Genesis, NES, SNES, ...) games on gymnasium 1.x and stable-retro.

stable-retro, the maintained fork of gym-retro, is an optional dependency (`pip install -e '.[retro]'`): it is
imported only when a retro env is made, so this module imports without it. Its wheel ships one ROM,
Airstriker-Genesis; other games need their ROMs imported with `python -m stable_retro.import <folder>`.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections import deque
from types import ModuleType
from typing import Any, SupportsFloat, cast

import gymnasium
import numpy as np
from gymnasium import spaces

from baselines_tf2.common.atari_wrappers import ClipRewardEnv, FrameStack, ScaledFloatFrame, WarpFrame
from baselines_tf2.common.validation import require_int, require_number
from baselines_tf2.common.wrappers import TimeLimit

__all__ = [
    "StochasticFrameSkip",
    "PartialFrameStack",
    "Downsample",
    "Rgb2gray",
    "MovieRecord",
    "AppendTimeout",
    "StartDoingRandomActionsWrapper",
    "make_retro",
    "wrap_deepmind_retro",
    "SonicDiscretizer",
    "RewardScaler",
    "AllowBacktracking",
    "import_retro",
    "retro_game_id",
    "retro_game_names",
    "check_retro_game",
]

RETRO_INSTALL_HINT = "pip install -e '.[retro]' (or pip install 'baselines_tf2[retro]')"
ROM_IMPORT_HINT = "python -m stable_retro.import <folder with your ROMs>"
GENESIS_BUTTONS = ["B", "A", "MODE", "START", "UP", "DOWN", "LEFT", "RIGHT", "C", "Y", "X", "Z"]


def import_retro() -> ModuleType:
    """The stable_retro module; an ImportError naming the `retro` extra when it is not installed."""
    try:
        import stable_retro
    except ImportError as err:
        raise ImportError(f"retro games need stable-retro, which is not installed: {RETRO_INSTALL_HINT}") from err
    return stable_retro


def _all_integrations(retro: ModuleType) -> Any:
    """stable-retro's stable, contrib and experimental game integrations together."""
    return retro.data.Integrations.ALL


def _game_versions(retro: ModuleType, game: str, inttype: Any) -> list[str]:
    """stable-retro's names of `game` with a version suffix ('Airstriker-Genesis' -> ['Airstriker-Genesis-v0'])."""
    pattern = re.compile(re.escape(game) + r"-v(\d+)")
    matches = [name for name in retro.data.list_games(inttype) if pattern.fullmatch(name)]
    return sorted(matches, key=lambda name: int(name.rsplit("-v", 1)[1]))


def retro_game_names() -> list[str]:
    """The games stable-retro has integrations for, by baselines' names ('Airstriker-Genesis'); [] without it."""
    try:
        retro = import_retro()
    except ImportError:
        return []
    return sorted({re.sub(r"-v\d+$", "", name) for name in retro.data.list_games(_all_integrations(retro))})


def retro_game_id(game: str, inttype: Any = None) -> str | None:
    """stable-retro's name of `game`, or None if stable-retro is not installed or has no such game.

    baselines' ids ('SonicTheHedgehog-Genesis') are accepted beside stable-retro 1.0's versioned names
    ('SonicTheHedgehog-Genesis-v0'); the newest version wins. `inttype` defaults to all integrations.
    """
    try:
        retro = import_retro()
    except ImportError:
        return None
    inttype = _all_integrations(retro) if inttype is None else inttype
    if retro.data.get_file_path(game, "rom.sha", inttype):
        return game
    versions = _game_versions(retro, game, inttype)
    return versions[-1] if versions else None


def _state_file(state: str) -> str | None:
    """The absolute path of save-state file `state` ('.state' may be left out), or None if there is no such file."""
    path = state if state.endswith(".state") else state + ".state"
    # stable-retro joins the state's name to the game's folder, which keeps only an absolute path as it is
    return os.path.abspath(path) if os.path.isfile(path) else None


def _check_state(retro: ModuleType, name: str, state: Any, inttype: Any) -> None:
    """Refuse a save state the game does not have (stable-retro would fail on it with a TypeError)."""
    if isinstance(state, retro.State):
        return  # State.DEFAULT (the game's default state) or State.NONE (power-on)
    if not isinstance(state, str):
        raise ValueError(f"a retro state is a state name, the path of a .state file or a stable_retro.State, "
                         f"got {state!r}")
    if _state_file(state) is not None:
        return
    states = retro.data.list_states(name, inttype)
    if state.removesuffix(".state") not in states:
        raise ValueError(f"retro game {name!r} has no state {state!r}; its states: {', '.join(states) or 'none'} "
                         "(or give the path of a .state file)")


def check_retro_game(game: str, state: Any = None, inttype: Any = None) -> str:
    """stable-retro's name of `game` after checking that it is installed, knows the game, has its ROM and `state`.

    Raises ImportError (stable-retro missing), ValueError (unknown game or state, or a game without its ROM).
    """
    retro = import_retro()
    inttype = _all_integrations(retro) if inttype is None else inttype
    name = retro_game_id(game, inttype)
    if name is None:
        close = difflib.get_close_matches(game, retro_game_names(), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown retro game {game!r}{hint}")
    try:
        retro.data.get_romfile_path(name, inttype)
    except FileNotFoundError:
        raise ValueError(f"stable-retro has no ROM for {game!r} (its wheel ships Airstriker-Genesis only); import "
                         f"yours with: {ROM_IMPORT_HINT}") from None
    if state is not None:
        _check_state(retro, name, state, inttype)
    return name


class StochasticFrameSkip(gymnasium.Wrapper):
    """Repeat each action `n` frames, summing rewards; with probability `stickprob` the previous action stays
    for the first frame (sticky actions, as baselines). `reset(seed=)` seeds the stickiness (`seed(s)` too).

    gym-retro's `step(want_render=False)` for the skipped frames is not used: stable-retro's step has no such
    argument (it renders only in render_mode 'human').
    """

    def __init__(self, env: gymnasium.Env, n: int, stickprob: float) -> None:
        super().__init__(env)
        require_int("n", n, minimum=1)
        require_number("stickprob", stickprob, at_least=0.0, at_most=1.0)
        self.n = n
        self.stickprob = stickprob
        self.curac: Any = None
        self.rng = np.random.default_rng()

    def seed(self, s: int | None) -> None:
        """Seed the generator of the sticky actions (baselines' method)."""
        self.rng = np.random.default_rng(s)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset; the next step starts with its own action."""
        self.curac = None
        if seed is not None:
            self.seed(seed)
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Up to `n` frames; the new action surely acts from the second frame on."""
        total_reward = 0.0
        for frame in range(self.n):
            if self.curac is None:  # first step after a reset: nothing to stick to
                self.curac = action
            elif frame == 0:
                if self.rng.random() > self.stickprob:
                    self.curac = action
            elif frame == 1:
                self.curac = action
            obs, reward, terminated, truncated, info = self.env.step(self.curac)
            total_reward += float(reward)
            if terminated or truncated:
                break
        return obs, total_reward, terminated, truncated, info


class PartialFrameStack(gymnasium.Wrapper):
    """The newest frame whole, preceded by channel `channel` of each of the `k - 1` frames before it
    (shape (H, W, C + k - 1)); a reset repeats the first frame."""

    def __init__(self, env: gymnasium.Env, k: int, channel: int = 1) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 3:
            raise ValueError(f"PartialFrameStack needs (H, W, C) image frames, got {space}")
        height, width, channels = space.shape
        require_int("k", k, minimum=1)
        require_int("channel", channel, minimum=0)
        if channel >= channels:
            raise ValueError(f"channel must be < {channels} for frames of {channels} channels, got {channel}")
        self.k = k
        self.channel = channel
        self.frames: deque[np.ndarray] = deque(maxlen=k)
        self.observation_space = spaces.Box(low=0, high=255, shape=(height, width, channels + k - 1),
                                            dtype=cast(Any, space.dtype))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset and fill the stack with the first frame."""
        obs, info = self.env.reset(seed=seed, options=options)
        for _ in range(self.k):
            self.frames.append(obs)
        return self._get_ob(), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and push the new frame."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return self._get_ob(), reward, terminated, truncated, info

    def _get_ob(self) -> np.ndarray:
        older = [frame[:, :, self.channel:self.channel + 1] for frame in list(self.frames)[:-1]]
        return np.concatenate([*older, self.frames[-1]], axis=2)


class Downsample(WarpFrame):
    """Shrink (H, W, C) frames to (H // ratio, W // ratio, C) by area averaging (WarpFrame's resize); C is 1 or 3."""

    def __init__(self, env: gymnasium.Env, ratio: int) -> None:
        shape = env.observation_space.shape
        if shape is None or len(shape) != 3 or shape[2] not in (1, 3):
            raise ValueError(f"Downsample needs (H, W, 1) or (H, W, 3) frames, got {env.observation_space}")
        require_int("ratio", ratio, minimum=1)
        if ratio > min(shape[0], shape[1]):
            raise ValueError(f"ratio {ratio} leaves no pixel of frames of {shape[0]}x{shape[1]}")
        super().__init__(env, width=shape[1] // ratio, height=shape[0] // ratio, grayscale=shape[2] == 1)


class Rgb2gray(WarpFrame):
    """RGB frames (H, W, 3) -> grayscale (H, W, 1) uint8, at the same size (WarpFrame's conversion)."""

    def __init__(self, env: gymnasium.Env) -> None:
        shape = env.observation_space.shape
        if shape is None or len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"Rgb2gray needs RGB frames (H, W, 3), got {env.observation_space}")
        super().__init__(env, width=shape[1], height=shape[0], grayscale=True)


class MovieRecord(gymnasium.Wrapper):
    """Record every `k`-th episode (the first, then k + 1, ...) as a stable-retro .bk2 movie in `savedir`.

    Needs a retro env: movies are stable-retro's input recordings (`RetroEnv.movie_path` / `movie`).
    """

    def __init__(self, env: gymnasium.Env, savedir: str, k: int) -> None:
        super().__init__(env)
        if not hasattr(env.unwrapped, "movie_path"):
            raise ValueError(f"MovieRecord records stable-retro movies; it needs a retro env, got {env.unwrapped!r}")
        require_int("k", k, minimum=1)
        self.savedir = savedir
        self.k = k
        self.epcount = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, recording the new episode if its number is a multiple of `k`."""
        retro_env: Any = self.env.unwrapped
        if self.epcount % self.k == 0:
            retro_env.movie_path = self.savedir
        else:
            retro_env.movie_path = None
            if retro_env.movie is not None:  # closing flushes the last recorded episode to its file
                retro_env.movie.close()
            retro_env.movie = None
        self.epcount += 1
        return self.env.reset(seed=seed, options=options)


class AppendTimeout(gymnasium.Wrapper):
    """Add the fraction of the time limit left, 'value_estimation_timeout' in [0, 1], to the observation.

    A Dict observation gets the key added; any other becomes {'original': obs, 'value_estimation_timeout': ...}.
    The limit is read from the TimeLimit wrapper below (its `_max_episode_steps`), as baselines.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.timeout_space = spaces.Box(low=0.0, high=1.0, shape=(1,), dtype=np.float32)
        self.original_os = env.observation_space
        if isinstance(self.original_os, spaces.Dict):
            entries = copy.deepcopy(self.original_os.spaces)
            entries["value_estimation_timeout"] = self.timeout_space
            self.observation_space = spaces.Dict(entries)
            self.dict_mode = True
        else:
            self.observation_space = spaces.Dict(
                {"original": self.original_os, "value_estimation_timeout": self.timeout_space}
            )
            self.dict_mode = False
        self.ac_count = 0
        inner: gymnasium.Env = env
        while getattr(inner, "_max_episode_steps", None) is None:
            if not isinstance(inner, gymnasium.Wrapper):
                raise ValueError("AppendTimeout needs a time limit below it (a TimeLimit wrapper with "
                                 "max_episode_steps, e.g. make_retro's)")
            inner = inner.env
        self.timeout: int = cast(Any, inner)._max_episode_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the step count with the env."""
        self.ac_count = 0
        obs, info = self.env.reset(seed=seed, options=options)
        return self._process(obs), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and count."""
        self.ac_count += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._process(obs), reward, terminated, truncated, info

    def _process(self, obs: Any) -> dict[str, Any]:
        fraction_left = np.array([1.0 - self.ac_count / self.timeout], dtype=np.float32)
        if self.dict_mode:  # baselines returned None here; the observation is what the space promises
            return {**obs, "value_estimation_timeout": fraction_left}
        return {"original": obs, "value_estimation_timeout": fraction_left}


class StartDoingRandomActionsWrapper(gymnasium.Wrapper):
    """Start play after a random number (below `max_random_steps`) of random actions, as baselines.

    As there, `reset()` does not restart the game: it returns where the random actions (or the last episode's
    end) left it, and `step` restarts the game itself when an episode ends, returning the new episode's first
    observation with the end's flags and info (so it can eat info dicts). A seeded reset really restarts, with
    new random actions if `on_startup` or `every_episode`. The draws come from the env's np_random and the
    action space's generator.
    """

    def __init__(
        self, env: gymnasium.Env, max_random_steps: int, on_startup: bool = True, every_episode: bool = False
    ) -> None:
        super().__init__(env)
        require_int("max_random_steps", max_random_steps, minimum=1)
        self.on_startup = on_startup
        self.every_episode = every_episode
        self.random_steps = max_random_steps
        self.last_obs: Any = None
        self._last_info: dict[str, Any] = {}
        if on_startup:
            self.some_random_steps()

    def some_random_steps(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Reset the game, then act at random for a count drawn in [0, max_random_steps)."""
        self.last_obs, self._last_info = self.env.reset(seed=seed, options=options)
        for _ in range(int(self.np_random.integers(self.random_steps))):
            self.last_obs, _, terminated, truncated, self._last_info = self.env.step(self.env.action_space.sample())
            if terminated or truncated:
                self.last_obs, self._last_info = self.env.reset()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """The current observation; a seeded (or first) reset restarts the game first."""
        if seed is not None or self.last_obs is None:
            if self.on_startup or self.every_episode:
                self.some_random_steps(seed, options)
            else:
                self.last_obs, self._last_info = self.env.reset(seed=seed, options=options)
        return self.last_obs, self._last_info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; at an episode's end restart the game (with random actions if `every_episode`)."""
        self.last_obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            if self.every_episode:
                self.some_random_steps()
            else:
                self.last_obs, self._last_info = self.env.reset()
        return self.last_obs, reward, terminated, truncated, info


def make_retro(*, game: str, state: Any = None, max_episode_steps: int | None = 4500, **kwargs: Any) -> gymnasium.Env:
    """A retro game as baselines makes it: StochasticFrameSkip(n=4, stickprob=0.25), then a TimeLimit.

    `state` None is the game's default save state. `kwargs` go to `stable_retro.make` (`use_restricted_actions`,
    `scenario`, `inttype`, ...); unlike there, `render_mode` defaults to None (stable-retro's default, 'human',
    opens a window) and `inttype` to all integrations. Raises ImportError without stable-retro, ValueError for
    an unknown game or state or a missing ROM, RuntimeError if this process already runs a retro emulator.
    """
    retro = import_retro()
    kwargs.setdefault("render_mode", None)
    inttype = kwargs.setdefault("inttype", _all_integrations(retro))
    name = check_retro_game(game, state, inttype)
    if state is None:
        state = retro.State.DEFAULT
    elif isinstance(state, str):
        state = _state_file(state) or state
    try:
        env = retro.make(name, state, **kwargs)
    except RuntimeError as err:
        if "multiple emulator" not in str(err):
            raise
        raise RuntimeError("a process runs one retro emulator at a time, and this one already has one: close "
                           "that env first, or run each retro env in its own process (SubprocVecEnv; make_vec_env "
                           "does so for retro envs)") from None
    env = StochasticFrameSkip(env, n=4, stickprob=0.25)
    if max_episode_steps is not None:
        env = TimeLimit(env, max_episode_steps=max_episode_steps)
    return env


def wrap_deepmind_retro(env: gymnasium.Env, scale: bool = True, frame_stack: int = 4) -> gymnasium.Env:
    """DeepMind-style preprocessing for retro games: 84x84 grayscale, rewards clipped to their sign, `frame_stack`
    frames stacked (if > 1), pixels scaled to [0, 1] float32 (if `scale`)."""
    env = WarpFrame(env)
    env = ClipRewardEnv(env)
    if frame_stack > 1:
        env = FrameStack(env, frame_stack)
    if scale:
        env = ScaledFloatFrame(env)
    return env


class SonicDiscretizer(gymnasium.ActionWrapper):
    """Sonic's 7 useful button combinations as a Discrete action space, for a Genesis game made with stable-retro's
    default (filtered, MultiBinary(12)) actions."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        buttons = getattr(env.unwrapped, "buttons", None)
        if buttons is not None and list(buttons) != GENESIS_BUTTONS:
            raise ValueError(f"SonicDiscretizer needs a Genesis game (buttons {GENESIS_BUTTONS}), got buttons "
                             f"{list(buttons)}")
        if env.action_space != spaces.MultiBinary(len(GENESIS_BUTTONS)):
            raise ValueError(f"SonicDiscretizer needs MultiBinary({len(GENESIS_BUTTONS)}) button actions (make the "
                             f"game without use_restricted_actions), got {env.action_space}")
        combos = [["LEFT"], ["RIGHT"], ["LEFT", "DOWN"], ["RIGHT", "DOWN"], ["DOWN"], ["DOWN", "B"], ["B"]]
        self._actions = []
        for combo in combos:
            pressed = np.zeros(len(GENESIS_BUTTONS), dtype=bool)
            for button in combo:
                pressed[GENESIS_BUTTONS.index(button)] = True
            self._actions.append(pressed)
        self.action_space = spaces.Discrete(len(self._actions))

    def action(self, action: int) -> np.ndarray:
        """The buttons of combination `action`."""
        return self._actions[int(action)].copy()


class RewardScaler(gymnasium.RewardWrapper):
    """Multiply rewards by `scale`; small rewards matter a lot to PPO (baselines' --reward_scale uses it too)."""

    def __init__(self, env: gymnasium.Env, scale: float = 0.01) -> None:
        super().__init__(env)
        self.scale = scale

    def reward(self, reward: SupportsFloat) -> float:
        """reward * scale."""
        # gymnasium types rewards as SupportsFloat; envs give Python or NumPy numbers, scaled here as they come
        return cast(float, reward) * self.scale


class AllowBacktracking(gymnasium.Wrapper):
    """Reward progress beyond the best point reached (deltas of max(x)) instead of every move (deltas of x), so
    going back to find another way costs nothing; x is the running sum of the env's rewards."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._cur_x = 0.0
        self._max_x = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the position and the best one."""
        self._cur_x = 0.0
        self._max_x = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; the reward is how far the best position moved."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._cur_x += float(reward)
        progress = max(0.0, self._cur_x - self._max_x)
        self._max_x = max(self._max_x, self._cur_x)
        return obs, progress, terminated, truncated, info
