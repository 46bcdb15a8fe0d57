"""Exploration noise of DDPG with baselines' names: action noise (Gaussian, Ornstein-Uhlenbeck) and the adaptive
parameter-noise spec (Plappert et al. 2018), plus the `noise_type` strings of baselines' ddpg.learn. No TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines_tf2.common.misc_util import seeded_generator

NOISE_TYPES = ("none", "normal_<sigma>", "ou_<sigma>", "adaptive-param_<sigma>")


class AdaptiveParamNoiseSpec:
    """The std of the noise added to the actor's weights, adapted so the perturbed actor's actions differ from the
    actor's by about `desired_action_stddev` (grow by `adoption_coefficient` when below, shrink when above)."""

    def __init__(self, initial_stddev: float = 0.1, desired_action_stddev: float = 0.1,
                 adoption_coefficient: float = 1.01) -> None:
        self.initial_stddev = initial_stddev
        self.desired_action_stddev = desired_action_stddev
        self.adoption_coefficient = adoption_coefficient
        self.current_stddev = initial_stddev

    def adapt(self, distance: float) -> None:
        """Move the weight noise toward the desired action distance, given the distance measured."""
        if distance > self.desired_action_stddev:
            self.current_stddev /= self.adoption_coefficient
        else:
            self.current_stddev *= self.adoption_coefficient

    def get_stats(self) -> dict[str, float]:
        """baselines' log key for the current std."""
        return {"param_noise_stddev": self.current_stddev}

    def __repr__(self) -> str:
        return (f"AdaptiveParamNoiseSpec(initial_stddev={self.initial_stddev}, "
                f"desired_action_stddev={self.desired_action_stddev}, "
                f"adoption_coefficient={self.adoption_coefficient})")


class ActionNoise:
    """Noise added to each action; `reset` at episode starts."""

    def __call__(self) -> np.ndarray:
        raise NotImplementedError

    def reset(self) -> None:
        """Start a new episode's noise (stateless noises have nothing to reset)."""

    def state(self) -> list[float]:
        """The noise's running state, for checkpoints (empty when stateless)."""
        return []

    def set_state(self, values: list[float]) -> None:
        """Take back `state()`."""


class NormalActionNoise(ActionNoise):
    """Independent Gaussian noise N(mu, sigma) per action and step."""

    def __init__(self, mu: Any, sigma: Any, rng: np.random.Generator | None = None) -> None:
        self.mu = np.asarray(mu, np.float64)
        self.sigma = np.asarray(sigma, np.float64)
        self.rng = rng or seeded_generator()

    def __call__(self) -> np.ndarray:
        return self.rng.normal(self.mu, self.sigma)

    def __repr__(self) -> str:
        return f"NormalActionNoise(mu={self.mu}, sigma={self.sigma})"


class OrnsteinUhlenbeckActionNoise(ActionNoise):
    """Temporally correlated noise: x += theta (mu - x) dt + sigma sqrt(dt) N(0, 1), restarted at x0 (default 0)."""

    def __init__(self, mu: Any, sigma: Any, theta: float = 0.15, dt: float = 1e-2, x0: Any = None,
                 rng: np.random.Generator | None = None) -> None:
        self.mu = np.asarray(mu, np.float64)
        self.sigma = np.asarray(sigma, np.float64)
        self.theta = theta
        self.dt = dt
        self.x0 = x0
        self.rng = rng or seeded_generator()
        self.x_prev = np.zeros_like(self.mu)
        self.reset()

    def __call__(self) -> np.ndarray:
        x = (self.x_prev + self.theta * (self.mu - self.x_prev) * self.dt
             + self.sigma * np.sqrt(self.dt) * self.rng.normal(size=self.mu.shape))
        self.x_prev = x
        return x

    def reset(self) -> None:
        self.x_prev = np.asarray(self.x0, np.float64) if self.x0 is not None else np.zeros_like(self.mu)

    def state(self) -> list[float]:
        return [float(value) for value in self.x_prev.ravel()]

    def set_state(self, values: list[float]) -> None:
        self.x_prev = np.asarray(values, np.float64).reshape(self.mu.shape)

    def __repr__(self) -> str:
        return f"OrnsteinUhlenbeckActionNoise(mu={self.mu}, sigma={self.sigma})"


def parse_noise_type(noise_type: str | None, nb_actions: int, rng: np.random.Generator | None = None,
                     ) -> tuple[ActionNoise | None, AdaptiveParamNoiseSpec | None]:
    """(action noise, parameter noise) of baselines' comma-separated spec, e.g. 'adaptive-param_0.2,normal_0.1';
    ValueError naming the valid forms for anything else."""
    action_noise: ActionNoise | None = None
    param_noise: AdaptiveParamNoiseSpec | None = None
    if noise_type is None:
        return None, None
    if not isinstance(noise_type, str):
        raise ValueError(f"noise_type must be a string such as 'adaptive-param_0.2', got {noise_type!r}")
    for part in noise_type.split(","):
        part = part.strip()
        if part == "none":
            continue
        kind, _, sigma_text = part.rpartition("_")
        try:
            sigma = float(sigma_text)
        except ValueError:
            sigma = float("nan")
        if kind not in ("normal", "ou", "adaptive-param") or not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"unknown noise_type {part!r} in {noise_type!r}; valid: {', '.join(NOISE_TYPES)} "
                             "with sigma a number >= 0, comma-separated (e.g. 'adaptive-param_0.2' or 'ou_0.2')")
        zeros, sigmas = np.zeros(nb_actions), sigma * np.ones(nb_actions)
        if kind == "adaptive-param":
            param_noise = AdaptiveParamNoiseSpec(initial_stddev=sigma, desired_action_stddev=sigma)
        elif kind == "normal":
            action_noise = NormalActionNoise(mu=zeros, sigma=sigmas, rng=rng)
        else:
            action_noise = OrnsteinUhlenbeckActionNoise(mu=zeros, sigma=sigmas, rng=rng)
    return action_noise, param_noise
