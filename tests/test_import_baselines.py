"""Importing TF1 baselines models: weights land in the right layers, outputs match baselines' forward pass, and the
restricted unpickler refuses anything but numeric arrays (malicious files run nothing) or truncated files."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from baselines_tf2 import import_baselines
from baselines_tf2.tools.safe_unpickle import CorruptPickleError, UnsafePickleError, load_joblib_arrays
from baselines_tf2.training.agent import load_policy

QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def tf1_variables(scope: str, layers: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    """{TF1 name: random float32 array}, plus Adam/RMSProp slots and beta powers as GLOBAL_VARIABLES holds them."""
    rng = np.random.default_rng(seed)
    variables = {
        f"{scope}/{name}:0": (0.2 * rng.normal(size=shape)).astype(np.float32) for name, shape in layers.items()
    }
    slots = {name.replace(":0", "/Adam:0"): np.zeros_like(value) for name, value in variables.items()}
    slots |= {name.replace(":0", "/Adam_1:0"): np.zeros_like(value) for name, value in variables.items()}
    return {**variables, **slots, "beta1_power:0": np.float32(0.9), "beta2_power:0": np.float32(0.999)}


NATURE_CNN = {  # baselines' nature_cnn + policy and value heads for 4 actions; conv biases [1, nf, 1, 1] (a2c/utils.py)
    "pi/c1/w": (8, 8, 4, 32), "pi/c1/b": (1, 32, 1, 1), "pi/c2/w": (4, 4, 32, 64), "pi/c2/b": (1, 64, 1, 1),
    "pi/c3/w": (3, 3, 64, 64), "pi/c3/b": (1, 64, 1, 1), "pi/fc1/w": (3136, 512), "pi/fc1/b": (512,),
    "pi/w": (512, 4), "pi/b": (4,), "vf/w": (512, 1), "vf/b": (1,),
}
CARTPOLE_MLP = {  # mlp(num_layers=2, num_hidden=16) on CartPole: 4 observations, 2 actions
    "pi/mlp_fc0/w": (4, 16), "pi/mlp_fc0/b": (16,), "pi/mlp_fc1/w": (16, 16), "pi/mlp_fc1/b": (16,),
    "pi/w": (16, 2), "pi/b": (2,), "vf/w": (16, 1), "vf/b": (1,),
}
PENDULUM_MLP_COPY = {  # value_network='copy' and a Gaussian policy: 3 observations, 1 action dimension
    "pi/mlp_fc0/w": (3, 8), "pi/mlp_fc0/b": (8,), "pi/mlp_fc1/w": (8, 8), "pi/mlp_fc1/b": (8,),
    "vf/mlp_fc0/w": (3, 8), "vf/mlp_fc0/b": (8,), "vf/mlp_fc1/w": (8, 8), "vf/mlp_fc1/b": (8,),
    "pi/w": (8, 1), "pi/b": (1,), "pi/logstd": (1, 1), "vf/w": (8, 1), "vf/b": (1,),
}


def import_model(variables: dict[str, np.ndarray], tmp_path: Path, *args: str, compress: Any = 0) -> Path:
    """Write `variables` as baselines' save_variables does (joblib.dump of the dict), import it,
    return the checkpoint."""
    source, out = tmp_path / "baselines_model", tmp_path / "imported"
    joblib.dump(variables, source, compress=compress)
    assert import_baselines.main([str(source), *args, "--out", str(out)]) == 0
    return out


def test_cnn_weights_land_in_the_matching_layers(tmp_path: Path) -> None:
    variables = tf1_variables("ppo2_model", NATURE_CNN)
    out = import_model(variables, tmp_path, "--alg", "ppo2", "--network", "cnn", "--env", "BreakoutNoFrameskip-v4")
    policy, metadata, groups = load_policy(str(out), expected_alg="ppo2")
    assert metadata["imported_from"]["format"] == "baselines TF1 save_variables" and "optimizer" not in groups
    assert metadata["env"]["recipe"]["env_id"] == "BreakoutNoFrameskip-v4"
    source = {name.removeprefix("ppo2_model/").removesuffix(":0"): value for name, value in variables.items()}
    torso = policy.net.torso
    for ours, theirs in (("conv1", "c1"), ("conv2", "c2"), ("conv3", "c3"), ("fc1", "fc1")):
        layer = torso.get_layer(ours)
        np.testing.assert_array_equal(layer.kernel.numpy(), source[f"pi/{theirs}/w"], err_msg=ours)
        np.testing.assert_array_equal(layer.bias.numpy(), source[f"pi/{theirs}/b"].reshape(-1), err_msg=ours)
    np.testing.assert_array_equal(policy.net.pd_head.kernel.numpy(), source["pi/w"])
    np.testing.assert_array_equal(policy.net.pd_head.bias.numpy(), source["pi/b"])
    np.testing.assert_array_equal(policy.net.value_head.kernel.numpy(), source["vf/w"])
    np.testing.assert_array_equal(policy.net.value_head.bias.numpy(), source["vf/b"])


def tf1_mlp_forward(w: dict[str, np.ndarray], obs: np.ndarray, torso: str) -> np.ndarray:
    """baselines' mlp torso: tanh(x @ w + b) per layer (baselines/common/models.py)."""
    h = obs.astype(np.float32)
    for index in range(2):
        h = np.tanh(h @ w[f"{torso}/mlp_fc{index}/w"] + w[f"{torso}/mlp_fc{index}/b"])
    return h


def test_mlp_outputs_equal_baselines_forward_pass(tmp_path: Path) -> None:
    variables = tf1_variables("a2c_model", CARTPOLE_MLP, seed=1)
    out = import_model(variables, tmp_path, "--alg", "a2c", "--network", "mlp", "--env", "CartPole-v1")
    policy, metadata, _ = load_policy(str(out), expected_alg="a2c")
    assert metadata["network_kwargs"] == {"num_hidden": 16}  # num_layers=2 is our default, so not recorded
    w = {name.removeprefix("a2c_model/").removesuffix(":0"): value for name, value in variables.items()}
    obs = np.random.default_rng(2).uniform(-2, 2, (32, 4)).astype(np.float32)
    latent = tf1_mlp_forward(w, obs, "pi")
    logits, values = latent @ w["pi/w"] + w["pi/b"], (latent @ w["vf/w"] + w["vf/b"])[:, 0]
    np.testing.assert_array_equal(policy.act_deterministic(obs)[0], np.argmax(logits, axis=1))
    np.testing.assert_allclose(policy.value(obs), values, rtol=1e-5, atol=1e-6)


def test_gaussian_policy_with_value_copy_from_a_compressed_file(tmp_path: Path) -> None:
    variables = tf1_variables("ppo2_model", PENDULUM_MLP_COPY, seed=3)
    out = import_model(variables, tmp_path, "--alg", "ppo2", "--network", "mlp", "--env", "Pendulum-v1",
                       compress=("gzip", 3))
    policy, metadata, _ = load_policy(str(out))
    assert metadata["value_network"] == "copy"
    w = {name.removeprefix("ppo2_model/").removesuffix(":0"): value for name, value in variables.items()}
    obs = np.random.default_rng(4).uniform(-1, 1, (16, 3)).astype(np.float32)
    mean = tf1_mlp_forward(w, obs, "pi") @ w["pi/w"] + w["pi/b"]
    values = (tf1_mlp_forward(w, obs, "vf") @ w["vf/w"] + w["vf/b"])[:, 0]
    np.testing.assert_allclose(policy.act_deterministic(obs)[0], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(policy.value(obs), values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(policy.net.pd_head.logstd.numpy(), w["pi/logstd"].reshape(-1))


# ---- variables that do not fit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, args, message",
    [
        (lambda v: v.pop("a2c_model/pi/mlp_fc1/b:0"), [], "mlp_fc1's bias in the policy torso has no value: the "
         "file has no 'a2c_model/pi/mlp_fc1/b:0'"),
        (lambda v: v.update({"a2c_model/pi/extra/w:0": np.zeros((2, 2), np.float32)}), [],
         "'a2c_model/pi/extra/w:0' [2, 2] is not used by this network"),
        (lambda v: v.update({"ob_rms/mean:0": np.zeros(4)}), [], "'ob_rms/mean:0' is neither"),
        (lambda v: None, ["--env", "Acrobot-v1"], "'a2c_model/pi/mlp_fc0/w:0' has shape [4, 16], but mlp_fc0's kernel "
         "in the policy torso needs [6, 16]"),
        (lambda v: None, ["--alg", "ppo2"], "the file is from a2c: pass --alg a2c"),
    ],
    ids=["missing", "unused", "outside_scope", "other_env", "other_alg"],
)
def test_a_mismatch_exits_2_naming_the_first_culprit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, args: list[str], message: str
) -> None:
    variables = tf1_variables("a2c_model", CARTPOLE_MLP)
    edit(variables)
    joblib.dump(variables, tmp_path / "model")
    base = {"--alg": "a2c", "--network": "mlp", "--env": "CartPole-v1", "--out": str(tmp_path / "out")}
    base.update(dict(zip(args[::2], args[1::2])))
    with pytest.raises(SystemExit) as exit_info:
        import_baselines.main([str(tmp_path / "model"), *[item for pair in base.items() for item in pair]])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---- the restricted unpickler ---------------------------------------------------------------------------


class SystemCall:
    """Unpickling runs os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return os.system, (self.command,)


class TouchPath:
    """Unpickling runs pathlib.Path(target).touch()."""

    def __init__(self, target: Path) -> None:
        self.target = pathlib.Path(target)

    def __reduce__(self) -> tuple:
        return pathlib.Path.touch, (self.target,)


def armed_files(folder: Path, target: Path) -> dict[str, Path]:
    """Files whose unpickling creates `target`: a top-level os.system, and a Path.touch hidden in the dict."""
    files = {"os_system": folder / "os_system.pkl", "hidden_touch": folder / "hidden_touch.pkl"}
    joblib.dump(SystemCall(f"touch {target}"), files["os_system"])
    variables = tf1_variables("a2c_model", CARTPOLE_MLP)
    variables["a2c_model/pi/zz_payload:0"] = TouchPath(target)
    joblib.dump(variables, files["hidden_touch"])
    return files


def test_the_armed_files_really_create_a_file_when_joblib_loads_them(tmp_path: Path) -> None:
    """Control for the refusal test below: plain joblib.load (in a throwaway process) does run the payloads."""
    for name, path in armed_files(tmp_path, tmp_path / "created").items():
        subprocess.run([sys.executable, "-c", f"import joblib; joblib.load({str(path)!r})"], env=QUIET, timeout=120)
        assert (tmp_path / "created").exists(), name
        (tmp_path / "created").unlink()


@pytest.mark.parametrize(("name", "global_name"), [("os_system", "system"), ("hidden_touch", "pathlib.Path.touch")])
def test_malicious_files_are_refused_and_run_nothing(tmp_path: Path, name: str, global_name: str) -> None:
    target = tmp_path / "created"
    path = armed_files(tmp_path, target)[name]
    result = subprocess.run(
        [sys.executable, "-m", "baselines_tf2.import_baselines", str(path), "--alg", "a2c", "--network", "mlp",
         "--env", "CartPole-v1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=QUIET, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert global_name in result.stderr and "nothing from the file was run" in result.stderr
    assert not target.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "payload, refused",
    [
        (eval, "builtins.eval"),
        (subprocess.Popen, "subprocess.Popen"),
        (np.array([1, "text"], dtype=object), "(object); only numeric arrays"),
        (np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), "only numeric arrays"),
        (np.load, "numpy.load"),
    ],
    ids=["eval", "popen", "object_array", "structured_array", "numpy_function"],
)
def test_only_numeric_arrays_are_accepted(tmp_path: Path, payload: Any, refused: str) -> None:
    joblib.dump({"ok:0": np.ones(3, np.float32), "bad:0": payload}, tmp_path / "file")
    with pytest.raises(UnsafePickleError, match=re.escape(refused)):
        load_joblib_arrays(tmp_path / "file")


@pytest.mark.parametrize("compress", [0, "zlib", "gzip", "bz2", "xz", "lzma"])
def test_arrays_scalars_and_containers_read_back_exactly(tmp_path: Path, compress: Any) -> None:
    saved = {
        "float:0": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "big_endian": np.arange(4, dtype=">f8"),
        "empty": np.zeros((0, 5), np.float32),
        "flags": np.array([True, False]),
        "beta1_power:0": np.float32(0.9),  # what sess.run returns for a scalar variable
        "plain": [1, 2.5, "text", (None, True)],
    }
    joblib.dump(saved, tmp_path / "file", compress=compress)
    loaded = load_joblib_arrays(tmp_path / "file")
    assert loaded.keys() == saved.keys() and loaded["plain"] == saved["plain"]
    for key in saved.keys() - {"plain"}:
        np.testing.assert_array_equal(loaded[key], saved[key], err_msg=key)
        assert loaded[key].dtype == np.asarray(saved[key]).dtype.newbyteorder("="), key


def test_files_of_joblib_before_1_2_without_alignment_padding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """joblib < 1.2 (baselines' era) wrote array bytes right after the wrapper, with no padding byte."""
    from joblib import numpy_pickle

    create_wrapper = numpy_pickle.NumpyPickler._create_array_wrapper

    def old_style(self: Any, array: np.ndarray) -> Any:
        wrapper = create_wrapper(self, array)
        del wrapper.numpy_array_alignment_bytes
        return wrapper

    monkeypatch.setattr(numpy_pickle.NumpyPickler, "_create_array_wrapper", old_style)
    saved = {"a:0": np.arange(5, dtype=np.float32), "b:0": np.ones((2, 3), np.float32)}
    joblib.dump(saved, tmp_path / "file")
    assert b"numpy_array_alignment_bytes" not in (tmp_path / "file").read_bytes()
    loaded = load_joblib_arrays(tmp_path / "file")
    for key, value in saved.items():
        np.testing.assert_array_equal(loaded[key], value)


@pytest.mark.parametrize("compress", [0, "gzip"])
def test_truncated_files_are_reported_as_truncated(tmp_path: Path, compress: Any) -> None:
    joblib.dump(tf1_variables("a2c_model", CARTPOLE_MLP), tmp_path / "file", compress=compress)
    data = (tmp_path / "file").read_bytes()
    for cut in (1, 40, len(data) // 2, len(data) - 1):
        (tmp_path / "cut").write_bytes(data[:cut])
        with pytest.raises(CorruptPickleError, match="truncated"):
            load_joblib_arrays(tmp_path / "cut")


def test_truncated_model_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    joblib.dump(tf1_variables("a2c_model", CARTPOLE_MLP), tmp_path / "model")
    data = (tmp_path / "model").read_bytes()
    (tmp_path / "model").write_bytes(data[: len(data) // 2])
    result = subprocess.run(
        [sys.executable, "-m", "baselines_tf2.import_baselines", str(tmp_path / "model"), "--alg", "a2c",
         "--network", "mlp", "--env", "CartPole-v1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=QUIET, timeout=120,
    )
    assert result.returncode == 2
    assert "truncated" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--alg", "a2c", "--network", "mlp", "--env", "CartPole-v1"]
    with pytest.raises(SystemExit) as exit_info:
        import_baselines.main([str(tmp_path / "missing"), *common, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "no file at" in capsys.readouterr().err
    joblib.dump(tf1_variables("a2c_model", CARTPOLE_MLP), tmp_path / "model")
    (tmp_path / "out").write_bytes(b"keep me")
    with pytest.raises(SystemExit) as exit_info:
        import_baselines.main([str(tmp_path / "model"), *common, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "already exists" in capsys.readouterr().err
    assert (tmp_path / "out").read_bytes() == b"keep me"
