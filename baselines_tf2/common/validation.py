"""Range and type checks for hyperparameters, with messages that name the parameter (no TensorFlow here)."""

from __future__ import annotations

from typing import Any, Sequence


def require_int(name: str, value: Any, minimum: int) -> None:
    """Raise ValueError unless `value` is an int (not a bool) >= `minimum`: counts and intervals."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    inside = (
        (at_least is None or value >= at_least) and (above is None or value > above)
        and (at_most is None or value <= at_most) and (below is None or value < below)
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
