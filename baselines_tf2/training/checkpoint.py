"""Checkpoint files: named NumPy arrays plus JSON metadata in one zip, written atomically, never unpickled.

Layout of a checkpoint (any file name; `unzip -l` lists it):
    metadata.json                 format, version, algorithm, network, spaces, env, hyperparameters, versions,
                                  and for every array group the ordered list of {name, shape, dtype, sha256}
    arrays/<group>/<index>.npy    one array per entry, read with allow_pickle=False
Groups are e.g. `policy` (the network's weights in model order) and `optimizer` (its slot variables).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import zipfile
from typing import IO, Any, BinaryIO, Mapping, Sequence

import gymnasium
import numpy as np

from baselines_tf2.common.atomic_io import atomic_write

FORMAT_NAME = "baselines_tf2-checkpoint"
FORMAT_VERSION = 1
METADATA_ENTRY = "metadata.json"
LATEST_POINTER = "latest"  # in a checkpoints folder: the name of the newest complete checkpoint
CHECKPOINTS_SUBDIR = "checkpoints"  # a run folder's checkpoints

NamedArrays = Sequence[tuple[str, np.ndarray]]
_READ_CHUNK = 1 << 22


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, truncated, of another format, or not matching."""


class _HashingWriter:
    """A write-only file that passes bytes on and hashes them, so arrays stream to disk without a copy in memory."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.target.write(data)


def save_checkpoint(
    path: str | os.PathLike[str], metadata: Mapping[str, Any], groups: Mapping[str, NamedArrays]
) -> None:
    """Write a checkpoint atomically: readers see the old file or the complete new one, never a partial one.

    Arrays stream into the file one at a time (a replay buffer of gigabytes is never copied in memory);
    `metadata.json`, with every array's checksum, is the archive's last entry."""
    for named_arrays in groups.values():
        for name, array in named_arrays:
            if np.asarray(array).dtype == object:
                raise CheckpointError(f"array {name!r} has dtype object; checkpoints hold numeric arrays only")

    def write(file: BinaryIO) -> None:
        index: dict[str, list[dict[str, Any]]] = {}
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for group, named_arrays in groups.items():
                index[group] = []
                for position, (name, array) in enumerate(named_arrays):
                    array = np.require(np.asarray(array), requirements="C")
                    with archive.open(f"arrays/{group}/{position:04d}.npy", "w", force_zip64=True) as member:
                        hashing = _HashingWriter(member)
                        np.lib.format.write_array(hashing, array, allow_pickle=False)
                    index[group].append({"name": name, "shape": list(array.shape), "dtype": array.dtype.str,
                                         "sha256": hashing.digest.hexdigest()})
            full_metadata = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **metadata, "arrays": index}
            archive.writestr(METADATA_ENTRY, json.dumps(full_metadata, indent=2, sort_keys=True, default=_json_default))

    atomic_write(path, write)


def json_normalized(value: Any) -> Any:
    """`value` as it reads back from a checkpoint's JSON (tuples become lists, unknown objects their repr)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's metadata, after checking that the file is a complete checkpoint of a known version."""
    with _open_archive(path) as archive:
        return _metadata_of(archive, path)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """Metadata and the arrays of every group, each checked against its recorded checksum, shape and dtype."""
    with _open_archive(path) as archive:
        metadata = _metadata_of(archive, path)
        groups: dict[str, list[np.ndarray]] = {}
        for group, entries in metadata["arrays"].items():
            groups[group] = [_read_array(archive, path, group, position, entry)
                             for position, entry in enumerate(entries)]
    return metadata, groups


def resolve_checkpoint_path(path: str | os.PathLike[str]) -> str:
    """A checkpoint file from a file path, a checkpoints folder, or a run folder (folders through `latest`)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        return path
    for folder in (path, os.path.join(path, CHECKPOINTS_SUBDIR)):
        pointer = os.path.join(folder, LATEST_POINTER)
        if os.path.isfile(pointer):
            with open(pointer, encoding="utf-8") as file:
                name = file.read().strip()
            if not name or os.sep in name or name in (".", ".."):
                raise CheckpointError(f"{pointer!r} does not name a checkpoint (it holds {name!r})")
            return os.path.join(folder, name)
    raise CheckpointError(
        f"{path!r} is a folder without a {LATEST_POINTER!r} pointer; give a checkpoint file, a checkpoints "
        "folder or a run folder"
    )


def _open_archive(path: str | os.PathLike[str]) -> zipfile.ZipFile:
    path = resolve_checkpoint_path(path)
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path!r}")
    try:
        return zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"{os.fspath(path)!r} is not a baselines_tf2 checkpoint or is truncated/corrupt ({err})"
        ) from None


def _metadata_of(archive: zipfile.ZipFile, path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        metadata = json.loads(archive.read(METADATA_ENTRY))
    except KeyError:
        raise CheckpointError(f"{os.fspath(path)!r} has no {METADATA_ENTRY}; it is not a complete checkpoint") from None
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointError(f"{os.fspath(path)!r}: metadata is corrupt ({err})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"{os.fspath(path)!r} is not a baselines_tf2 checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{os.fspath(path)!r} has checkpoint format version {metadata.get('version')!r}; "
            f"this baselines_tf2 reads version {FORMAT_VERSION}"
        )
    if not isinstance(metadata.get("arrays"), dict):
        raise CheckpointError(f"{os.fspath(path)!r}: metadata lists no arrays")
    return metadata


def _read_array(
    archive: zipfile.ZipFile, path: str | os.PathLike[str], group: str, position: int, entry: Mapping[str, Any]
) -> np.ndarray:
    member = f"arrays/{group}/{position:04d}.npy"
    try:  # the checksum is checked in a first streaming pass, so nothing corrupt is ever parsed
        digest = hashlib.sha256()
        with archive.open(member) as data:
            for chunk in iter(lambda: data.read(_READ_CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != entry.get("sha256"):
            raise CheckpointError(
                f"{os.fspath(path)!r}: array {entry.get('name')!r} fails its checksum; the file is corrupt"
            )
        with archive.open(member) as data:
            array = np.lib.format.read_array(data, allow_pickle=False)
    except CheckpointError:
        raise
    except KeyError:
        raise CheckpointError(f"{os.fspath(path)!r}: array {entry.get('name')!r} ({member}) is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"{os.fspath(path)!r}: array {entry.get('name')!r} is corrupt ({err})") from None
    except ValueError as err:
        raise CheckpointError(f"{os.fspath(path)!r}: array {entry.get('name')!r} cannot be read ({err})") from None
    if list(array.shape) != list(entry["shape"]) or array.dtype.str != entry["dtype"]:
        raise CheckpointError(
            f"{os.fspath(path)!r}: array {entry['name']!r} is {array.dtype.str}{list(array.shape)}, "
            f"metadata says {entry['dtype']}{entry['shape']}"
        )
    return array


def space_to_json(space: gymnasium.Space) -> dict[str, Any]:
    """A JSON description of a Box, Discrete, MultiDiscrete or MultiBinary space (bounds kept exactly)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gymnasium.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": np.dtype(space.dtype).name,
                "low": _compact_bound(space.low), "high": _compact_bound(space.high)}
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist()}
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise CheckpointError(
        f"cannot describe space {space} in a checkpoint; supported: Box, Discrete, MultiDiscrete, MultiBinary")


def _compact_bound(bound: np.ndarray) -> Any:
    """A scalar when every element is the same (image spaces), else the full nested list."""
    flat = np.asarray(bound).ravel()
    if flat.size and np.all(flat == flat[0]):
        return flat[0].item()
    return np.asarray(bound).tolist()


def space_from_json(description: Mapping[str, Any]) -> gymnasium.Space:
    """Rebuild a space written by `space_to_json`."""
    kind = description.get("type")
    if kind == "Discrete":
        return gymnasium.spaces.Discrete(description["n"], start=description.get("start", 0))
    if kind == "Box":
        dtype = np.dtype(description["dtype"])
        shape = tuple(description["shape"])
        low = np.broadcast_to(np.asarray(description["low"], dtype=dtype), shape)
        high = np.broadcast_to(np.asarray(description["high"], dtype=dtype), shape)
        return gymnasium.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "MultiDiscrete":
        return gymnasium.spaces.MultiDiscrete(description["nvec"])
    if kind == "MultiBinary":
        return gymnasium.spaces.MultiBinary(description["n"])
    raise CheckpointError(f"checkpoint describes an unknown space type {kind!r}")


VERSIONED_PACKAGES = ("baselines_tf2", "tensorflow", "keras", "gymnasium", "ale-py", "numpy")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the packages a checkpoint depends on (recorded in its metadata)."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def check_spaces_match(
    metadata: Mapping[str, Any], observation_space: gymnasium.Space, action_space: gymnasium.Space, path: str
) -> None:
    """Raise CheckpointError saying which space differs between a checkpoint and the env it is used with."""
    for name, space in (("observation_space", observation_space), ("action_space", action_space)):
        saved = metadata.get(name)
        if saved != space_to_json(space):
            raise CheckpointError(
                f"{path!r} was trained with {name.replace('_', ' ')} {_describe_space(saved)}, "
                f"but this env has {_describe_space(space_to_json(space))}"
            )


def check_network_matches(metadata: Mapping[str, Any], network: str, network_kwargs: Mapping[str, Any],
                          path: str) -> None:
    """Raise CheckpointError if a checkpoint was saved by another network or with other network kwargs."""
    for key, ours in (("network", network), ("network_kwargs", json_normalized(dict(network_kwargs)))):
        if metadata.get(key) != ours:
            raise CheckpointError(f"{path!r} holds {key} {metadata.get(key)!r}, but this model has {ours!r}")


def _describe_space(space_json: Any) -> str:
    if not isinstance(space_json, dict):
        return repr(space_json)
    if space_json.get("type") == "Discrete":
        return f"Discrete({space_json['n']})"
    if space_json.get("type") == "Box":
        return f"Box(shape={tuple(space_json['shape'])}, dtype={space_json['dtype']})"
    return repr(space_json)
