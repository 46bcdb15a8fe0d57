"""baselines' ppo1 MlpPolicy: separate tanh MLPs for the policy and the value, on observations normalized by a
running mean and standard deviation clipped to +-5, and a Gaussian with a state-independent log std for Box actions.

Here it is a `PolicyWithValue` ('mlp' torso, value_network='copy') with baselines' ppo1 initialization
(`initialize_as_ppo1`: normc, not ppo2's orthogonal layers); `pposgd_simple.learn` puts the observation filter
in front of it as a VecNormalize (observations only, clipped to +-5), whose statistics checkpoints keep.
"""

from __future__ import annotations

from typing import Any, Iterator

import gymnasium
import keras
import numpy as np

from baselines_tf2.nn.policies import PolicyWithValue

OBSERVATION_CLIP = 5.0  # baselines' ob_rms filter: clip((obs - mean) / std, -5, 5)
# baselines' mpi_running_mean_std floors the variance at 1e-2 (std >= 0.1); VecNormalize's epsilon added to the
# variance bounds the std below the same way
MIN_OBSERVATION_VARIANCE = 1e-2


def normc(shape: tuple[int, ...], std: float) -> np.ndarray:
    """baselines' normc_initializer: Gaussian columns, each scaled to norm `std` (NumPy's global RNG, as baselines)."""
    out = np.random.standard_normal(shape).astype(np.float32)
    return out * (std / np.sqrt(np.square(out).sum(axis=0, keepdims=True)))


def _leaf_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    nested = getattr(layer, "layers", None)
    if nested:
        for inner in nested:
            yield from _leaf_layers(inner)
    else:
        yield layer


def initialize_as_ppo1(policy: PolicyWithValue) -> None:
    """Give the policy's weights baselines' ppo1 initialization in place of ppo2's orthogonal one: normc(1.0) for
    hidden dense layers and the value output, normc(0.01) for the policy output, Glorot-uniform convolutions
    (tf_util.conv2d's bound sqrt(6 / (fan_in + fan_out))); biases and the log std stay zero."""
    net = policy.net
    for torso in (net.torso, net.value_torso):
        for layer in _leaf_layers(torso) if torso is not None else ():
            if isinstance(layer, keras.layers.Conv2D):
                height, width, channels_in, channels_out = layer.kernel.shape
                bound = np.sqrt(6.0 / (height * width * (channels_in + channels_out)))
                layer.kernel.assign(np.random.uniform(-bound, bound, layer.kernel.shape).astype(np.float32))
            elif isinstance(layer, keras.layers.Dense):
                layer.kernel.assign(normc(tuple(layer.kernel.shape), 1.0))
    policy_output = getattr(net.pd_head, "mean_layer", net.pd_head)  # a Box's mean layer, else the logits layer
    policy_output.kernel.assign(normc(tuple(policy_output.kernel.shape), 0.01))
    net.value_head.kernel.assign(normc(tuple(net.value_head.kernel.shape), 1.0))


class BasePolicy(PolicyWithValue):
    """What ppo1's policies add to PolicyWithValue: baselines' `act`, and whether learn() filters observations."""

    normalize_observations = False

    def act(self, stochastic: bool, ob: Any) -> tuple[Any, float]:
        """baselines' `pi.act(stochastic, ob)` for one (filtered) observation: (action, value)."""
        batch = np.asarray(ob)[None]
        actions = self.step(batch)[0] if stochastic else self.act_deterministic(batch)[0]
        return actions[0], float(self.value(batch)[0])


class MlpPolicy(BasePolicy):
    """`MlpPolicy(name, ob_space, ac_space, hid_size, num_hid_layers)`, as a ppo1 `policy_fn` returns it."""

    normalize_observations = True  # learn() filters observations (baselines' ob_rms)

    def __init__(self, name: str, ob_space: gymnasium.Space, ac_space: gymnasium.Space, hid_size: int,
                 num_hid_layers: int, gaussian_fixed_var: bool = True, **_tf1_options: Any) -> None:
        if not gaussian_fixed_var and isinstance(ac_space, gymnasium.spaces.Box):  # (it changes nothing otherwise)
            raise ValueError("gaussian_fixed_var=False (a log std output per state) is not supported; the Gaussian's "
                             "log std is one trainable vector, as with baselines' default gaussian_fixed_var=True")
        if not isinstance(ob_space, gymnasium.spaces.Box):
            raise ValueError(f"MlpPolicy takes Box observations (as baselines'), got {ob_space}")
        self.name = name
        super().__init__(ob_space, ac_space, "mlp",
                         {"num_layers": num_hid_layers, "num_hidden": hid_size, "activation": "tanh"},
                         value_network="copy")
        initialize_as_ppo1(self)
