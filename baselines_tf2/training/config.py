"""From `learn()`'s arguments (baselines' signature) to the typed config and the run options, with no name written
twice: each field is read from the arguments by its name. A test pins every `learn()` default to its config's."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

from baselines_tf2.training.run import RunOptions

ConfigT = TypeVar("ConfigT")


def config_from_arguments(config_class: type[ConfigT], arguments: Mapping[str, Any]) -> ConfigT:
    """`config_class` built from the arguments named like its fields (e.g. a learn() call's `locals()`)."""
    fields = dataclasses.fields(config_class)  # type: ignore[arg-type]
    return config_class(**{field.name: arguments[field.name] for field in fields if field.init})


def run_options_from_arguments(arguments: Mapping[str, Any], **overrides: Any) -> RunOptions:
    """The RunOptions named in `arguments` (a learn() call's `locals()`), with `overrides` (e.g. the rank's seed)."""
    names = [field.name for field in dataclasses.fields(RunOptions)]
    return RunOptions(**{name: arguments[name] for name in names if name in arguments and name not in overrides},
                      **overrides)
