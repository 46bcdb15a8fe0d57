"""Checkpoints: save -> load round trips, resuming through learn(), and every bad file raising CheckpointError."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np
import pytest

from baselines_tf2.a2c.model import A2CModel
from baselines_tf2.common.atomic_io import atomic_write_bytes
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.saving import build_policy_from_metadata
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.ppo2.model import PPO2Model
from baselines_tf2.training.agent import load_policy
from baselines_tf2.training.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint

CARTPOLE_OBS = gymnasium.make("CartPole-v1").observation_space
CARTPOLE_ACTIONS = gymnasium.spaces.Discrete(2)
ATARI_OBS = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ATARI_ACTIONS = gymnasium.spaces.Discrete(4)


def ppo2_model(
    observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str, **kwargs: Any
) -> PPO2Model:
    policy = PolicyWithValue(observation_space, action_space, network, kwargs)
    return PPO2Model(policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)


def sample_obs(policy: PolicyWithValue, n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    if policy.obs_dtype == "uint8":
        return rng.integers(0, 256, (n, *policy.obs_shape), dtype=np.uint8)
    return rng.normal(size=(n, *policy.obs_shape)).astype(np.float32)


@pytest.fixture(scope="module")
def mlp_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved PPO2 mlp model on CartPole's spaces (tests copy it before damaging it)."""
    path = tmp_path_factory.mktemp("ckpt") / "mlp_model"
    ppo2_model(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", num_hidden=16).save(str(path))
    return path


@pytest.fixture
def checkpoint_copy(mlp_checkpoint: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    copy.write_bytes(mlp_checkpoint.read_bytes())
    return copy


# ---- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observation_space, action_space, network, kwargs",
    [(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 16}), (ATARI_OBS, ATARI_ACTIONS, "cnn", {})],
    ids=["mlp", "cnn"],
)
def test_save_then_load_policy_gives_identical_actions_and_values(
    tmp_path: Path, observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str, kwargs: dict
) -> None:
    model = ppo2_model(observation_space, action_space, network, **kwargs)
    path = str(tmp_path / "model")
    model.save(path)
    loaded, metadata, groups = load_policy(path, expected_alg="ppo2")
    obs = sample_obs(model.policy)
    values = model.policy.value(obs)
    assert metadata["network"] == network and metadata["network_kwargs"] == kwargs
    assert "optimizer" in groups
    np.testing.assert_array_equal(loaded.act_deterministic(obs)[0], model.policy.act_deterministic(obs)[0])
    np.testing.assert_array_equal(loaded.value(obs), values)
    # a freshly built policy (no weights loaded) differs, so the equality above comes from the file
    fresh = build_policy_from_metadata(metadata)
    assert not np.allclose(fresh.value(obs), values)


def test_learn_with_load_path_restores_weights_optimizer_and_timesteps(tmp_path: Path) -> None:
    def cartpole_env() -> DummyVecEnv:
        env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
        env.seed(0)
        return env

    hyper = dict(network="mlp", nsteps=32, nminibatches=2, noptepochs=1, num_hidden=16)
    trained = ppo2.learn(env=cartpole_env(), total_timesteps=64, seed=1, **hyper)
    assert trained.timesteps == 64
    path = str(tmp_path / "model")
    trained.save(path)
    restored = ppo2.learn(env=cartpole_env(), total_timesteps=0, seed=2, load_path=path, **hyper)
    assert restored.timesteps == 64
    for (name, saved), (_, loaded) in zip(trained.policy.get_weights(), restored.policy.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, saved, err_msg=name)
    for (name, saved), (_, loaded) in zip(trained.optimizer_state(), restored.optimizer_state(), strict=True):
        np.testing.assert_array_equal(loaded, saved, err_msg=name)
    assert int(restored.optimizer.iterations.numpy()) == 2  # one update of 2 minibatches


# ---- bad files ----------------------------------------------------------------------------------------


def rewrite_metadata(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the checkpoint zip with `edit` applied to its metadata.json (arrays untouched)."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(entries["metadata.json"])
    edit(metadata)
    entries["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_policy(str(tmp_path / "nothing_here"))


def test_truncated_file(checkpoint_copy: Path) -> None:
    data = checkpoint_copy.read_bytes()
    checkpoint_copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated/corrupt"):
        load_policy(str(checkpoint_copy))


def test_one_flipped_byte_in_the_weights(checkpoint_copy: Path) -> None:
    raw = bytearray(checkpoint_copy.read_bytes())
    with zipfile.ZipFile(checkpoint_copy) as archive:
        member = archive.read("arrays/policy/0000.npy")
    offset = raw.find(member)
    assert offset > 0
    raw[offset + len(member) - 3] ^= 0x01  # inside the float data, past the .npy header
    checkpoint_copy.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(str(checkpoint_copy))


def test_file_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "model"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arrays/policy/0000.npy", b"")
    with pytest.raises(CheckpointError, match="no metadata.json"):
        load_policy(str(path))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["network_kwargs"].update(num_hidden=32), r"does not fit network 'mlp'.*1,315 parameters"),
        (lambda m: m.update(network="lstm", network_kwargs={}), r"does not fit network 'lstm'"),
        (lambda m: m.update(network="cnn", network_kwargs={}), r"cannot rebuild.*'cnn' needs image observations"),
        (lambda m: m.update(network="cnn"), r"cannot rebuild.*'cnn' got unexpected keyword.*num_hidden"),
        (lambda m: m.update(network="no_such_net"), r"cannot rebuild.*unknown network 'no_such_net'"),
        (lambda m: m["network_kwargs"].update(num_hiden=64), r"cannot rebuild.*num_hiden"),
        (lambda m: m.pop("observation_space"), r"lacks 'observation_space'"),
        (lambda m: m["observation_space"].update(shape="four"), r"invalid space"),
        (lambda m: m.update(version=99), r"format version 99"),
    ],
    ids=["num_hidden", "to_lstm", "to_cnn", "to_cnn_with_mlp_kwargs", "unknown_network", "unknown_kwarg",
         "no_space", "bad_space", "version"],
)
def test_edited_metadata(checkpoint_copy: Path, edit: Callable[[dict], None], message: str) -> None:
    rewrite_metadata(checkpoint_copy, edit)
    with pytest.raises(CheckpointError, match=message):
        load_policy(str(checkpoint_copy))


def test_loading_into_a_model_with_other_spaces_or_algorithm(mlp_checkpoint: Path) -> None:
    acrobot = ppo2_model(gymnasium.make("Acrobot-v1").observation_space, gymnasium.spaces.Discrete(3), "mlp",
                         num_hidden=16)
    with pytest.raises(CheckpointError, match=r"observation space Box\(shape=\(4,\).*this env has Box\(shape=\(6,\)"):
        acrobot.load(str(mlp_checkpoint))
    a2c_policy = PolicyWithValue(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", {"num_hidden": 16})
    a2c = A2CModel(a2c_policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, alpha=0.99, epsilon=1e-5)
    with pytest.raises(CheckpointError, match=r"'ppo2' checkpoint; this model is 'a2c'"):
        a2c.load(str(mlp_checkpoint))
    with pytest.raises(CheckpointError, match=r"'ppo2' checkpoint, not 'a2c'"):
        load_policy(str(mlp_checkpoint), expected_alg="a2c")
    wider = ppo2_model(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", num_hidden=32)
    with pytest.raises(CheckpointError, match=r"network_kwargs"):
        wider.load(str(mlp_checkpoint))


def test_a_checkpoint_loads_into_the_same_network_spelled_with_its_defaults(tmp_path: Path) -> None:
    """mlp(num_hidden=64) and mlp() are one network: baselines matched the weights, not the spelling."""
    explicit = ppo2_model(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", num_hidden=64, num_layers=2)
    explicit.save(str(tmp_path / "explicit"))
    implicit = ppo2_model(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp")
    implicit.load(str(tmp_path / "explicit"))
    for saved, loaded in zip(explicit.policy.get_weights(), implicit.policy.get_weights()):
        np.testing.assert_array_equal(saved[1], loaded[1])


class CreatesMarker:
    """Unpickling this creates the file `marker` (a stand-in for arbitrary code run by pickle)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def test_pickle_payload_is_never_unpickled(tmp_path: Path) -> None:
    control = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(CreatesMarker(control))).close()
    assert control.exists(), "the payload must be live for this test to mean anything"
    marker = tmp_path / "marker"
    path = tmp_path / "model.pkl"
    with open(path, "wb") as file:
        pickle.dump(CreatesMarker(marker), file)
    with pytest.raises(CheckpointError, match="not a baselines_tf2 checkpoint"):
        load_policy(str(path))
    assert not marker.exists()


def test_pickled_object_array_inside_a_valid_zip_is_never_unpickled(checkpoint_copy: Path, tmp_path: Path) -> None:
    # A forged checkpoint: array 0 replaced by an object array holding the payload, checksum and dtype updated.
    marker = tmp_path / "marker"
    payload = np.empty(1, dtype=object)
    payload[0] = CreatesMarker(marker)
    buffer = io.BytesIO()
    np.save(buffer, payload, allow_pickle=True)
    forged = buffer.getvalue()
    with zipfile.ZipFile(checkpoint_copy) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["arrays/policy/0000.npy"] = forged
    metadata = json.loads(entries["metadata.json"])
    metadata["arrays"]["policy"][0].update(sha256=hashlib.sha256(forged).hexdigest(), dtype="|O", shape=[1])
    entries["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(checkpoint_copy, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_policy(str(checkpoint_copy))
    assert not marker.exists()


# ---- atomic saving ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model() -> PPO2Model:
    return ppo2_model(CARTPOLE_OBS, CARTPOLE_ACTIONS, "mlp", num_hidden=8)


def test_save_leaves_only_the_checkpoint(tmp_path: Path, small_model: PPO2Model) -> None:
    small_model.save(str(tmp_path / "model"))
    small_model.save(str(tmp_path / "model"))  # overwriting too
    assert sorted(os.listdir(tmp_path)) == ["model"]
    load_policy(str(tmp_path / "model"))


def test_paths_starting_with_a_tilde_are_under_home(tmp_path: Path, small_model: PPO2Model,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """baselines' README loads `--load_path=~/models/pong_20M_ppo2`; the shell leaves that `~` to the program."""
    monkeypatch.setenv("HOME", str(tmp_path))
    small_model.save("~/models/cartpole")
    assert (tmp_path / "models" / "cartpole").is_file() and not Path("~").exists()
    assert read_metadata("~/models/cartpole")["alg"] == "ppo2"
    small_model.load("~/models/cartpole")
    load_policy("~/models/cartpole")


def _failing(*args: Any, **kwargs: Any) -> None:
    raise OSError("simulated failure midway through saving")


@pytest.mark.parametrize("target", ["numpy.lib.format.write_array", "os.fsync"])
def test_failed_save_keeps_the_previous_checkpoint(
    tmp_path: Path, small_model: PPO2Model, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    path = tmp_path / "model"
    small_model.save(str(path))
    before = path.read_bytes()
    monkeypatch.setattr(target, _failing)
    with pytest.raises(OSError, match="simulated failure"):
        small_model.save(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model"], "no partial file may be left behind"
    load_policy(str(path))


def _write_bytes(target: Path, content: bytes) -> None:
    atomic_write_bytes(target, content)


def _write_checkpoint(target: Path, content: bytes) -> None:
    save_checkpoint(target, {"content": content.decode()}, {"policy": [("w", np.arange(3.0)), ("b", np.zeros(2))]})


def _read_bytes(target: Path) -> bytes:
    return target.read_bytes()


def _read_checkpoint(target: Path) -> bytes:
    metadata, arrays = load_checkpoint(target)  # raises on a partial or corrupt file
    assert [array.tolist() for array in arrays["policy"]] == [[0.0, 1.0, 2.0], [0.0, 0.0]]
    return metadata["content"].encode()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # that ZipFile's __del__ fails
@pytest.mark.parametrize(
    "write, read",
    [(_write_bytes, _read_bytes), (_write_checkpoint, _read_checkpoint)],
    ids=["atomic_write", "save_checkpoint"],
)
def test_an_interrupt_at_any_line_of_a_save_leaves_the_old_file_and_no_partial_one(
    tmp_path: Path, write: Callable[[Path, bytes], None], read: Callable[[Path], bytes]
) -> None:
    """A second Ctrl-C raises KeyboardInterrupt wherever the main thread is; land one on each Python line the save
    runs (the library's and the standard library's, the zip members' writes included), in turn, until a save
    completes. Every interrupted save must raise that KeyboardInterrupt, not an error it caused on the way out."""
    target = tmp_path / "checkpoint"
    write(target, b"old")
    gc.freeze()  # the collections below then scan only the objects the saves make, not the test session's heap
    try:
        completed, interrupt_at = _interrupt_each_line_until_done(target, write, read)
    finally:
        gc.unfreeze()
    assert completed and interrupt_at > 5


def _interrupt_each_line_until_done(
    target: Path, write: Callable[[Path, bytes], None], read: Callable[[Path], bytes]
) -> tuple[bool, int]:
    for interrupt_at in range(1, 100_000):
        lines = 0

        def interrupt(frame: Any, event: str, arg: Any, interrupt_at: int = interrupt_at) -> Any:
            nonlocal lines
            if event == "line":
                lines += 1
                if lines == interrupt_at:
                    raise KeyboardInterrupt
            return interrupt

        sys.settrace(interrupt)
        try:
            write(target, b"new")
            completed = True
        except KeyboardInterrupt:
            completed = False
        finally:
            sys.settrace(None)
        # an interrupt inside a zip member's close leaves the ZipFile unclosable; finalize it here, not inside a later
        # ast.literal_eval (numpy's header parse), where CPython 3.11 then raises a spurious SystemError
        gc.collect()
        assert [path.name for path in target.parent.iterdir()] == ["checkpoint"], f"interrupt at line {interrupt_at}"
        # old until the rename, new from it on (an interrupt while the folder is synced comes after the rename)
        assert read(target) in ((b"new",) if completed else (b"old", b"new")), f"interrupt at line {interrupt_at}"
        if completed:
            break
    return completed, interrupt_at
