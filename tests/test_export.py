"""Export: each format reloads without baselines_tf2 and gives the policy's greedy actions and values;
bad input fails."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import export
from baselines_tf2.a2c.model import A2CModel
from baselines_tf2.ddpg.ddpg import DDPGConfig
from baselines_tf2.ddpg.ddpg_learner import DDPG
from baselines_tf2.deepq.act import build_act
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.ppo1.mlp_policy import MlpPolicy
from baselines_tf2.ppo1.pposgd_simple import PPO1Model
from baselines_tf2.ppo2.model import PPO2Model
from baselines_tf2.sac.sac import SAC, SACConfig
from baselines_tf2.tools import export_formats
from baselines_tf2.training.agent import load_policy
from baselines_tf2.trpo_mpi.model import TRPOModel

CARTPOLE = gymnasium.make("CartPole-v1")
PENDULUM = gymnasium.make("Pendulum-v1")
ATARI_OBS = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ATARI_ACTIONS = gymnasium.spaces.Discrete(4)
ONNX_INSTALLED = all(importlib.util.find_spec(name) for name in export_formats.ONNX_PACKAGES)
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

# Loads every artefact with plain TensorFlow / Keras / TFLite / ONNX Runtime in a fresh interpreter where importing
# baselines_tf2 is impossible, and writes each artefact's outputs for the given observations.
PLAIN_LOADER = r"""
import importlib.abc, json, sys
import numpy as np

class NoBaselines(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "baselines_tf2":
            raise ImportError("baselines_tf2 must not be needed to load an exported model")
        return None

sys.meta_path.insert(0, NoBaselines())
manifest = json.load(open(sys.argv[1]))
results = {}
for key, job in manifest.items():
    obs = np.load(job["obs"])
    fmt, path = job["format"], job["path"]
    if fmt == "savedmodel":
        import tensorflow as tf
        out = tf.saved_model.load(path).signatures["serving_default"](observations=tf.constant(obs))
    elif fmt == "keras":
        import keras
        out = keras.models.load_model(path)(obs)
    elif fmt == "tflite":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf
            Interpreter = tf.lite.Interpreter
        out = Interpreter(model_path=path).get_signature_runner("serving_default")(observations=obs)
    elif fmt == "onnx":
        import onnxruntime
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"observations": obs})))
    for name, value in out.items():
        results[f"{key}/{name}"] = np.asarray(value)
assert "baselines_tf2" not in sys.modules
np.savez(sys.argv[2], **results)
"""


def ppo2_model(
    observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str, **kwargs: Any
) -> PPO2Model:
    policy = PolicyWithValue(observation_space, action_space, network, kwargs)
    return PPO2Model(policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrained checkpoints of each kind the exporter handles (weights random, so outputs are not trivial)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    names = ("ppo2_mlp", "ppo2_cnn", "a2c_box", "deepq_mlp", "ppo2_lstm", "deepq_bf16", "sac_box", "ddpg_box",
             "trpo_box", "ppo1_mlp")
    paths = {name: folder / name for name in names}
    ppo2_model(CARTPOLE.observation_space, CARTPOLE.action_space, "mlp", num_hidden=32).save(str(paths["ppo2_mlp"]))
    ppo2_model(ATARI_OBS, ATARI_ACTIONS, "cnn").save(str(paths["ppo2_cnn"]))
    box_policy = PolicyWithValue(PENDULUM.observation_space, PENDULUM.action_space, "mlp", value_network="copy")
    a2c_box = A2CModel(box_policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, alpha=0.99, epsilon=1e-5)
    a2c_box.save(str(paths["a2c_box"]))
    build_act(CARTPOLE.observation_space, CARTPOLE.action_space, "mlp", {"num_hidden": 32},
              lr=1e-3, double_q=True).save(str(paths["deepq_mlp"]))
    ppo2_model(CARTPOLE.observation_space, CARTPOLE.action_space, "lstm", nlstm=8).save(str(paths["ppo2_lstm"]))
    build_act(CARTPOLE.observation_space, CARTPOLE.action_space, "mlp", {}, lr=1e-3, double_q=True,
              precision="mixed_bfloat16").save(str(paths["deepq_bf16"]))
    SAC(PENDULUM.observation_space, PENDULUM.action_space, "mlp", {"num_hidden": 16}, SACConfig(),
        seed=0).save(str(paths["sac_box"]))
    ddpg = DDPG(PENDULUM.observation_space, PENDULUM.action_space, "mlp", {"num_hidden": 16}, DDPGConfig(), seed=0)
    ddpg.normalizer.update(random_obs(PENDULUM.observation_space, seed=5, count=50))  # statistics away from 0 and 1
    ddpg.save(str(paths["ddpg_box"]))
    trpo_policy = PolicyWithValue(PENDULUM.observation_space, PENDULUM.action_space, "mlp", value_network="copy")
    TRPOModel(trpo_policy, max_kl=0.01, cg_iters=10, cg_damping=0.1, entcoeff=0.0).save(str(paths["trpo_box"]))
    ppo1_policy = MlpPolicy("pi", CARTPOLE.observation_space, CARTPOLE.action_space, hid_size=16, num_hid_layers=2)
    PPO1Model(ppo1_policy, entcoeff=0.0, adam_epsilon=1e-5, optim_batchsize=64).save(str(paths["ppo1_mlp"]))
    return paths


def policy_outputs(checkpoint: Path, obs: np.ndarray) -> dict[str, np.ndarray]:
    """Greedy actions and values computed by our own policy objects, independently of the exporter."""
    policy, metadata, _ = load_policy(str(checkpoint))
    if metadata["alg"] == "deepq":
        return {"actions": policy(obs, stochastic=False),
                "values": policy.model.q_values(policy.model.obs_tensor(obs)).numpy()}
    if metadata["alg"] in ("ddpg", "sac"):  # Q of the deterministic action, the critic fed as in training
        unit_actions = policy.deterministic_actions(policy.obs_tensor(obs))
        normalized = policy.normalizer(policy.obs_tensor(obs))
        return {"actions": policy.act_deterministic(obs)[0],
                "values": policy.export_critic()([normalized, unit_actions]).numpy()}
    return {"actions": policy.act_deterministic(obs)[0], "values": policy.value(obs)}


def random_obs(space: gymnasium.Space, seed: int, count: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if space.dtype == np.uint8:
        return rng.integers(0, 256, (count, *space.shape), dtype=np.uint8)
    return rng.uniform(-2.0, 2.0, (count, *space.shape)).astype(np.float32)


EXPORTS = [
    ("ppo2_mlp", "savedmodel"), ("ppo2_mlp", "keras"), ("ppo2_mlp", "tflite"),
    ("ppo2_cnn", "savedmodel"), ("ppo2_cnn", "keras"), ("ppo2_cnn", "tflite"),
    ("a2c_box", "keras"), ("a2c_box", "tflite"),
    ("deepq_mlp", "savedmodel"), ("deepq_mlp", "keras"), ("deepq_mlp", "tflite"),
    ("sac_box", "savedmodel"), ("sac_box", "tflite"), ("ddpg_box", "keras"), ("ddpg_box", "tflite"),
    ("trpo_box", "keras"), ("ppo1_mlp", "tflite"),
] + ([("ppo2_cnn", "onnx"), ("deepq_mlp", "onnx")] if ONNX_INSTALLED else [])
SPACES = {"ppo2_mlp": CARTPOLE.observation_space, "ppo2_cnn": ATARI_OBS, "a2c_box": PENDULUM.observation_space,
          "deepq_mlp": CARTPOLE.observation_space, "sac_box": PENDULUM.observation_space,
          "ddpg_box": PENDULUM.observation_space, "trpo_box": PENDULUM.observation_space,
          "ppo1_mlp": CARTPOLE.observation_space}


def test_every_format_reloads_without_baselines_tf2_and_matches_the_policy(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = {}
    for name, fmt in EXPORTS:
        assert export.main([str(checkpoints[name]), "--format", fmt]) == 0, (name, fmt)
        artefact = Path(str(checkpoints[name]) + export_formats.SUFFIXES[fmt])  # the default --out
        assert artefact.exists()
        obs_path = tmp_path / f"{name}-obs.npy"
        np.save(obs_path, random_obs(SPACES[name], seed=123))
        manifest[f"{name}.{fmt}"] = {"format": fmt, "path": str(artefact), "obs": str(obs_path)}
    assert "actions equal" in capsys.readouterr().out
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_LOADER, str(tmp_path / "manifest.json"), str(tmp_path / "outputs.npz")],
        capture_output=True, text=True, timeout=600, env=QUIET,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = np.load(tmp_path / "outputs.npz")
    for key, job in manifest.items():
        expected = policy_outputs(checkpoints[key.split(".")[0]], np.load(job["obs"]))
        actions, values = outputs[f"{key}/actions"], outputs[f"{key}/values"]
        if np.issubdtype(expected["actions"].dtype, np.integer):
            np.testing.assert_array_equal(actions, expected["actions"], err_msg=key)
        else:
            np.testing.assert_allclose(actions, expected["actions"], rtol=1e-4, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(values, expected["values"], rtol=1e-4, atol=1e-5, err_msg=key)


def test_parity_failure_exits_1_and_writes_nothing(
    checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_run = export_formats.run

    def off_by_a_little(fmt: str, path: str, obs: np.ndarray) -> dict[str, np.ndarray]:
        outputs = real_run(fmt, path, obs)
        return {**outputs, "values": outputs["values"] + 1e-3}

    monkeypatch.setattr(export_formats, "run", off_by_a_little)
    out = tmp_path / "model.keras"
    assert export.main([str(checkpoints["ppo2_mlp"]), "--format", "keras", "--out", str(out)]) == 1
    assert "values differ by up to 0.001" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the model nor the temporary folder


def test_existing_destination_needs_force(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "model.tflite"
    out.write_bytes(b"old")
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(checkpoints["ppo2_mlp"]), "--format", "tflite", "--out", str(out)])
    assert exit_info.value.code == 2 and out.read_bytes() == b"old"
    assert export.main([str(checkpoints["ppo2_mlp"]), "--format", "tflite", "--out", str(out), "--force"]) == 0
    assert out.read_bytes()[4:8] == b"TFL3"  # the TFLite flatbuffer identifier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_bfloat16_checkpoint_goes_to_tflite_only_in_float32(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.tflite"
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(checkpoints["deepq_bf16"]), "--format", "tflite", "--out", str(out)])
    assert exit_info.value.code == 2 and "add --float32" in capsys.readouterr().err
    assert export.main([str(checkpoints["deepq_bf16"]), "--format", "tflite", "--out", str(out), "--float32"]) == 0
    assert "computing in float32" in capsys.readouterr().out and out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["{ppo2_lstm}", "--format", "savedmodel"], "recurrent policies"),
        (["{ppo2_mlp}", "--format", "keras", "--out", "{tmp}/model.h5"], "must end with .keras"),
        (["{not_a_checkpoint}", "--format", "keras"], "not a baselines_tf2 checkpoint"),
    ],
    ids=["recurrent", "keras_suffix", "not_a_checkpoint"],
)
def test_unusable_input_exits_2(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a zip")
    names = {**{k: str(v) for k, v in checkpoints.items()}, "tmp": str(tmp_path), "not_a_checkpoint": str(junk)}
    with pytest.raises(SystemExit) as exit_info:
        export.main([arg.format(**names) for arg in args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/missing", "--format", "keras"], "no checkpoint at"),
        (["{ppo2_mlp}", "--format", "pickle"], "invalid choice: 'pickle'"),
    ],
    ids=["missing_checkpoint", "unknown_format"],
)
def test_command_line_usage_errors_exit_2(
    checkpoints: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    names = {**{k: str(v) for k, v in checkpoints.items()}, "tmp": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "baselines_tf2.export", *[a.format(**names) for a in args]],
                            capture_output=True, text=True, timeout=120, env=QUIET)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.skipif(ONNX_INSTALLED, reason="tf2onnx and onnxruntime are installed")
def test_onnx_without_tf2onnx_says_how_to_install(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "baselines_tf2.export", str(checkpoints["ppo2_mlp"]), "--format", "onnx"],
        capture_output=True, text=True, timeout=120, env=QUIET,
    )
    assert result.returncode == 2
    assert "pip install tf2onnx onnxruntime" in result.stderr
    assert not Path(str(checkpoints["ppo2_mlp"]) + ".onnx").exists()


@pytest.mark.parametrize("checkpoint", ["runs/X/", "runs/X", "runs/X/checkpoints/", ".", "./"])
def test_the_default_destination_sits_beside_a_folder_given_with_a_trailing_slash(checkpoint: str) -> None:
    from baselines_tf2.export import destination

    assert destination(checkpoint, "keras", None) == os.path.abspath(checkpoint) + ".keras"
