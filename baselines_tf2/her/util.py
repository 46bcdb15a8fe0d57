"""baselines' `her.util` helpers that mean the same without TF1: episode-batch layout helpers, `store_args` and
`import_function`. No TensorFlow here.

baselines' TF1 ones are not here: `flatten_grads` and `nn` built graph ops (HER's networks are Keras models in
`baselines_tf2.her.ddpg.DDPG`), `reshape_for_broadcasting` reshaped a TF1 tensor for its Normalizer; `mpi_fork` and
`install_mpi_excepthook` are replaced by `mpiexec -n N` and `baselines_tf2.common.mpi_util.abort_on_failure`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

Method = TypeVar("Method", bound=Callable[..., Any])


def store_args(method: Method) -> Method:
    """Decorate `__init__` so that every argument it receives (defaults included, each `**kwargs` entry too) is
    set as an attribute of `self` before it runs, as baselines' `store_args`."""
    signature = inspect.signature(method)
    self_name = next(iter(signature.parameters))

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        attributes = bound.arguments[self_name].__dict__
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                attributes.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL and name != self_name:  # baselines ignored *args
                attributes[name] = value
        return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


def import_function(spec: str) -> Any:
    """The object named by 'package.module:name' (baselines' `network_class` strings); ValueError for another form."""
    module_name, separator, name = spec.partition(":")
    if not separator or not module_name or not name:
        raise ValueError(f"expected 'package.module:name', got {spec!r}")
    return getattr(importlib.import_module(module_name), name)


def convert_episode_to_batch_major(episode: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Time-major episode lists {key: [T(+1), B, ...]} (what a rollout appends step by step) as batch-major
    copies {key: [B, T(+1), ...]}, baselines' episode-batch layout."""
    return {key: np.array(value).swapaxes(0, 1) for key, value in episode.items()}


def transitions_in_episode_batch(episode_batch: Mapping[str, np.ndarray]) -> int:
    """Transitions in an episode batch: episodes x steps of its actions 'u' ([B, T, du])."""
    episodes, steps = np.shape(episode_batch["u"])[:2]
    return int(episodes * steps)
