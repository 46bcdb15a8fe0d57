"""baselines' `common.misc_util`: small helpers for scripts (no TensorFlow at import).

`relatively_safe_pickle_dump` and `pickle_load` are kept as names only: they raise, naming the formats to use
instead, because baselines_tf2 never unpickles (a pickle runs code when loaded).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import gymnasium
import numpy as np

PICKLE_ALTERNATIVES = (
    "save arrays with numpy.savez / numpy.load(allow_pickle=False), settings with json, files atomically with "
    "baselines_tf2.common.atomic_io.atomic_write_bytes, and models with model.save / learn(load_path=...)"
)


def zipsame(*seqs: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """zip() of sequences that must all have the same length (ValueError otherwise)."""
    lengths = [len(seq) for seq in seqs]
    if len(set(lengths)) > 1:
        raise ValueError(f"zipsame needs sequences of one length, got lengths {lengths}")
    return zip(*seqs)


def unpack(seq: Iterable[Any], sizes: Sequence[int | None]) -> Iterator[Any]:
    """Split `seq` into lists of the given `sizes`; a size of None yields one bare element.

    unpack([1, 2, 3, 4, 5, 6], [3, None, 2]) -> [1, 2, 3], 4, [5, 6].
    """
    items = list(seq)
    wanted = sum(1 if size is None else size for size in sizes)
    if wanted != len(items):
        raise ValueError(f"cannot unpack {len(items)} items into sizes {list(sizes)} ({wanted} items)")
    position = 0
    for size in sizes:
        if size is None:
            yield items[position]
            position += 1
        else:
            yield items[position:position + size]
            position += size


class EzPickle:
    """Mixin recording the constructor's arguments, so that a copy (pickle, deepcopy) is rebuilt from them.

    Call `EzPickle.__init__(self, *args, **kwargs)` with the arguments of your own `__init__`. Useful for envs that
    wrap C code (MuJoCo, ALE), whose state cannot be copied; cloudpickle uses it when it sends an env to a worker.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ezpickle_args = args
        self._ezpickle_kwargs = kwargs

    def __getstate__(self) -> dict[str, Any]:
        return {"_ezpickle_args": self._ezpickle_args, "_ezpickle_kwargs": self._ezpickle_kwargs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        rebuilt = type(self)(*state["_ezpickle_args"], **state["_ezpickle_kwargs"])
        self.__dict__.update(rebuilt.__dict__)


def set_global_seeds(i: int | None) -> None:
    """Seed Python's `random` and NumPy with `i + 1000 * MPI rank`, and TensorFlow too if it is already imported.

    Importing TensorFlow here would cost env-side code seconds (and TensorFlow's threads); code that builds
    networks has imported it already, and `learn(seed=...)` seeds it itself. After a later `import tensorflow`,
    seed it with `baselines_tf2.common.tf_util.set_global_seeds`.
    """
    # deferred: the logger imports from this package, whose __init__ imports this module
    from baselines_tf2.logger import mpi_rank_from_environment

    rank = mpi_rank_from_environment()
    seed = None if i is None else i + 1000 * rank
    random.seed(seed)
    np.random.seed(seed)
    if seed is not None and "tensorflow" in sys.modules:
        from baselines_tf2.nn.tf_util import set_global_seeds as seed_tensorflow

        seed_tensorflow(seed)


def seeded_generator(seed: int | None = None) -> np.random.Generator:
    """A NumPy Generator seeded with `seed`, or else from NumPy's global generator, so code seeded the baselines way
    (`np.random.seed`, `set_global_seeds`) repeats as baselines' draws from the global generator did."""
    return np.random.default_rng(np.random.randint(2**31 - 1) if seed is None else seed)


def pretty_eta(seconds_left: float) -> str:
    """Seconds as a readable estimate: '2 days and 3 hours', '2 hours and 37 minutes', 'less than a minute'."""
    minutes_left, _ = divmod(int(seconds_left), 60)
    hours_left, minutes_left = divmod(minutes_left, 60)
    days_left, hours_left = divmod(hours_left, 24)

    def count(value: int, unit: str) -> str:
        return f"{value} {unit}{'s' if value > 1 else ''}"

    for major, major_unit, minor, minor_unit in ((days_left, "day", hours_left, "hour"),
                                                 (hours_left, "hour", minutes_left, "minute")):
        if major > 0:
            return count(major, major_unit) + (f" and {count(minor, minor_unit)}" if minor > 0 else "")
    if minutes_left > 0:
        return count(minutes_left, "minute")
    return "less than a minute"


class RunningAvg:
    """Exponential moving average: value <- gamma * value + (1 - gamma) * new; `float(avg)` reads it."""

    def __init__(self, gamma: float, init_value: float | None = None) -> None:
        self._value = init_value
        self._gamma = gamma

    def update(self, new_val: float) -> None:
        """Fold in one observation (the first one sets the value when there is no `init_value`)."""
        if self._value is None:
            self._value = new_val
        else:
            self._value = self._gamma * self._value + (1.0 - self._gamma) * new_val

    def __float__(self) -> float:
        if self._value is None:
            raise ValueError("RunningAvg has no value yet: call update() first or give init_value")
        return float(self._value)


def boolean_flag(parser: argparse.ArgumentParser, name: str, default: bool | None = False,
                 help: str | None = None) -> None:
    """Add `--name` (sets True) and `--no-name` (sets False) to `parser`, stored as `name` with '-' -> '_'."""
    dest = name.replace("-", "_")
    parser.add_argument("--" + name, action="store_true", default=default, dest=dest, help=help)
    parser.add_argument("--no-" + name, action="store_false", dest=dest)


def get_wrapper_by_name(env: gymnasium.Env, classname: str) -> gymnasium.Env:
    """The wrapper (or env) of class `classname` in `env`'s wrapper chain; ValueError if there is none."""
    current = env
    while True:
        if type(current).__name__ == classname:
            return current
        if not isinstance(current, gymnasium.Wrapper):
            raise ValueError(f"no wrapper named {classname!r} around {env}")
        current = current.env


def relatively_safe_pickle_dump(obj: Any, path: str, compression: bool = False) -> None:
    """Not available: baselines_tf2 writes no pickles (see the module docstring). Raises NotImplementedError."""
    raise NotImplementedError(f"relatively_safe_pickle_dump is not available in baselines_tf2 (it never writes "
                              f"or reads pickles); {PICKLE_ALTERNATIVES}")


def pickle_load(path: str, compression: bool = False) -> Any:
    """Not available: loading a pickle runs code from the file. Raises NotImplementedError naming safe formats."""
    raise NotImplementedError(f"pickle_load is not available in baselines_tf2 (unpickling runs code from the "
                              f"file); {PICKLE_ALTERNATIVES}. To read a pickle you wrote yourself and trust, call "
                              f"pickle.load directly")
