"""Range and type checks for hyperparameters, with messages that name the parameter (no TensorFlow here)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import typing
from typing import Any, Sequence

import numpy as np

WHOLE_FLOATS = "a float is accepted only when it is whole, e.g. 5e4"


class ArgumentError(ValueError):
    """learn() arguments that cannot work together or with the env, found before training starts; the command line
    reports it as a usage error (exit 2)."""


def physical_memory_bytes() -> int | None:
    """This machine's memory in bytes, or None where the OS does not tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def require_fits_in_memory(what: str, shape: Sequence[int], itemsize: int) -> None:
    """ArgumentError, before allocating, if an array of `shape` and `itemsize` (`what`: the buffer and the option
    that sizes it) needs more than this machine's memory: it would fail with a MemoryError traceback, or be
    allocated lazily and get the process killed as it fills."""
    nbytes = math.prod(int(dim) for dim in shape) * int(itemsize)
    total = physical_memory_bytes()
    if total is not None and nbytes > total:
        raise ArgumentError(f"{what} needs {nbytes / 2**30:,.1f} GiB, more than this machine's "
                            f"{total / 2**30:,.1f} GiB of memory; make it smaller")


def observation_batch(obs: Any, shape: tuple[int, ...], what: str = "a policy") -> np.ndarray:
    """`obs` as an array batch of observations of `shape`; one observation without its batch axis (as baselines'
    step and act took) is a batch of one. ValueError naming both shapes otherwise, before any network sees it."""
    batch = np.asarray(obs)
    if batch.shape == shape:
        batch = batch[None]
    if batch.shape[1:] != shape:
        given = batch.shape if batch.ndim <= len(shape) else batch.shape[1:]  # one observation, or a batch's
        raise ValueError(f"observations of shape {given} given to {what} built for {shape}")
    return batch


def whole_number(value: Any) -> int | None:
    """`value` as an int if it is an integer or a whole float (baselines code passes `buffer_size=5e4`), else None.

    Bools are not numbers here; NumPy integers and floats count like Python's."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return int(number) if number.is_integer() else None
    return None


def require_int(name: str, value: Any, minimum: int) -> int:
    """Return `value` as an int if it is an integer or a whole float >= `minimum`, else raise ValueError."""
    number = whole_number(value)
    if number is None or number < minimum:
        hint = f" ({WHOLE_FLOATS})" if _fractional(value) else ""
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}{hint}")
    return number


def _fractional(value: Any) -> bool:
    """A real number (not a bool) that is not whole: 5.5, inf, nan."""
    return whole_number(value) is None and isinstance(value, numbers.Real) and not isinstance(value, bool)


def whole_floats_as_ints(config: Any) -> None:
    """In a frozen dataclass, make whole numbers in `int` fields (`int | None` too) ints, so 5e4 means 50000;
    raise ValueError for a float with a fractional part there.

    Called first in each config's `__post_init__`, so the range checks that follow see ints. Values that are not
    numbers are left for those checks to refuse with their own messages."""
    for name in _int_fields(type(config)):
        value = getattr(config, name)
        number = whole_number(value)
        if _fractional(value):
            raise ValueError(f"{name} must be an integer, got {value!r} ({WHOLE_FLOATS})")
        if number is not None and type(value) is not int:  # a whole float, or a NumPy integer
            object.__setattr__(config, name, number)  # frozen dataclass: __setattr__ is blocked by design


def _int_fields(config_class: type) -> tuple[str, ...]:
    """Names of the dataclass fields annotated `int` or `int | None` (annotations may be strings)."""
    hints = typing.get_type_hints(config_class)
    return tuple(field.name for field in dataclasses.fields(config_class)
                 if hints[field.name] is int or hints[field.name] == int | None)


def require_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Raise ValueError unless `value` is one of `choices` (names such as a precision or a schedule kind)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def require_number(
    name: str,
    value: Any,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
) -> None:
    """Raise TypeError unless `value` is a real number (not a bool), ValueError unless it lies in the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy's ints and floats count
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = int(value) if isinstance(value, numbers.Integral) else float(value)  # exact for huge ints
    inside = (
        (at_least is None or number >= at_least) and (above is None or number > above)
        and (at_most is None or number <= at_most) and (below is None or number < below)
    )
    if not inside:
        raise ValueError(f"{name} must be a number {_describe_bounds(at_least, above, at_most, below)}, got {value!r}")


def _describe_bounds(at_least: float | None, above: float | None, at_most: float | None, below: float | None) -> str:
    """'in [0, 1]', 'in [0, 1)', '> 0', '>= 0', ... as the bounds say."""
    lower = f">= {at_least}" if at_least is not None else f"> {above}" if above is not None else None
    upper = f"<= {at_most}" if at_most is not None else f"< {below}" if below is not None else None
    if lower and upper:
        opening = "[" if at_least is not None else "("
        closing = "]" if at_most is not None else ")"
        return f"in {opening}{lower.split()[-1]}, {upper.split()[-1]}{closing}"
    return lower or upper or ""
