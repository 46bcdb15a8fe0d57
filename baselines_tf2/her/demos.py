"""Demonstration episodes for HER's learning from demonstrations (baselines' `demo_file`, Nair et al. 2018), in a
data-only file format. No TensorFlow here.

baselines' `her/experiment/data_generation/fetch_data_generation.py` saved lists of dicts with `np.savez`, so its
files were pickles (`np.load(..., allow_pickle=True)`), and loading a pickle can run any code it names. Ours is an
`.npz` (a zip of `.npy` arrays, as `np.savez` writes it) of numeric arrays only, read with `allow_pickle=False`:

| entry | shape | dtype | what |
|---|---|---|---|
| `observation` | [N, T+1, do] | float | the Dict observation's 'observation' at steps 0..T (do: its flat size) |
| `achieved_goal` | [N, T+1, dg] | float | 'achieved_goal' at steps 0..T |
| `desired_goal` | [N, T, dg] | float | 'desired_goal' at steps 0..T-1 (fixed within an episode in goal envs) |
| `actions` | [N, T, da] | float | the actions in env units as the env received them (within its bounds) |
| `is_success` | [N, T] | float | optional: `info['is_success']` after each step |
| `format` | [1] | integer | the format version, `FORMAT_VERSION` (1) |

N episodes of T steps each, all of the same length (HER plays episodes of the env's `max_episode_steps`); the goal
env's spaces give do, dg and da. `save_demos` writes it (float32, atomically), `load_demos` checks a file against
the env's spaces before reading any array, and `demo_steps` replays the episodes step by step for a replay buffer.
`python -m baselines_tf2.her.experiment.data_generation.record_demos` records episodes of a trained policy.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from typing import Any, BinaryIO, Iterator, Mapping, NamedTuple

import gymnasium
import numpy as np

from baselines_tf2.common.atomic_io import atomic_write
from baselines_tf2.common.validation import require_int
from baselines_tf2.off_policy.goals import describe_goal_space_problem, goal_sizes, is_goal_space

FORMAT_VERSION = 1
REQUIRED_KEYS = ("observation", "achieved_goal", "desired_goal", "actions")
OPTIONAL_KEYS = ("is_success",)
DATA_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
FORMAT_KEY = "format"
# steps each entry holds: T plus this (observations and achieved goals include the state after the last action)
EXTRA_STEPS = {"observation": 1, "achieved_goal": 1, "desired_goal": 0, "actions": 0, "is_success": 0}
FEATURE_NAMES = {"observation": "do", "achieved_goal": "dg", "desired_goal": "dg", "actions": "da"}
MAX_DEMO_BYTES = 1 << 30  # declared data over all arrays; 100 FetchPickAndPlace demos take 0.7 MB
ACTION_BOUND_TOLERANCE = 1e-5  # of the action range: float32 rounding of recorded actions at the bounds
CONVERT_HINT = ("record demonstrations again with "
                "`python -m baselines_tf2.her.experiment.data_generation.record_demos`, "
                "or convert the old file once, in a process you trust with it, to numeric arrays with "
                "baselines_tf2.her.demos.save_demos (docs/api/her.md, 'Demonstrations', shows how)")


class DemoStep(NamedTuple):
    """One step of a demonstration, shaped as one env of a VecEnv step (batch of 1)."""

    obs0: dict[str, np.ndarray]  # the Dict observation before the action, each entry [1, size]
    actions: np.ndarray  # [1, da] in [-1, 1] (the learners' units)
    obs1: dict[str, np.ndarray]  # the Dict observation after it
    done: np.ndarray  # [1] bool: the episode's last step (a time limit, not a terminal state)


def save_demos(path: str | os.PathLike[str], episodes: Mapping[str, Any]) -> None:
    """Check `episodes` (the format's entries, without `format`) and write them to `path` as float32, atomically."""
    _require_entries(episodes, "demo episodes")
    arrays: dict[str, np.ndarray] = {}
    for key, value in episodes.items():
        array = np.asarray(value)
        if array.dtype.hasobject or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise ValueError(f"demo entry {key!r} must be numeric, got dtype {array.dtype} (Python objects would "
                             "make the file a pickle)")
        if np.issubdtype(array.dtype, np.complexfloating):
            raise ValueError(f"demo entry {key!r} must be real, got dtype {array.dtype}")
        arrays[key] = np.ascontiguousarray(array, dtype=np.float32)
        _require_finite(key, arrays[key], "the demo episodes")
    _episode_counts({key: array.shape for key, array in arrays.items()}, "the demo episodes")
    arrays[FORMAT_KEY] = np.array([FORMAT_VERSION], np.int64)
    atomic_write(path, lambda file: np.savez(file, **arrays))  # type: ignore[arg-type]


def load_demos(path: str | os.PathLike[str], observation_space: gymnasium.spaces.Dict, action_space: gymnasium.Space,
               num_demo: int, *, max_bytes: int = MAX_DEMO_BYTES) -> dict[str, np.ndarray]:
    """The first `num_demo` episodes of the demo file at `path` (all of them if it holds fewer: check
    `len(demos['actions'])`), as float32 arrays under the format's keys (`is_success` only if the file has it).

    Everything is checked against the goal env's `observation_space` and `action_space` (a Dict and a bounded Box)
    from the `.npy` headers, before any array is read: the entries and their dtypes, the format version, the shapes
    (the same N and T throughout), and the declared size (at most `max_bytes` in all, and what each zip member
    holds). Then the values must be finite and the actions within the action space's bounds. Any problem, a
    pickled file (baselines' demo files) or a truncated or corrupt one, raises ValueError.
    """
    num_demo = require_int("num_demo", num_demo, minimum=1)
    _require_goal_space(observation_space)
    low, high = _action_bounds(action_space)
    where = os.fspath(path)
    with open(os.path.expanduser(where), "rb") as file:  # ~ is the home folder, as in checkpoint paths
        archive = _open_zip(file, where)
        with archive:
            headers = _read_headers(archive, where)
            _check_entries(headers, where)
            version = int(_read_array(archive, headers[FORMAT_KEY].member, where).reshape(-1)[0])
            if version != FORMAT_VERSION:
                raise ValueError(f"{where} has demo format version {version}; this baselines_tf2 reads version "
                                 f"{FORMAT_VERSION}")
            keys = _check_data_headers(headers, where, observation_space, action_space, max_bytes)
            loaded = {key: _read_array(archive, headers[key].member, where) for key in keys}
    demos: dict[str, np.ndarray] = {}
    for key, array in loaded.items():
        demos[key] = np.ascontiguousarray(array[:num_demo], dtype=np.float32)
        _require_finite(key, demos[key], where)
    tolerance = ACTION_BOUND_TOLERANCE * (high - low)
    outside = (demos["actions"] < low - tolerance) | (demos["actions"] > high + tolerance)
    if outside.any():
        episode, step, _ = (int(index[0]) for index in np.nonzero(outside))
        raise ValueError(f"{where}: actions must be in env units within the action space's bounds [{low}, {high}]; "
                         f"episode {episode} step {step} has {demos['actions'][episode, step]}")
    return demos


def demo_steps(demos: Mapping[str, np.ndarray], action_space: gymnasium.Space) -> Iterator[DemoStep]:
    """Replay `demos` (as `load_demos` returns them) step by step, episode after episode, as a VecEnv of one env
    would have played them: the actions scaled from the env's [low, high] to [-1, 1], `done` at each last step."""
    _require_entries(demos, "demos")
    number, steps = _episode_counts({key: np.shape(value) for key, value in demos.items()}, "the demos")
    low, high = _action_bounds(action_space)
    # the inverse of the agents' scale_actions: low + (unit + 1) / 2 * (high - low)
    unit = np.clip(2.0 * (np.asarray(demos["actions"], np.float32) - low) / (high - low) - 1.0, -1.0, 1.0)
    observation, achieved, desired = (np.asarray(demos[key], np.float32) for key in REQUIRED_KEYS[:3])
    for episode in range(number):
        for step in range(steps):
            yield DemoStep(
                obs0={"observation": observation[episode, step][None], "achieved_goal": achieved[episode, step][None],
                      "desired_goal": desired[episode, step][None]},
                actions=unit[episode, step][None],
                obs1={"observation": observation[episode, step + 1][None],
                      "achieved_goal": achieved[episode, step + 1][None],
                      "desired_goal": desired[episode, step][None]},  # the goal an episode pursues does not change
                done=np.array([step == steps - 1]),
            )


# ---- checks -------------------------------------------------------------------------------------------------


def _require_entries(entries: Mapping[str, Any], what: str) -> None:
    """`entries` has the format's data entries and no others."""
    unknown = sorted(set(entries) - set(DATA_KEYS))
    missing = [key for key in REQUIRED_KEYS if key not in entries]
    if unknown or missing:
        raise ValueError(f"{what} need the entries {', '.join(REQUIRED_KEYS)} and may have "
                         f"{', '.join(OPTIONAL_KEYS)}; missing {missing}, unknown {unknown}")


def _episode_counts(shapes: Mapping[str, tuple[int, ...]], where: str) -> tuple[int, int]:
    """(N, T) of entries with these shapes, read from `actions`, once every entry agrees with them."""
    actions = shapes["actions"]
    if len(actions) != 3 or actions[0] < 1 or actions[1] < 1:
        raise ValueError(f"{where}: actions must be [N, T, da] with at least one episode of at least one step, "
                         f"got shape {tuple(actions)}")
    number, steps = actions[0], actions[1]
    for key, shape in shapes.items():
        layout = [str(number), "T+1" if EXTRA_STEPS[key] else "T"] + ([FEATURE_NAMES[key]] if key in FEATURE_NAMES
                                                                     else [])
        expected_steps = steps + EXTRA_STEPS[key]
        if len(shape) != len(layout) or shape[0] != number or shape[1] != expected_steps:
            raise ValueError(f"{where}: {key} must be [{', '.join(layout)}] with N={number} and T={steps} (from "
                             f"actions), got shape {tuple(shape)}")
    if shapes["achieved_goal"][2] != shapes["desired_goal"][2]:
        raise ValueError(f"{where}: achieved_goal and desired_goal must have the same size dg, got "
                         f"{shapes['achieved_goal'][2]} and {shapes['desired_goal'][2]}")
    return number, steps


def _check_against_spaces(shapes: Mapping[str, tuple[int, ...]], observation_space: gymnasium.spaces.Dict,
                          action_space: gymnasium.Space, where: str) -> None:
    """The feature sizes of the entries are those of the env's spaces."""
    observation_size, goal_size = goal_sizes(observation_space)
    expected = {"observation": observation_size, "achieved_goal": goal_size, "desired_goal": goal_size,
                "actions": math.prod(action_space.shape or ())}
    for key, size in expected.items():
        if shapes[key][2] != size:
            raise ValueError(f"{where}: {key} has {shapes[key][2]} values per step, but the env's "
                             f"{'action space' if key == 'actions' else key} has {size}; were these demos recorded "
                             "on another env?")


def _require_goal_space(space: gymnasium.Space) -> None:
    if not is_goal_space(space):
        raise ValueError(f"demonstrations are for goal envs: {describe_goal_space_problem(space)}")


def _action_bounds(action_space: gymnasium.Space) -> tuple[np.ndarray, np.ndarray]:
    """The flat (low, high) of a Box action space with finite bounds, low < high."""
    if not isinstance(action_space, gymnasium.spaces.Box):
        raise ValueError(f"demonstrations need a Box action space, got {action_space}")
    low = np.asarray(action_space.low, np.float32).reshape(-1)
    high = np.asarray(action_space.high, np.float32).reshape(-1)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
        raise ValueError(f"demonstrations' actions are scaled to [-1, 1] by the action space's bounds, which must be "
                         f"finite with low < high: {action_space}")
    return low, high


def _require_finite(key: str, array: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(array)):
        index = tuple(int(i[0]) for i in np.nonzero(~np.isfinite(array)))
        raise ValueError(f"{where}: {key} must be finite, but holds {array[index]} at index {index}")


# ---- reading the zip without trusting it ---------------------------------------------------------------------


class _Header(NamedTuple):
    """An `.npy` member's declared array."""

    member: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


def _open_zip(file: BinaryIO, where: str) -> zipfile.ZipFile:
    """The zip of an `.npz`, or ValueError saying what the file is instead."""
    start = file.read(6)
    file.seek(0)
    if start[:1] == b"\x80":  # pickle protocol 2 and later
        raise ValueError(f"{where} is a pickle: pickled demo files are refused (loading one can run any code); "
                         + CONVERT_HINT)
    if start == b"\x93NUMPY":
        raise ValueError(f"{where} is a single .npy array; demo files are .npz archives of several arrays "
                         "(baselines_tf2.her.demos describes them)")
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{where} is not an .npz demo file, or it is truncated or corrupt ({err})") from None


def _read_headers(archive: zipfile.ZipFile, where: str) -> dict[str, _Header]:
    """Each member's declared array, from its `.npy` header only; the member must hold exactly that much data."""
    members = archive.infolist()
    names = [member.filename for member in members]
    if len(set(names)) != len(names):
        raise ValueError(f"{where} names a zip member twice; it was not written by np.savez")
    headers: dict[str, _Header] = {}
    for member in members:
        if not member.filename.endswith(".npy"):
            raise ValueError(f"{where} holds {member.filename!r}, which is not an .npy array of an .npz demo file")
        try:
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:  # 3.0 only differs for structured dtypes with non-latin-1 field names, never numeric data
                    raise ValueError(f"npy format version {version} is not read here (1.0 and 2.0 are)")
                data_offset = stream.tell()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as err:
            raise ValueError(f"{where}: member {member.filename!r} is not a readable .npy array, or the file is "
                             f"truncated or corrupt ({err})") from None
        key = member.filename[:-len(".npy")]
        if dtype.hasobject:
            raise ValueError(f"{where}: entry {key!r} holds Python objects (dtype {dtype}), as baselines' "
                             "fetch_data_generation.py wrote them: pickled demo files are refused (loading one can "
                             "run any code); " + CONVERT_HINT)
        declared = math.prod(shape) * dtype.itemsize
        if member.file_size != data_offset + declared:  # a header that lies about its data, or a cut-off member
            raise ValueError(f"{where}: entry {key!r} declares shape {shape} of {dtype} ({declared} bytes), but its "
                             f"zip member holds {member.file_size - data_offset} bytes of data")
        headers[key] = _Header(member, tuple(shape), dtype)
    return headers


def _check_entries(headers: Mapping[str, _Header], where: str) -> None:
    """The file has the format's entries and a one-integer format version."""
    unknown = sorted(set(headers) - set(DATA_KEYS) - {FORMAT_KEY})
    missing = [key for key in (*REQUIRED_KEYS, FORMAT_KEY) if key not in headers]
    if unknown or missing:
        raise ValueError(f"{where} is not a baselines_tf2 demo file: it needs the entries "
                         f"{', '.join((*REQUIRED_KEYS, FORMAT_KEY))} and may have {', '.join(OPTIONAL_KEYS)}; "
                         f"missing {missing}, unknown {unknown}")
    version = headers[FORMAT_KEY]
    if version.dtype.kind not in "iu" or math.prod(version.shape) != 1:
        raise ValueError(f"{where}: the format entry must be one integer, got shape {version.shape} of "
                         f"{version.dtype}")


def _check_data_headers(headers: Mapping[str, _Header], where: str, observation_space: gymnasium.spaces.Dict,
                        action_space: gymnasium.Space, max_bytes: int) -> list[str]:
    """The data entries to read, once their declared dtypes, shapes and sizes are all acceptable."""
    keys = [key for key in DATA_KEYS if key in headers]
    for key in keys:
        if headers[key].dtype.kind != "f":
            raise ValueError(f"{where}: {key} must hold floats, got dtype {headers[key].dtype}")
    shapes = {key: headers[key].shape for key in keys}
    _episode_counts(shapes, where)
    _check_against_spaces(shapes, observation_space, action_space, where)
    declared = sum(headers[key].member.file_size for key in keys)
    if declared > max_bytes:
        raise ValueError(f"{where} declares {declared} bytes of demonstrations, more than max_bytes={max_bytes}")
    return keys


def _read_array(archive: zipfile.ZipFile, member: zipfile.ZipInfo, where: str) -> np.ndarray:
    """A member whose header has been checked, read without unpickling."""
    try:
        with archive.open(member) as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as err:
        raise ValueError(f"{where}: member {member.filename!r} cannot be read; the file is truncated or corrupt "
                         f"({err})") from None
