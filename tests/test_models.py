"""Network registry: shapes, uint8 scaling, baselines' init, the masked LSTM, weight round trips and tracing."""

from __future__ import annotations

import uuid
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.nn import models
from baselines_tf2.nn.models import get_network_builder, is_recurrent, register, registered_networks

IMAGE = ((84, 84, 4), "uint8")
VECTOR = ((4,), "float32")
# (network, observation spec, latent size); together these cover every built-in network
FEED_FORWARD = [
    ("mlp", VECTOR, 64),
    ("mlp", IMAGE, 64),
    ("cnn", IMAGE, 512),
    ("cnn_small", IMAGE, 128),
    ("conv_only", IMAGE, 11 * 11 * 64),  # SAME padding: 84 -> 21 -> 11 -> 11
    ("impala_cnn", IMAGE, 256),
]
RECURRENT = [("lstm", VECTOR), ("cnn_lstm", IMAGE), ("cnn_lnlstm", IMAGE), ("impala_cnn_lstm", IMAGE)]


def build(name: str, spec: tuple[tuple[int, ...], str], **network_kwargs: object) -> keras.Model:
    obs_shape, obs_dtype = spec
    return get_network_builder(name)(**network_kwargs)(obs_shape, obs_dtype)


def random_obs(rng: np.random.Generator, batch_shape: tuple[int, ...], spec: tuple[tuple[int, ...], str]) -> np.ndarray:
    obs_shape, obs_dtype = spec
    if obs_dtype == "uint8":
        return rng.integers(0, 256, size=batch_shape + obs_shape, dtype=np.uint8)
    return rng.normal(size=batch_shape + obs_shape).astype(np.float32)


def recurrent_inputs(model: keras.Model, spec: tuple, n: int, t: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Observations [n, t, ...], no episode starts, and a random non-zero state."""
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(n, model.state_size)).astype(np.float32)
    return random_obs(rng, (n, t), spec), np.zeros((n, t), np.float32), state


def test_builtin_networks_are_registered_and_covered_here() -> None:
    tested = {name for name, _, _ in FEED_FORWARD} | {name for name, _ in RECURRENT}
    assert tested <= set(registered_networks())
    assert {"mlp", "cnn", "cnn_small", "conv_only", "impala_cnn", "lstm", "cnn_lstm", "cnn_lnlstm",
            "impala_cnn_lstm"} == tested


@pytest.mark.parametrize(("name", "spec", "latent_size"), FEED_FORWARD)
def test_feed_forward_latent_shape_and_input_dtype(name: str, spec: tuple, latent_size: int) -> None:
    model = build(name, spec)
    latent = model(random_obs(np.random.default_rng(0), (3,), spec))
    assert tuple(latent.shape) == (3, latent_size)
    assert latent.dtype == "float32"
    assert model.inputs[0].dtype == spec[1]  # uint8 stays uint8 until inside the model
    assert not is_recurrent(model)


@pytest.mark.parametrize(("name", "spec"), RECURRENT)
def test_recurrent_output_shapes(name: str, spec: tuple) -> None:
    model = build(name, spec, nlstm=16)
    assert is_recurrent(model) and model.state_size == 32
    latent_seq, final_state = model(recurrent_inputs(model, spec, n=2, t=3))
    assert tuple(latent_seq.shape) == (2, 3, 16)
    assert tuple(final_state.shape) == (2, 32)
    np.testing.assert_array_equal(model.initial_state(5), np.zeros((5, 32), np.float32))


@pytest.mark.parametrize("name", ["cnn", "impala_cnn", "mlp"])
def test_uint8_input_is_scaled_to_unit_interval_and_float_input_is_not(name: str) -> None:
    as_uint8 = build(name, IMAGE)
    as_float = build(name, ((84, 84, 4), "float32"))
    as_float.set_weights(as_uint8.get_weights())
    pixels = np.random.default_rng(1).integers(0, 256, size=(2, 84, 84, 4), dtype=np.uint8)
    np.testing.assert_allclose(as_uint8(pixels), as_float(pixels.astype(np.float32) / 255.0), rtol=1e-4, atol=1e-5)
    black, white = np.zeros((1, 84, 84, 4), np.uint8), np.full((1, 84, 84, 4), 255, np.uint8)
    assert not np.allclose(as_uint8(black), as_uint8(white))


def assert_orthogonal(kernel: np.ndarray, gain: float) -> None:
    """Columns (or rows, for wide kernels) are orthogonal with norm `gain`: K^T K = gain^2 I or K K^T = gain^2 I."""
    flat = kernel.reshape(-1, kernel.shape[-1])
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-4)


def test_torso_layers_have_orthogonal_sqrt2_kernels_and_zero_biases() -> None:
    mlp = build("mlp", VECTOR)
    cnn = build("cnn", IMAGE)
    for layer in [mlp.get_layer("mlp_fc0"), mlp.get_layer("mlp_fc1"), cnn.get_layer("conv1"), cnn.get_layer("fc1")]:
        kernel, bias = layer.get_weights()
        assert_orthogonal(kernel, np.sqrt(2.0))
        np.testing.assert_array_equal(bias, 0.0)


def test_lstm_weights_are_orthogonal_with_unit_gain_and_zero_bias() -> None:
    model = build("lstm", VECTOR, nlstm=16)
    weights = {w.name: w.numpy() for w in model.weights}
    assert weights["wx"].shape == (4, 64) and weights["wh"].shape == (16, 64)
    assert_orthogonal(weights["wx"], 1.0)
    assert_orthogonal(weights["wh"], 1.0)
    np.testing.assert_array_equal(weights["b"], 0.0)


def test_custom_network_can_be_registered_and_built_by_name() -> None:
    name = f"tiny_{uuid.uuid4().hex}"

    @register(name)
    def tiny(units: int = 3) -> models.NetworkFn:
        def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
            observations = keras.Input(shape=obs_shape, dtype=obs_dtype)
            return keras.Model(observations, keras.layers.Dense(units)(observations))

        return network_fn

    assert name in registered_networks()
    model = build(name, VECTOR, units=5)
    assert tuple(model(np.zeros((2, 4), np.float32)).shape) == (2, 5)
    with pytest.raises(TypeError, match="units"):
        get_network_builder(name)(width=5)
    with pytest.warns(UserWarning, match=f"network '{name}' was registered before; the new builder replaces it"):
        register(name)(lambda: tiny(units=7))  # baselines: a later registration wins
    assert tuple(build(name, VECTOR)(np.zeros((2, 4), np.float32)).shape) == (2, 7)


def test_unknown_network_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="unknown network 'resnet9000'") as error:
        get_network_builder("resnet9000")
    for name in ("mlp", "cnn", "lstm", "impala_cnn"):
        assert name in str(error.value)


def test_unknown_builder_kwarg_names_the_valid_ones() -> None:
    with pytest.raises(TypeError, match="num_hiden") as error:
        get_network_builder("mlp")(num_hiden=32)
    for valid in ("num_layers", "num_hidden", "activation", "layer_norm"):
        assert valid in str(error.value)


def test_builder_kwargs_change_the_network() -> None:
    model = build("mlp", VECTOR, num_layers=3, num_hidden=8, activation="relu", layer_norm=True)
    latent = model(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    assert tuple(latent.shape) == (5, 8)
    assert np.all(latent.numpy() >= 0.0)  # ReLU output
    assert tuple(build("conv_only", IMAGE, convs=[(8, 4, 2)], padding="valid").output.shape) == (None, 41 * 41 * 8)


def test_image_networks_reject_unsuitable_observations() -> None:
    with pytest.raises(ValueError, match="needs image observations"):
        build("cnn", VECTOR)
    with pytest.raises(ValueError, match="too small"):
        build("cnn", ((20, 20, 1), "uint8"))
    with pytest.raises(ValueError, match="padding"):
        build("cnn_small", IMAGE, padding="full")


def reference_lstm(
    inputs: np.ndarray, masks: np.ndarray, state: np.ndarray, weights: dict[str, np.ndarray], layer_norm: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Baselines' lstm / lnlstm written out in NumPy: inputs [N, T, d] -> (hidden [N, T, u], [cell, hidden])."""

    def norm(x: np.ndarray, gain: str, shift: str) -> np.ndarray:
        if not layer_norm:
            return x
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * weights[gain] + weights[shift]

    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    units = state.shape[1] // 2
    cell, hidden = state[:, :units], state[:, units:]
    outputs = []
    for t in range(inputs.shape[1]):
        keep = 1.0 - masks[:, t : t + 1]
        cell, hidden = cell * keep, hidden * keep
        z = norm(inputs[:, t] @ weights["wx"], "gx", "bx") + norm(hidden @ weights["wh"], "gh", "bh") + weights["b"]
        i, f, o, u = np.split(z, 4, axis=-1)
        cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(u)
        hidden = sigmoid(o) * np.tanh(norm(cell, "gc", "bc"))
        outputs.append(hidden)
    return np.stack(outputs, axis=1), np.concatenate([cell, hidden], axis=-1)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_lstm_matches_baselines_equations(layer_norm: bool) -> None:
    model = build("lstm", VECTOR, nlstm=8, layer_norm=layer_norm)
    rng = np.random.default_rng(2)
    for variable in model.weights:  # move biases, gains and shifts off their 0/1 init so every term counts
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype(np.float32))
    obs, _, state = recurrent_inputs(model, VECTOR, n=3, t=4)
    masks = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1]], np.float32)
    latent_seq, final_state = model((obs, masks, state))
    weights = {w.name: w.numpy() for w in model.weights}
    expected_seq, expected_state = reference_lstm(obs, masks, state, weights, layer_norm)
    np.testing.assert_allclose(latent_seq, expected_seq, atol=1e-5)
    np.testing.assert_allclose(final_state, expected_state, atol=1e-5)


@pytest.mark.parametrize(("name", "spec"), [("lstm", VECTOR), ("cnn_lnlstm", IMAGE)])
def test_mask_resets_the_state_before_its_step(name: str, spec: tuple) -> None:
    model = build(name, spec, nlstm=16)
    obs, _, state = recurrent_inputs(model, spec, n=2, t=2)
    latent_seq, _ = model((obs, np.array([[0, 1], [0, 1]], np.float32), state))
    alone_seq, _ = model((obs[:, 1:], np.ones((2, 1), np.float32), model.initial_state(2)))
    np.testing.assert_allclose(latent_seq[:, 1], alone_seq[:, 0], atol=1e-6)
    from_zero, _ = model((obs[:, :1], np.zeros((2, 1), np.float32), model.initial_state(2)))
    assert not np.allclose(latent_seq[:, 0], from_zero[:, 0])  # without a mask the incoming state matters


@pytest.mark.parametrize(("name", "spec"), [("lstm", VECTOR), ("cnn_lstm", IMAGE)])
def test_step_by_step_unroll_equals_full_sequence(name: str, spec: tuple) -> None:
    model = build(name, spec, nlstm=16)
    obs, _, state = recurrent_inputs(model, spec, n=2, t=5)
    masks = np.array([[1, 0, 0, 1, 0], [0, 0, 1, 0, 0]], np.float32)
    full_seq, full_state = model((obs, masks, state))
    carried = state
    for t in range(5):
        step_latent, carried = model((obs[:, t : t + 1], masks[:, t : t + 1], carried))
        np.testing.assert_allclose(step_latent[:, 0], full_seq[:, t], atol=1e-5)
    np.testing.assert_allclose(carried, full_state, atol=1e-5)


def test_recurrent_network_composes_into_a_functional_model_and_trains() -> None:
    network = build("lstm", VECTOR, nlstm=8, layer_norm=True)
    obs_in, masks_in, state_in = keras.Input((3, 4)), keras.Input((3,)), keras.Input((network.state_size,))
    latent_seq, final_state = network((obs_in, masks_in, state_in))
    policy = keras.Model([obs_in, masks_in, state_in], [keras.layers.Dense(2)(latent_seq), final_state])
    inputs = recurrent_inputs(network, VECTOR, n=2, t=3)
    with tf.GradientTape() as tape:
        logits, _ = policy(list(inputs))
        loss = tf.reduce_sum(tf.square(logits))
    grads = tape.gradient(loss, policy.trainable_variables)
    assert len(grads) == len(policy.trainable_variables) == 9 + 2  # wx wh b gx bx gh bh gc bc + head
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


ALL_NETWORKS = [(name, spec) for name, spec, _ in FEED_FORWARD] + RECURRENT


def outputs_of(model: keras.Model, spec: tuple) -> list[np.ndarray]:
    if is_recurrent(model):
        return [np.asarray(x) for x in model(recurrent_inputs(model, spec, n=2, t=3, seed=5))]
    return [np.asarray(model(random_obs(np.random.default_rng(5), (2,), spec)))]


@pytest.mark.parametrize(("name", "spec"), ALL_NETWORKS)
def test_weights_round_trip_through_h5(name: str, spec: tuple, tmp_path: Path) -> None:
    kwargs = {"nlstm": 16} if (name, spec) in RECURRENT else {}
    saved = build(name, spec, **kwargs)
    path = tmp_path / f"{name}.weights.h5"
    saved.save_weights(path)
    rebuilt = build(name, spec, **kwargs)
    expected = outputs_of(saved, spec)
    assert not all(np.allclose(a, b) for a, b in zip(expected, outputs_of(rebuilt, spec)))  # fresh random init
    rebuilt.load_weights(path)
    for before, after in zip(expected, outputs_of(rebuilt, spec)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(("name", "spec"), ALL_NETWORKS)
def test_network_runs_in_tf_function_and_traces_once(name: str, spec: tuple) -> None:
    kwargs = {"nlstm": 16} if (name, spec) in RECURRENT else {}
    model = build(name, spec, **kwargs)
    if is_recurrent(model):
        step = tf.function(lambda obs, masks, state: model((obs, masks, state)))
        for seed in (0, 1):
            eager = model(recurrent_inputs(model, spec, n=2, t=3, seed=seed))
            compiled = step(*recurrent_inputs(model, spec, n=2, t=3, seed=seed))
            np.testing.assert_allclose(compiled[0], eager[0], atol=1e-5)
    else:
        step = tf.function(lambda obs: model(obs))
        for seed in (0, 1):
            obs = random_obs(np.random.default_rng(seed), (2,), spec)
            np.testing.assert_allclose(step(tf.constant(obs)), model(obs), atol=1e-5)
    assert step.experimental_get_tracing_count() == 1
