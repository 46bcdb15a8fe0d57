"""TF1 baselines' saved variables (name -> array, as `save_variables` writes them) onto our actor-critic's weights.

Names in a ppo2 file (a2c: `a2c_model/` instead of `ppo2_model/`), with the array shapes and where each goes:
    ppo2_model/pi/c1/w:0         [kh, kw, in, out]  conv1 kernel (same layout, NHWC)
    ppo2_model/pi/c1/b:0         [1, out, 1, 1]     conv1 bias [out] (older baselines: [out] or [1, 1, 1, out])
    ppo2_model/pi/fc1/w:0, b:0   [in, out], [out]   fc1 (the flatten before it is NHWC in both)
    ppo2_model/pi/mlp_fc0/w:0    [in, out]          mlp_fc0, likewise mlp_fc1, ...
    ppo2_model/pi/w:0, b:0       [latent, n]        policy head `pi` (logits; for Box actions the Gaussian's mean)
    ppo2_model/pi/logstd:0       [1, n]             Box actions: logstd [n]
    ppo2_model/vf/w:0, b:0       [latent, 1], [1]   value head `vf`
    ppo2_model/vf/<layer>/...                       value_network='copy': the value torso's layers
Optimizer state (`.../Adam:0`, `.../Adam_1:0`, `.../RMSProp:0`, `beta1_power:0`, ...) is recognised and left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import numpy as np

from baselines_tf2.nn.distributions import DiagGaussianHead

SCOPES = {"ppo2": "ppo2_model", "a2c": "a2c_model"}
OPTIMIZER_SLOT = re.compile(r"(^|/)(Adam|RMSProp|Momentum)(_\d+)?:\d+$")
OPTIMIZER_GLOBAL = re.compile(r"^beta[12]_power(_\d+)?:\d+$")
MLP_KERNEL = re.compile(r"^mlp_fc(\d+)/w:0$")


class VariableMismatchError(ValueError):
    """The saved variables do not fit the network built for the env: one is missing, unused, or misshapen."""


def is_optimizer_state(name: str) -> bool:
    """True for Adam/RMSProp slot variables and Adam's beta powers (training state, not the policy)."""
    return bool(OPTIMIZER_SLOT.search(name) or OPTIMIZER_GLOBAL.match(name))


def policy_variables(variables: Mapping[str, np.ndarray], alg: str) -> dict[str, np.ndarray]:
    """The policy's variables, keyed without `alg`'s scope ('pi/c1/w:0'); optimizer state dropped, nothing else."""
    scope = SCOPES[alg] + "/"
    kept, foreign = {}, []
    for name, value in variables.items():
        if name.startswith(scope) and not is_optimizer_state(name):
            kept[name[len(scope):]] = value
        elif not is_optimizer_state(name):
            foreign.append(name)
    if not kept:
        found = sorted({name.split("/")[0] for name in foreign})
        other = [a for a, s in SCOPES.items() if s in found]
        hint = f"; the file is from {other[0]}: pass --alg {other[0]}" if other else ""
        raise VariableMismatchError(f"no policy variables under {scope!r} (the file's scopes: {found}){hint}")
    if foreign:
        raise VariableMismatchError(
            f"{sorted(foreign)[0]!r} is neither a {alg} policy variable (under {scope!r}) nor optimizer state "
            f"({len(foreign)} such variable(s))"
        )
    return kept


def mlp_kwargs(variables: Mapping[str, np.ndarray]) -> dict[str, int]:
    """num_layers and (unless 0 layers) num_hidden of the `mlp` torso whose variables (scope removed) these are."""
    layers = sorted(int(m.group(1)) for name in variables if (m := MLP_KERNEL.match(name.removeprefix("pi/"))))
    if layers != list(range(len(layers))):
        raise VariableMismatchError(f"the mlp layers in the file are numbered {layers}; expected 0, 1, ...")
    widths = {int(np.shape(variables[f"pi/mlp_fc{index}/w:0"])[-1]) for index in layers}
    if len(widths) > 1:
        raise VariableMismatchError(f"the mlp layers have different widths {sorted(widths)}; ours share one width")
    return {"num_layers": len(layers), **({"num_hidden": widths.pop()} if widths else {})}


def uses_value_copy(variables: Mapping[str, np.ndarray]) -> bool:
    """Whether the file has a separate value torso (baselines' value_network='copy'): layers under vf/."""
    return any(name.startswith("vf/") and name not in ("vf/w:0", "vf/b:0") for name in variables)


def assign_from_baselines(policy: Any, variables: Mapping[str, np.ndarray], alg: str) -> None:
    """Set every weight of `policy` (a PolicyWithValue) from `alg`'s `policy_variables`; all must be used.

    Raises VariableMismatchError naming the first weight without a value, the first variable left unused, or the
    first shape that does not fit.
    """
    scope = SCOPES[alg] + "/"
    pending = dict(variables)
    values: dict[int, np.ndarray] = {}
    for variable, name, what in _slots(policy.net):
        if name not in pending:
            raise VariableMismatchError(f"{what} has no value: the file has no {scope + name!r}")
        values[id(variable)] = _fitted(pending.pop(name), variable, scope + name, what)
    if pending:
        unused = sorted(scope + name for name in pending)
        raise VariableMismatchError(
            f"{unused[0]!r} {list(np.shape(pending[unused[0][len(scope):]]))} is not used by this network; the "
            f"file was saved from another architecture ({len(unused)} unused variable(s): {unused[:5]})"
        )
    unset = [variable.path for variable in policy.net.weights if id(variable) not in values]
    if unset:
        raise VariableMismatchError(f"the network has weights baselines does not save: {unset}")
    policy.set_weights([values[id(variable)] for variable in policy.net.weights])


def _slots(net: keras.Model) -> Iterator[tuple[keras.Variable, str, str]]:
    """(our variable, the baselines name that fills it, a description of it in words) for every weight."""
    yield from _torso_slots(net.torso, "pi", "policy torso")
    if net.value_torso is not None:
        yield from _torso_slots(net.value_torso, "vf", "value torso")
    head = net.pd_head
    if isinstance(head, DiagGaussianHead):
        yield head.logstd, "pi/logstd:0", "the policy's logstd"
        head = head.mean_layer
    yield head.kernel, "pi/w:0", "the policy head's kernel"
    yield head.bias, "pi/b:0", "the policy head's bias"
    yield net.value_head.kernel, "vf/w:0", "the value head's kernel"
    yield net.value_head.bias, "vf/b:0", "the value head's bias"


def _torso_slots(torso: keras.Model, prefix: str, part: str) -> Iterator[tuple[keras.Variable, str, str]]:
    for layer in torso.layers:
        if not layer.weights:
            continue
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            raise VariableMismatchError(
                f"the {part} has a {type(layer).__name__} layer ({layer.name}); baselines models import into "
                "networks of dense and conv layers only (mlp without layer_norm, cnn, cnn_small)"
            )
        name = re.sub(r"^conv(\d+)$", r"c\1", layer.name)  # baselines' c1, c2, c3 are our conv1, conv2, conv3
        yield layer.kernel, f"{prefix}/{name}/w:0", f"{layer.name}'s kernel in the {part}"
        yield layer.bias, f"{prefix}/{name}/b:0", f"{layer.name}'s bias in the {part}"


def _fitted(array: np.ndarray, variable: keras.Variable, name: str, what: str) -> np.ndarray:
    """`array` in `variable`'s shape: equal shapes, or a bias/logstd whose extra dimensions are all 1."""
    array = np.asarray(array)
    shape = tuple(variable.shape)
    if not np.issubdtype(array.dtype, np.floating):
        raise VariableMismatchError(f"{name!r} holds {array.dtype} values; weights are floating point")
    squeezable = len(shape) == 1 and array.size == shape[0] and sum(d != 1 for d in array.shape) <= 1
    if array.shape != shape and not squeezable:
        raise VariableMismatchError(
            f"{name!r} has shape {list(array.shape)}, but {what} needs {list(shape)}: the model was trained on "
            "other observations or actions than this env's, or with other network settings"
        )
    return array.reshape(shape).astype(variable.dtype)
