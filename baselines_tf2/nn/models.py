"""Network registry: baselines' torso names (mlp, cnn, lstm, ...) as Keras 3 models mapping observations to latents.

A builder takes the network's keyword arguments and returns `network_fn(obs_shape, obs_dtype) -> keras.Model`,
so policies can build the torso once they know the observation space (the baselines contract). Builders written
for baselines may return its tf2 branch's `network_fn(input_shape) -> keras.Model` or its master's
`network_fn(X) -> tensor` instead; `as_network_fn` turns those into the two-argument form.
"""

from __future__ import annotations

import functools
import inspect
import math
import typing
import warnings
from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

from baselines_tf2.common.validation import ArgumentError, require_int

NetworkFn = Callable[[tuple[int, ...], str], keras.Model]
NetworkBuilder = Callable[..., NetworkFn]

TORSO_GAIN = math.sqrt(2.0)  # baselines' init_scale for every torso layer
LSTM_GAIN = 1.0  # baselines' `lstm`/`lnlstm` default init_scale
LAYER_NORM_EPSILON = 1e-5  # baselines' `_ln` epsilon
NATURE_CNN_CONVS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))  # (filters, kernel, stride), Mnih et al. 2015
SMALL_CNN_CONVS = ((8, 8, 4), (16, 4, 2))
A3C_CNN_CONVS = ((16, 8, 4), (32, 4, 2))  # Mnih et al. 2016, baselines' ppo1 CnnPolicy(kind='small')
PADDINGS = ("valid", "same")

_REGISTRY: dict[str, NetworkBuilder] = {}
_RECURRENT: set[str] = set()  # names of the registered networks that carry a state


def register(name: str, recurrent: bool = False) -> Callable[[NetworkBuilder], NetworkBuilder]:
    """Decorator: make a builder available as `get_network_builder(name)`; its kwargs are checked on every call.
    `recurrent` marks networks that carry a state (so a learner that cannot train them can refuse the name).
    Registering a name again replaces the builder, as in baselines (with a warning)."""

    def decorator(builder: NetworkBuilder) -> NetworkBuilder:
        if name in _REGISTRY:
            warnings.warn(f"network {name!r} was registered before; the new builder replaces it", stacklevel=2)
        checked = _with_checked_kwargs(name, builder)
        _REGISTRY[name] = checked
        if recurrent:
            _RECURRENT.add(name)
        else:
            _RECURRENT.discard(name)
        return checked

    return decorator


def get_network_builder(name: str | NetworkBuilder) -> NetworkBuilder:
    """The builder registered under `name`, e.g. get_network_builder("cnn")(padding="valid"); a callable is returned
    as it is, as in baselines."""
    if callable(name):
        return name
    if name not in _REGISTRY:
        raise ArgumentError(f"unknown network {name!r}; registered networks: {registered_networks()}")
    return _REGISTRY[name]


def with_builder_defaults(network: object, network_kwargs: object) -> object:
    """`network_kwargs` with the defaults of the builder registered as `network` filled in (anything else as is)."""
    if not isinstance(network, str) or not isinstance(network_kwargs, dict) or network not in _REGISTRY:
        return network_kwargs
    parameters = inspect.signature(_REGISTRY[network]).parameters.values()
    return {**{p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}, **network_kwargs}


def is_recurrent_network(name: str) -> bool:
    """Whether the network registered as `name` carries a state (lstm, cnn_lstm, cnn_lnlstm)."""
    return name in _RECURRENT


def registered_networks() -> list[str]:
    """Names accepted by `get_network_builder`, sorted."""
    return sorted(_REGISTRY)


def is_recurrent(model: keras.Model) -> bool:
    """True for models built by a recurrent builder (they take (obs_seq, masks, state) and return a state)."""
    return getattr(model, "recurrent", False) is True


def _with_checked_kwargs(name: str, builder: NetworkBuilder) -> NetworkBuilder:
    """Wrap `builder` so an unknown keyword raises a TypeError that lists the keywords it does take."""
    parameters = inspect.signature(builder).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    valid = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]

    @functools.wraps(builder)
    def checked(*args: object, **network_kwargs: object) -> NetworkFn:
        if len(args) > len(positional):
            raise TypeError(f"network {name!r} takes at most {len(positional)} positional argument(s) "
                            f"{positional}, got {len(args)}")
        for parameter, value in zip(positional, args):  # baselines' builders took their kwargs by position too
            if parameter in network_kwargs:
                raise TypeError(f"network {name!r} got {parameter!r} both by position and by keyword")
            network_kwargs[parameter] = value
        unknown = sorted(set(network_kwargs) - set(valid))
        if unknown and not takes_any:
            raise TypeError(f"network {name!r} got unexpected keyword argument(s) {unknown}; valid: {valid}")
        return as_network_fn(builder(**network_kwargs), name)

    return checked


NETWORK_FN_FORMS = (
    "network_fn(obs_shape, obs_dtype) -> keras.Model, or baselines' tf2-branch network_fn(input_shape) -> "
    "keras.Model, or baselines master's network_fn(X) -> Keras tensor (one parameter named X)"
)


def as_network_fn(network_fn: object, name: str = "network_fn") -> NetworkFn:
    """`network_fn` in this project's two-argument form; the form is read from its signature.

    Two required positional parameters: (obs_shape, obs_dtype), returned as is. One, named `X` (baselines
    master's name for the observation tensor): it maps a float32 Keras tensor of the observations, unscaled as
    baselines' placeholder was, to the latent tensor. One with another name: baselines' tf2 branch, called with the
    observation shape; its model may declare another input dtype (Keras casts to it) and return a one-item list.
    """
    if not callable(network_fn):
        raise TypeError(f"network {name!r}: the builder must return a network_fn, got {network_fn!r}")
    try:
        signature = inspect.signature(network_fn)
    except (TypeError, ValueError):  # some builtins and C callables have no signature to read
        signature = None
    parameters = list(signature.parameters.values()) if signature is not None else []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p.name for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty]
    if len(required) == 2:
        return typing.cast(NetworkFn, network_fn)
    if required == ["X"]:
        return functools.partial(_tensor_network, network_fn, name)
    if len(required) == 1:
        return functools.partial(_shape_network, network_fn, name)
    shown = f"{getattr(network_fn, '__name__', 'network_fn')}{signature if signature is not None else '(?)'}"
    raise TypeError(f"network {name!r}: its network_fn {shown} fits none of the accepted forms: "
                    f"{NETWORK_FN_FORMS}")


def _shape_network(network_fn: Callable[[tuple[int, ...]], keras.Model], name: str, obs_shape: tuple[int, ...],
                   obs_dtype: str) -> keras.Model:
    """Baselines' tf2-branch form: the model `network_fn(obs_shape)` builds, taking observations of `obs_dtype`."""
    model = network_fn(tuple(obs_shape))
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"network {name!r}: network_fn(input_shape) must return a keras.Model, got {model!r}")
    observations = keras.Input(shape=tuple(obs_shape), dtype=np.dtype(obs_dtype).name, name="observations")
    return keras.Model(observations, _single_output(model(observations), name), name=f"{name}_torso")


def _tensor_network(network_fn: Callable[[keras.KerasTensor], keras.KerasTensor], name: str,
                    obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
    """Baselines master's form: `network_fn(X)` applied to the observations as a float32 Keras tensor."""
    observations = keras.Input(shape=tuple(obs_shape), dtype=np.dtype(obs_dtype).name, name="observations")
    x = observations
    if np.dtype(obs_dtype).name != "float32":
        x = keras.layers.Rescaling(1.0, name="cast_to_float32")(observations)  # a cast: baselines' X was unscaled
    return keras.Model(observations, _single_output(network_fn(x), name), name=f"{name}_torso")


def _single_output(outputs: object, name: str) -> keras.KerasTensor:
    """The one latent tensor of a network: a one-item list (as `keras.Model(outputs=[h])` returns) and baselines'
    feed-forward `(h, None)` (its "(output_tensor, extra_feed)" form) are unpacked."""
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
        outputs = outputs[0]
    elif isinstance(outputs, tuple) and len(outputs) == 2 and outputs[1] is None:
        outputs = outputs[0]
    if not isinstance(outputs, keras.KerasTensor):
        raise TypeError(f"network {name!r}: network_fn must produce one Keras tensor (the latent), got {outputs!r}; "
                        "recurrent networks register a two-argument network_fn with recurrent=True")
    return outputs


# ---- building blocks -------------------------------------------------------------------------------


def _orthogonal(gain: float) -> keras.initializers.Initializer:
    return keras.initializers.Orthogonal(gain=gain)


def _observation_input(obs_shape: Sequence[int], obs_dtype: str) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input layer in the observation's own dtype, and its float32 view: uint8 is scaled to [0, 1] in the graph."""
    shape = tuple(int(d) for d in obs_shape)
    dtype = np.dtype(obs_dtype).name
    observations = keras.Input(shape=shape, dtype=dtype, name="observations")
    if dtype == "uint8":
        return observations, keras.layers.Rescaling(1.0 / 255.0, name="scale_to_unit")(observations)
    if dtype != "float32":
        return observations, keras.layers.Rescaling(1.0, name="cast_to_float32")(observations)
    return observations, observations


def _require_image(network: str, obs_shape: Sequence[int]) -> None:
    if len(obs_shape) != 3:
        raise ArgumentError(f"network {network!r} needs image observations (height, width, channels), got {obs_shape}")


def _check_convs_fit(
    network: str, obs_shape: Sequence[int], convs: Sequence[tuple[int, int, int]], padding: str
) -> None:
    """Raise if the conv stack shrinks the image below 1x1 (Keras' own error names no network or input)."""
    if padding not in PADDINGS:
        raise ArgumentError(f"padding must be one of {PADDINGS}, got {padding!r}")
    height, width = obs_shape[0], obs_shape[1]
    for _, kernel, stride in convs:
        if padding == "valid":
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
        else:
            height, width = -(-height // stride), -(-width // stride)
        if height < 1 or width < 1:
            raise ArgumentError(f"observations of shape {tuple(obs_shape)} are too small for network {network!r}")


def _conv_stack(
    x: keras.KerasTensor,
    convs: Sequence[tuple[int, int, int]],
    padding: str,
    kernel_initializer: keras.initializers.Initializer | str,
) -> keras.KerasTensor:
    for index, (filters, kernel, stride) in enumerate(convs, start=1):
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=padding,
            activation="relu",
            kernel_initializer=kernel_initializer,
            name=f"conv{index}",
        )(x)
    return x


def _conv_torso(
    network: str, obs_shape: Sequence[int], obs_dtype: str, convs: Sequence[tuple[int, int, int]], padding: str,
    dense_units: int, name: str,
) -> keras.Model:
    """ReLU convs, flatten, one dense ReLU layer: the shape of the Nature CNN and of cnn_small.

    `network` is the registered name errors report, `name` the Keras model's.
    """
    _require_image(network, obs_shape)
    _check_convs_fit(network, obs_shape, convs, padding)
    observations, x = _observation_input(obs_shape, obs_dtype)
    x = _conv_stack(x, convs, padding, _orthogonal(TORSO_GAIN))
    x = keras.layers.Flatten()(x)
    latent = keras.layers.Dense(
        dense_units, activation="relu", kernel_initializer=_orthogonal(TORSO_GAIN), name="fc1"
    )(x)
    return keras.Model(observations, latent, name=name)


def _padding(padding: str, pad: str | None) -> str:
    """The conv padding to use: `pad` is baselines' name for it ('VALID' or 'SAME'), and wins when given."""
    return padding if pad is None else str(pad).lower()


def _nature_cnn_model(obs_shape: Sequence[int], obs_dtype: str, padding: str) -> keras.Model:
    """Nature-DQN torso (Mnih et al. 2015): three ReLU convs, flatten, dense 512 ReLU."""
    return _conv_torso("cnn", obs_shape, obs_dtype, NATURE_CNN_CONVS, padding, 512, name="nature_cnn")


# ---- feed-forward networks --------------------------------------------------------------------------


@register("mlp")
def mlp(
    num_layers: int = 2, num_hidden: int = 64, activation: str | Callable = "tanh", layer_norm: bool = False
) -> NetworkFn:
    """Fully connected torso: flatten, then `num_layers` x (dense `num_hidden` [-> layer norm] -> activation)."""
    num_layers = require_int("num_layers", num_layers, minimum=0)
    num_hidden = require_int("num_hidden", num_hidden, minimum=1)

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        observations, x = _observation_input(obs_shape, obs_dtype)
        x = keras.layers.Flatten()(x)
        for index in range(num_layers):
            x = keras.layers.Dense(num_hidden, kernel_initializer=_orthogonal(TORSO_GAIN), name=f"mlp_fc{index}")(x)
            if layer_norm:
                x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=f"mlp_ln{index}")(x)
            x = keras.layers.Activation(activation)(x)
        return keras.Model(observations, x, name="mlp")

    return network_fn


@register("cnn")
def cnn(padding: str = "valid", pad: str | None = None) -> NetworkFn:
    """Nature-DQN torso: conv 32 8x8 s4, 64 4x4 s2, 64 3x3 s1, dense 512, all ReLU (baselines' nature_cnn)."""
    padding = _padding(padding, pad)

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        return _nature_cnn_model(obs_shape, obs_dtype, padding)

    return network_fn


@register("cnn_small")
def cnn_small(padding: str = "valid", pad: str | None = None) -> NetworkFn:
    """Small conv torso: conv 8 8x8 s4, 16 4x4 s2, dense 128, all ReLU."""
    padding = _padding(padding, pad)

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        return _conv_torso("cnn_small", obs_shape, obs_dtype, SMALL_CNN_CONVS, padding, 128, name="cnn_small")

    return network_fn


@register("cnn_a3c")
def cnn_a3c(padding: str = "valid") -> NetworkFn:
    """The A3C paper's torso: conv 16 8x8 s4, 32 4x4 s2, dense 256, all ReLU (baselines' ppo1 'small' CnnPolicy)."""

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        return _conv_torso("cnn_a3c", obs_shape, obs_dtype, A3C_CNN_CONVS, padding, 256, name="cnn_a3c")

    return network_fn


@register("conv_only")
def conv_only(convs: Sequence[tuple[int, int, int]] = NATURE_CNN_CONVS, padding: str = "same") -> NetworkFn:
    """ReLU conv stack flattened at the end (the DQN torso); Glorot-uniform kernels as baselines' conv_only.
    `padding` is 'same' or 'valid', in any case (baselines passed TF1's 'SAME'/'VALID')."""
    padding = str(padding).lower()
    as_ints = tuple(tuple(int(v) for v in conv) for conv in convs)
    if not as_ints or any(len(conv) != 3 or min(conv) < 1 for conv in as_ints):
        raise ArgumentError(f"convs must be a non-empty sequence of positive (filters, kernel, stride), got {as_ints}")
    convs = tuple((filters, kernel, stride) for filters, kernel, stride in as_ints)  # each has 3 items (checked)

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        _require_image("conv_only", obs_shape)
        _check_convs_fit("conv_only", obs_shape, convs, padding)
        observations, x = _observation_input(obs_shape, obs_dtype)
        x = _conv_stack(x, convs, padding, "glorot_uniform")
        latent = keras.layers.Flatten()(x)
        return keras.Model(observations, latent, name="conv_only")

    return network_fn


@register("impala_cnn")
def impala_cnn(depths: Sequence[int] = (16, 32, 32)) -> NetworkFn:
    """IMPALA residual torso (Espeholt et al. 2018): per depth conv 3x3, max-pool 3x3 s2, two residual blocks."""
    depths = tuple(int(d) for d in depths)
    if not depths or min(depths) < 1:
        raise ArgumentError(f"depths must be a non-empty sequence of positive ints, got {depths}")

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        _require_image("impala_cnn", obs_shape)
        observations, x = _observation_input(obs_shape, obs_dtype)
        for stack, depth in enumerate(depths):
            x = keras.layers.Conv2D(depth, 3, padding="same", name=f"stack{stack}_conv")(x)
            x = keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name=f"stack{stack}_pool")(x)
            for block in range(2):
                x = _impala_residual_block(x, depth, name=f"stack{stack}_block{block}")
        x = keras.layers.Flatten()(x)
        x = keras.layers.ReLU()(x)
        latent = keras.layers.Dense(256, activation="relu", name="fc1")(x)
        return keras.Model(observations, latent, name="impala_cnn")

    return network_fn


def _impala_residual_block(inputs: keras.KerasTensor, depth: int, name: str) -> keras.KerasTensor:
    """x + conv(relu(conv(relu(x)))), both convs 3x3 SAME."""
    x = keras.layers.ReLU()(inputs)
    x = keras.layers.Conv2D(depth, 3, padding="same", name=f"{name}_conv0")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(depth, 3, padding="same", name=f"{name}_conv1")(x)
    return keras.layers.Add(name=f"{name}_add")([x, inputs])


# ---- recurrent networks -----------------------------------------------------------------------------


def _layer_norm(x: keras.KerasTensor, gain: keras.Variable, shift: keras.Variable) -> keras.KerasTensor:
    """Normalise over the last axis, then scale and shift (baselines' `_ln`)."""
    mean, variance = ops.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON) * gain + shift


class MaskedLSTM(keras.layers.Layer):
    """Baselines' LSTM (`lstm` / `lnlstm` in a2c/utils.py) unrolled over time, zeroing the state where masks are 1.

    Gates are split i, f, o, u from x @ wx + h @ wh + b (forget bias 0); the state is [cell, hidden] concatenated.
    """

    def __init__(self, input_dim: int, units: int, layer_norm: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.layer_norm = layer_norm
        gates = 4 * units
        self.input_kernel = self.add_weight(shape=(input_dim, gates), initializer=_orthogonal(LSTM_GAIN), name="wx")
        self.recurrent_kernel = self.add_weight(shape=(units, gates), initializer=_orthogonal(LSTM_GAIN), name="wh")
        self.bias = self.add_weight(shape=(gates,), initializer="zeros", name="b")
        if layer_norm:
            self.input_gain = self.add_weight(shape=(gates,), initializer="ones", name="gx")
            self.input_shift = self.add_weight(shape=(gates,), initializer="zeros", name="bx")
            self.recurrent_gain = self.add_weight(shape=(gates,), initializer="ones", name="gh")
            self.recurrent_shift = self.add_weight(shape=(gates,), initializer="zeros", name="bh")
            self.cell_gain = self.add_weight(shape=(units,), initializer="ones", name="gc")
            self.cell_shift = self.add_weight(shape=(units,), initializer="zeros", name="bc")
        self.built = True

    def call(self, features: keras.KerasTensor, masks: keras.KerasTensor, state: keras.KerasTensor) -> tuple:
        """features [N, T, d], masks [N, T], state [N, 2*units] -> (hidden states [N, T, units], final state)."""
        input_gates = ops.matmul(features, self.input_kernel)  # all steps at once; only h @ wh is sequential
        if self.layer_norm:
            input_gates = _layer_norm(input_gates, self.input_gain, self.input_shift)
        # gates and episode starts scanned as one tensor [T, N, 4 * units + 1]: Keras' TF scan fails on several
        # sequences whose length T is not static, as in training minibatches
        gates_and_starts = ops.concatenate([input_gates, ops.cast(masks, features.dtype)[..., None]], axis=-1)
        time_major = ops.transpose(gates_and_starts, (1, 0, 2))
        cell, hidden = ops.split(state, 2, axis=-1)
        (cell, hidden), (_, hiddens) = ops.scan(self._step, (cell, hidden), time_major)
        return ops.transpose(hiddens, (1, 0, 2)), ops.concatenate([cell, hidden], axis=-1)

    def _step(self, carry: tuple, gates_and_starts: keras.KerasTensor) -> tuple:
        """One time step: reset where an episode starts (the last column), then the LSTM update.

        Returns the new (cell, hidden) as both carry and output: Keras' TF scan needs them to share a structure.
        """
        cell, hidden = carry
        input_gates, episode_start = gates_and_starts[:, :-1], gates_and_starts[:, -1:]
        keep = 1.0 - episode_start
        cell, hidden = cell * keep, hidden * keep
        recurrent_gates = ops.matmul(hidden, self.recurrent_kernel)
        if self.layer_norm:
            recurrent_gates = _layer_norm(recurrent_gates, self.recurrent_gain, self.recurrent_shift)
        input_gate, forget_gate, output_gate, update = ops.split(input_gates + recurrent_gates + self.bias, 4, axis=-1)
        cell = ops.sigmoid(forget_gate) * cell + ops.sigmoid(input_gate) * ops.tanh(update)
        cell_out = _layer_norm(cell, self.cell_gain, self.cell_shift) if self.layer_norm else cell
        hidden = ops.sigmoid(output_gate) * ops.tanh(cell_out)
        return (cell, hidden), (cell, hidden)


class RecurrentNetwork(keras.Model):
    """Per-step feature extractor applied to all N*T observations at once, then a MaskedLSTM over T.

    Call as model((obs_seq [N, T, *obs], masks [N, T], state [N, state_size])) -> (latent_seq [N, T, nlstm], state).
    masks[n, t] = 1.0 means an episode starts at step t, so the state is zeroed before that step (baselines' M).
    """

    recurrent = True

    def __init__(self, feature_extractor: keras.Model, nlstm: int, layer_norm: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if nlstm < 1:
            raise ArgumentError(f"nlstm must be >= 1, got {nlstm}")
        self.feature_extractor = feature_extractor
        self.obs_shape = tuple(feature_extractor.input_shape[1:])
        self.nlstm = nlstm
        self.state_size = 2 * nlstm
        self.lstm = MaskedLSTM(feature_extractor.output_shape[-1], nlstm, layer_norm, name="lstm")
        self.built = True

    def call(self, inputs: tuple) -> tuple:
        obs_seq, masks, state = inputs
        if tuple(obs_seq.shape[2:]) != self.obs_shape:
            raise ValueError(f"obs_seq must have shape [N, T, *{self.obs_shape}], got {tuple(obs_seq.shape)}")
        batch, steps = ops.shape(obs_seq)[0], ops.shape(obs_seq)[1]
        flat_features = self.feature_extractor(ops.reshape(obs_seq, (-1, *self.obs_shape)))
        features = ops.reshape(flat_features, (batch, steps, flat_features.shape[-1]))
        return self.lstm(features, masks, state)

    def initial_state(self, batch_size: int) -> np.ndarray:
        """Zero state for `batch_size` environments, float32 [batch_size, state_size]."""
        return np.zeros((batch_size, self.state_size), dtype=np.float32)


def _flatten_features(obs_shape: Sequence[int], obs_dtype: str) -> keras.Model:
    """The `lstm` network's per-step extractor: the observation flattened to a float32 vector."""
    observations, x = _observation_input(obs_shape, obs_dtype)
    return keras.Model(observations, keras.layers.Flatten()(x), name="flatten")


@register("lstm", recurrent=True)
def lstm(nlstm: int = 128, layer_norm: bool = False) -> NetworkFn:
    """LSTM over flattened observations (baselines' `lstm` network)."""

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> RecurrentNetwork:
        return RecurrentNetwork(_flatten_features(obs_shape, obs_dtype), nlstm, layer_norm, name="lstm_network")

    return network_fn


@register("cnn_lstm", recurrent=True)
def cnn_lstm(nlstm: int = 128, layer_norm: bool = False, padding: str = "valid", pad: str | None = None) -> NetworkFn:
    """LSTM over Nature-CNN features (baselines' `cnn_lstm`)."""
    padding = _padding(padding, pad)

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> RecurrentNetwork:
        features = _nature_cnn_model(obs_shape, obs_dtype, padding)
        return RecurrentNetwork(features, nlstm, layer_norm, name="cnn_lstm_network")

    return network_fn


@register("impala_cnn_lstm", recurrent=True)
def impala_cnn_lstm(nlstm: int = 256, layer_norm: bool = False, depths: Sequence[int] = (16, 32, 32)) -> NetworkFn:
    """LSTM (256 units) over IMPALA-CNN features (baselines' `impala_cnn_lstm`)."""

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> RecurrentNetwork:
        features = impala_cnn(depths=depths)(obs_shape, obs_dtype)
        return RecurrentNetwork(features, nlstm, layer_norm, name="impala_cnn_lstm_network")

    return network_fn


@register("cnn_lnlstm", recurrent=True)
def cnn_lnlstm(nlstm: int = 128, padding: str = "valid", pad: str | None = None) -> NetworkFn:
    """cnn_lstm with the layer-normalised LSTM cell (baselines' `cnn_lnlstm`)."""
    return cnn_lstm(nlstm=nlstm, layer_norm=True, padding=padding, pad=pad)


# ---- baselines' tensor-in, tensor-out helpers ---------------------------------------------------------


def _apply_torso(unscaled_images: keras.KerasTensor, network_fn: NetworkFn, name: str) -> keras.KerasTensor:
    """Divide the frames by 255 as baselines' helpers did, then apply `network_fn`'s torso as a nested model.

    The nested model gets a unique name, so one model can call the helper more than once (policy and value).
    """
    if np.dtype(unscaled_images.dtype).name == "uint8":
        x, dtype = unscaled_images, "uint8"  # the torso's input layer scales uint8 frames itself
    else:
        x, dtype = keras.layers.Rescaling(1.0 / 255.0)(unscaled_images), "float32"
    torso = network_fn(tuple(int(d) for d in x.shape[1:]), dtype)
    unique = keras.Model(torso.inputs[0], torso.outputs[0], name=f"{name}_{keras.backend.get_uid(name)}")
    return unique(x)


def nature_cnn(unscaled_images: keras.KerasTensor, padding: str = "valid") -> keras.KerasTensor:
    """baselines' `nature_cnn(unscaled_images)`: frames [B, H, W, C] (0..255) -> 512 ReLU features [B, 512].

    The same torso as `network='cnn'`, for a Keras tensor (e.g. a `keras.Input`) in a functional model.
    """
    return _apply_torso(unscaled_images, cnn(padding=padding), "nature_cnn")


def build_impala_cnn(unscaled_images: keras.KerasTensor, depths: Sequence[int] = (16, 32, 32)) -> keras.KerasTensor:
    """baselines' `build_impala_cnn(unscaled_images, depths)`: frames (0..255) -> 256 ReLU features [B, 256].

    The same torso as `network='impala_cnn'`, for a Keras tensor in a functional model.
    """
    return _apply_torso(unscaled_images, impala_cnn(depths=depths), "impala_cnn")
