"""Network builders written for baselines register unchanged: its tf2 branch's `network_fn(input_shape)` returning a
Keras model and its master's `network_fn(X)` mapping a tensor, beside this project's `(obs_shape, obs_dtype)`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable

import gymnasium
import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2 import logger
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.nn.models import as_network_fn, get_network_builder, register
from baselines_tf2.ppo2 import ppo2


def unique(prefix: str) -> str:
    """A registry name no other test uses (the registry lives for the whole process)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def tf2_branch_mlp(num_layers: int = 2, num_hidden: int = 16) -> Callable[[tuple[int, ...]], Any]:
    """baselines' tf2-branch `mlp`, as its users wrote custom networks (tf.keras, a one-item inputs/outputs list)."""

    def network_fn(input_shape: tuple[int, ...]) -> Any:
        x_input = tf.keras.Input(shape=input_shape)
        h = x_input
        for i in range(num_layers):
            h = tf.keras.layers.Dense(units=num_hidden, kernel_initializer=tf.keras.initializers.Orthogonal(np.sqrt(2)),
                                      name=f"mlp_fc{i}", activation="tanh")(h)
        return tf.keras.Model(inputs=[x_input], outputs=[h])

    return network_fn


def master_mlp(num_hidden: int = 16) -> Callable[[Any], Any]:
    """baselines master's `network_fn(X)` shape, with Keras layers in place of its TF1 `fc`."""

    def network_fn(X: Any) -> Any:  # baselines' parameter name X is what selects this form
        h = keras.layers.Flatten()(X)
        return keras.layers.Dense(num_hidden, activation="tanh")(h)

    return network_fn


@pytest.mark.parametrize("builder", [tf2_branch_mlp, master_mlp], ids=["tf2_branch", "master"])
@pytest.mark.parametrize("obs_dtype", ["float32", "uint8"])
def test_one_argument_network_fns_build_a_torso_for_the_observations(builder: Callable, obs_dtype: str) -> None:
    name = unique("one_arg")
    register(name)(builder)
    torso = get_network_builder(name)(num_hidden=8)((4,), obs_dtype)
    assert torso.inputs[0].dtype == obs_dtype  # the policy feeds raw observations; Keras casts for the inner model
    latent = torso(np.arange(8, dtype=obs_dtype).reshape(2, 4))
    assert tuple(latent.shape) == (2, 8) and latent.dtype == "float32"


def test_ppo2_trains_cartpole_with_a_registered_tf2_branch_network() -> None:
    name = unique("tf2_mlp")
    register(name)(tf2_branch_mlp)
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
    env.seed(0)
    model = ppo2.learn(network=name, env=env, total_timesteps=256, nsteps=64, nminibatches=2, noptepochs=2, seed=0,
                       num_hidden=32)
    assert model.timesteps == 256 and model.gradient_steps == 2 * 2 * 2  # 2 updates x 2 epochs x 2 minibatches
    assert any(tuple(w.shape) == (4, 32) for w in model.policy.net.weights)  # the registered torso, num_hidden=32
    actions, values, _, _ = model.step(env.reset())
    assert actions.shape == (2,) and np.all(np.isin(actions, [0, 1])) and np.all(np.isfinite(values))
    env.close()


def test_ppo2_takes_a_one_argument_network_fn_itself(tmp_path: Path) -> None:
    """Under a log dir the run cannot checkpoint a network it cannot name: it says so and still trains."""
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    with logger.scoped_configure(str(tmp_path), ["log"]):
        model = ppo2.learn(network=tf2_branch_mlp(num_hidden=8), env=env, total_timesteps=64, nsteps=32,
                           nminibatches=2, noptepochs=1, seed=0)
    assert model.timesteps == 64 and any(tuple(w.shape) == (4, 8) for w in model.policy.net.weights)
    log_text = (tmp_path / "log.txt").read_text()
    assert "writes no checkpoints: the policy's network was given as a function" in log_text
    assert not (tmp_path / "checkpoints").exists()
    env.close()


@pytest.mark.parametrize(
    "network_fn",
    [lambda: None, lambda obs_shape, obs_dtype, extra: None, lambda *args: None],
    ids=["no_argument", "three_arguments", "only_varargs"],
)
def test_a_network_fn_of_no_accepted_form_is_refused_naming_the_forms(network_fn: Callable) -> None:
    name = unique("bad")
    register(name)(lambda: network_fn)
    with pytest.raises(TypeError, match=rf"network '{name}'.*fits none of the accepted forms") as error:
        get_network_builder(name)()
    for form in ("network_fn(obs_shape, obs_dtype)", "network_fn(input_shape)", "network_fn(X)"):
        assert form in str(error.value)


def test_a_one_argument_network_fn_must_return_a_keras_model() -> None:
    with pytest.raises(TypeError, match=r"network_fn\(input_shape\) must return a keras.Model, got 3"):
        as_network_fn(lambda input_shape: 3, "answer")((4,), "float32")


def test_builders_take_baselines_positional_arguments_and_get_network_builder_passes_callables_through() -> None:
    network_fn = get_network_builder("mlp")(3, 16)  # baselines' mlp(num_layers=2, num_hidden=64, ...) by position
    torso = network_fn((4,), "float32")
    assert [tuple(w.shape) for w in torso.weights if len(w.shape) == 2] == [(4, 16), (16, 16), (16, 16)]
    with pytest.raises(TypeError, match=r"network 'mlp' takes at most 4 positional argument\(s\)"):
        get_network_builder("mlp")(1, 2, "tanh", False, "extra")
    with pytest.raises(TypeError, match="'num_layers' both by position and by keyword"):
        get_network_builder("mlp")(2, num_layers=3)
    assert get_network_builder(master_mlp) is master_mlp  # baselines: `if callable(name): return name`


def test_conv_only_takes_tf1_padding_names() -> None:
    valid = get_network_builder("conv_only")(convs=[(4, 3, 1)], padding="VALID")((8, 8, 1), "uint8")
    assert tuple(valid.output.shape) == (None, 6 * 6 * 4)


def test_a_master_network_fn_returning_baselines_output_and_extra_feed_pair_is_accepted() -> None:
    def network_fn(X: Any) -> Any:  # baselines' documented form: (output_tensor, extra_feed), None feed-forward
        return keras.layers.Dense(5)(X), None

    torso = as_network_fn(network_fn)((4,), "float32")
    assert tuple(torso(np.zeros((2, 4), np.float32)).shape) == (2, 5)


def test_baselines_normalize_observations_is_refused_naming_vec_normalize_and_false_is_accepted() -> None:
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    with pytest.raises(ValueError, match=r"normalize_observations=True .* wrap the env in VecNormalize"):
        ppo2.learn(network="mlp", env=env, total_timesteps=0, normalize_observations=True)
    model = ppo2.learn(network="mlp", env=env, total_timesteps=0, normalize_observations=False, num_hidden=8)
    assert model.policy.description["network_kwargs"] == {"num_hidden": 8}
    env.close()
