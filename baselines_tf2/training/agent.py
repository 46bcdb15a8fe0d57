"""What every algorithm's trained object offers (save, load, metadata, an acting policy), and loading any checkpoint.

Each algorithm registers the function that rebuilds its acting policy from a checkpoint in `baselines_tf2.algorithms`;
shared code (play, evaluate, export) asks `load_policy` and never names an algorithm.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import gymnasium
import numpy as np

from baselines_tf2.training.checkpoint import CheckpointError, load_checkpoint

ArrayGroups = dict[str, list[tuple[str, np.ndarray]]]


class ActingPolicy(Protocol):
    """Acting as baselines' models do, for play and evaluation: sampled `step` and the most likely action."""

    observation_space: gymnasium.Space
    action_space: gymnasium.Space
    recurrent: bool
    state_size: int

    def step(self, obs: Any, *, S: Any = None, M: Any = None) -> tuple[Any, ...]:
        """baselines' `model.step`: (actions, values, states, neglogp); values may be None. Callers pass S and M
        by keyword (an off-policy agent takes nothing else after `obs`)."""

    def act_deterministic(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, Any]:
        """(the most likely / greedy actions, the next recurrent state)."""


class Agent(Protocol):
    """What `learn()` returns, whatever the algorithm: checkpoints as data, and its acting policy."""

    alg: str  # the algorithm's name in checkpoints and on the command line
    timesteps: int  # env steps trained, over every learn() call that resumed this agent
    run_metadata: dict[str, Any]  # env description, hyperparameters, seed: written into every checkpoint

    @property
    def policy(self) -> ActingPolicy:
        """The acting policy play and evaluation use."""

    def metadata(self) -> dict[str, Any]:
        """What rebuilds this agent from a checkpoint (network, spaces, precision) plus the run metadata."""

    def save(self, path: str, extra_metadata: dict[str, Any] | None = None,
             extra_groups: ArrayGroups | None = None) -> None:
        """Write weights, optimizer state and metadata (plus the extras) atomically; never a pickle."""

    def load(self, path: str) -> dict[str, Any]:
        """Restore everything `save` wrote, after checking the checkpoint fits; its metadata."""

    def load_weights_only(self, path: str) -> None:
        """Restore only the acting weights (the best model at the end of training)."""


def load_policy(
    path: str, *, expected_alg: str | None = None, nenvs: int = 1, precision: str | None = None
) -> tuple[Any, dict[str, Any], dict[str, list[np.ndarray]]]:
    """(acting policy with the saved weights, metadata, all array groups); any problem is a CheckpointError.

    The algorithm named in the checkpoint rebuilds its own policy (see `baselines_tf2.algorithms`); `precision`
    overrides the checkpoint's compute precision (same weights), e.g. float32 for TFLite.
    """
    from baselines_tf2.algorithms import ALGORITHMS

    metadata, groups = load_checkpoint(path)
    alg = metadata.get("alg")
    if expected_alg is not None and alg != expected_alg:
        raise CheckpointError(f"{path!r} is a {alg!r} checkpoint, not {expected_alg!r}")
    if alg not in ALGORITHMS:
        raise CheckpointError(f"{path!r} is a checkpoint of {alg!r}, which this version does not know; "
                              f"known: {', '.join(sorted(ALGORITHMS))}")
    module_name, _, function = ALGORITHMS[alg].policy_loader.partition(":")
    rebuild = getattr(importlib.import_module(module_name), function)
    if precision is not None:
        metadata = {**metadata, "precision": precision}
    return rebuild(metadata, groups, path, nenvs=nenvs), metadata, groups
