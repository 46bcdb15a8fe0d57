"""VecNormalize: observations scaled by their running mean/std, rewards by the std of the discounted return.

Statistics are saved as data (one JSON file with a format version, written atomically) and never unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from baselines_tf2.common.atomic_io import atomic_write_text
from baselines_tf2.common.running_mean_std import RunningMeanStd
from baselines_tf2.common.vec_env.util import dict_obs_hint
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, VecEnv, VecEnvWrapper

STATS_FORMAT = "baselines_tf2.VecNormalize"
STATS_FORMAT_VERSION = 1


class VecNormalize(VecEnvWrapper):
    """Baselines' running normalisation of observations (`ob`) and rewards (`ret`), clipped to +-clipob / +-cliprew.

    Observations become (obs - mean) / sqrt(var + epsilon) over every observation seen. Each reward is divided by
    sqrt(var + epsilon) of the per-env discounted return gamma * R + r, which restarts at 0 when the episode ends.
    With `training=False` the statistics are frozen (evaluation, or after loading them).
    """

    def __init__(
        self,
        venv: VecEnv,
        ob: bool = True,
        ret: bool = True,
        clipob: float = 10.0,
        cliprew: float = 10.0,
        gamma: float = 0.99,
        epsilon: float = 1e-8,
        training: bool = True,
    ) -> None:
        space = venv.observation_space
        if not isinstance(space, gymnasium.spaces.Box):
            raise TypeError(f"VecNormalize normalises Box observations, got {space}{dict_obs_hint(space)}")
        for name, value in (("clipob", clipob), ("cliprew", cliprew), ("epsilon", epsilon)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
        normalised_space = (
            gymnasium.spaces.Box(low=-clipob, high=clipob, shape=space.shape, dtype=np.float32) if ob else space
        )
        super().__init__(venv, observation_space=normalised_space)
        self.ob, self.ret = bool(ob), bool(ret)
        self.clipob, self.cliprew = float(clipob), float(cliprew)
        self.gamma, self.epsilon = float(gamma), float(epsilon)
        self.training = bool(training)
        self.obs_shape = tuple(space.shape)
        self.ob_rms = RunningMeanStd(shape=self.obs_shape) if self.ob else None
        self.ret_rms = RunningMeanStd(shape=()) if self.ret else None
        self.returns = np.zeros(self.num_envs, dtype=np.float64)
        self._original_obs: np.ndarray | None = None
        self._original_rewards: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self.returns[:] = 0.0
        self._original_obs = np.array(obs)
        self._original_rewards = np.zeros(self.num_envs, dtype=np.float32)
        if self.training and self.ob_rms is not None:
            self.ob_rms.update(obs)
        return self.normalize_obs(obs)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._original_obs = np.array(obs)
        self._original_rewards = np.array(rewards)
        self.returns = self.returns * self.gamma + rewards
        if self.training:
            if self.ob_rms is not None:
                self.ob_rms.update(obs)
            if self.ret_rms is not None:
                self.ret_rms.update(self.returns)
        normalised_rewards = self.normalize_reward(rewards)
        self.returns[np.asarray(dones, dtype=bool)] = 0.0
        normalised_infos = [
            {**info, TERMINAL_OBSERVATION: self.normalize_obs(info[TERMINAL_OBSERVATION])}
            if TERMINAL_OBSERVATION in info
            else info
            for info in infos
        ]
        return self.normalize_obs(obs), normalised_rewards, dones, normalised_infos

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """`obs` (one observation or a batch) scaled by the current statistics and clipped, as float32."""
        if self.ob_rms is None:
            return obs
        scaled = (np.asarray(obs, dtype=np.float64) - self.ob_rms.mean) / np.sqrt(self.ob_rms.var + self.epsilon)
        return _clipped_float32(scaled, self.clipob)

    def normalize_reward(self, rewards: np.ndarray) -> np.ndarray:
        """`rewards` divided by the std of the discounted return and clipped, as float32."""
        if self.ret_rms is None:
            return rewards
        scaled = np.asarray(rewards, dtype=np.float64) / np.sqrt(self.ret_rms.var + self.epsilon)
        return _clipped_float32(scaled, self.cliprew)

    def get_original_obs(self) -> np.ndarray:
        """The observations of the last reset/step before normalisation."""
        if self._original_obs is None:
            raise RuntimeError("no observation yet: call reset() first")
        return self._original_obs.copy()

    def get_original_reward(self) -> np.ndarray:
        """The rewards of the last step before normalisation (zeros right after reset)."""
        if self._original_rewards is None:
            raise RuntimeError("no reward yet: call reset() first")
        return self._original_rewards.copy()

    def state_dict(self) -> dict[str, Any]:
        """The settings and statistics as a JSON-ready document (what `save` writes and checkpoints embed)."""
        return {
            "format": STATS_FORMAT,
            "format_version": STATS_FORMAT_VERSION,
            "config": {
                "ob": self.ob,
                "ret": self.ret,
                "clipob": self.clipob,
                "cliprew": self.cliprew,
                "gamma": self.gamma,
                "epsilon": self.epsilon,
            },
            "obs_shape": list(self.obs_shape),
            "ob_rms": _stats_to_json(self.ob_rms),
            "ret_rms": _stats_to_json(self.ret_rms),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the settings and statistics to `path` as JSON, atomically (a temporary file, then os.replace)."""
        try:
            text = json.dumps(self.state_dict(), allow_nan=False)
        except ValueError:
            raise ValueError("the running statistics contain NaN or infinity; refusing to save them") from None
        atomic_write_text(Path(path), text)

    def load_state_dict(self, document: Any, source: str = "statistics") -> None:
        """Replace the statistics with a `state_dict()` document; ValueError (naming `source`) if it does not fit."""
        self._apply_stats(_checked_stats_document(document, source), source)

    def load_state(self, path: str | os.PathLike[str]) -> None:
        """Replace the statistics with those saved at `path`; raises ValueError if the file is corrupt or does not fit.

        The settings (clip ranges, gamma, epsilon) stay as this wrapper was built; `ob` and `ret` must match the file.
        """
        self._apply_stats(_read_stats_document(Path(path)), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], venv: VecEnv) -> VecNormalize:
        """A VecNormalize around `venv` with the settings and statistics saved at `path` (training stays on)."""
        return cls._built_from(_read_stats_document(Path(path)), venv, path, training=True)

    @classmethod
    def from_state_dict(cls, document: Any, venv: VecEnv, source: str = "statistics",
                        training: bool = True) -> VecNormalize:
        """A VecNormalize around `venv` with the settings and statistics of a `state_dict()` document (a checkpoint's,
        say); ValueError naming `source` if the document is malformed or does not fit `venv`."""
        return cls._built_from(_checked_stats_document(document, source), venv, source, training=training)

    @classmethod
    def _built_from(cls, document: dict[str, Any], venv: VecEnv, source: str | os.PathLike[str],
                    training: bool) -> VecNormalize:
        normalizer = cls(venv, **document["config"], training=training)
        normalizer._apply_stats(document, source)
        return normalizer

    def _apply_stats(self, document: dict[str, Any], path: str | os.PathLike[str]) -> None:
        """Load the running statistics of a checked statistics document read from `path`."""
        config = document["config"]
        for flag, ours in (("ob", self.ob), ("ret", self.ret)):
            if config[flag] != ours:
                raise ValueError(
                    f"{path}: statistics were saved with {flag}={config[flag]}, this wrapper has {flag}={ours}"
                )
        self._check_obs_shape(document["obs_shape"], path)
        ob_rms = _running_stats_from(document, "ob_rms", self.obs_shape, path) if self.ob else None
        ret_rms = _running_stats_from(document, "ret_rms", (), path) if self.ret else None
        self.ob_rms, self.ret_rms = ob_rms, ret_rms

    def _check_obs_shape(self, saved_shape: Any, path: str | os.PathLike[str]) -> None:
        """Raise ValueError unless the saved observation shape is this venv's."""
        if not isinstance(saved_shape, list) or tuple(saved_shape) != self.obs_shape:
            raise ValueError(
                f"{path}: statistics are for observations of shape {saved_shape}, "
                f"but this venv's observation space has shape {self.obs_shape}"
            )


def _stats_to_json(rms: RunningMeanStd | None) -> dict[str, Any] | None:
    """A RunningMeanStd's state as JSON-ready lists (floats round-trip exactly through JSON)."""
    if rms is None:
        return None
    state = rms.state_dict()
    return {"mean": state["mean"].tolist(), "var": state["var"].tolist(), "count": state["count"]}


def _running_stats_from(
    document: dict[str, Any], name: str, shape: tuple[int, ...], path: str | os.PathLike[str]
) -> RunningMeanStd:
    """A new RunningMeanStd holding `document[name]`; built aside, so a bad file leaves the wrapper unchanged."""
    state = document[name]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: {name} must be an object with mean, var and count")
    stats = RunningMeanStd(shape=shape)
    try:
        stats.load_state_dict(state)
    except ValueError as err:
        raise ValueError(f"{path}: {name}: {err}") from None
    return stats


def _read_stats_document(path: Path) -> dict[str, Any]:
    """Parse and check the envelope of a saved statistics file; anything unexpected is a ValueError."""
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a VecNormalize statistics file (not UTF-8 JSON: {err})") from None
    return _checked_stats_document(document, path)


def _checked_stats_document(document: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the envelope of a statistics document read from `path`; anything unexpected is a ValueError."""
    if not isinstance(document, dict) or document.get("format") != STATS_FORMAT:
        raise ValueError(f"{path} is not a VecNormalize statistics file (no \"format\": {STATS_FORMAT!r})")
    if document.get("format_version") != STATS_FORMAT_VERSION:
        raise ValueError(
            f"{path}: unsupported statistics format version {document.get('format_version')!r}; "
            f"this version reads {STATS_FORMAT_VERSION}"
        )
    config = document.get("config")
    expected_config = {"ob": bool, "ret": bool, "clipob": float, "cliprew": float, "gamma": float, "epsilon": float}
    if not isinstance(config, dict) or set(config) != set(expected_config):
        raise ValueError(f"{path}: \"config\" must hold exactly {sorted(expected_config)}")
    for key, kind in expected_config.items():
        if not isinstance(config[key], kind):
            raise ValueError(f"{path}: config[{key!r}] must be a {kind.__name__}, got {config[key]!r}")
    for key in ("obs_shape", "ob_rms", "ret_rms"):
        if key not in document:
            raise ValueError(f"{path}: missing {key!r}")
    return document


def _clipped_float32(scaled: np.ndarray, bound: float) -> np.ndarray:
    """`scaled` clipped to [-bound, bound] as float32, NaN kept as np.clip keeps it; the two ufuncs cost a
    fraction of np.clip's dispatch, which runs on every env step."""
    return np.maximum(np.minimum(scaled, bound), -bound).astype(np.float32)
