"""Checkpoint files: named NumPy arrays plus JSON metadata in one zip, written atomically, never unpickled.

Layout of a checkpoint (any file name; `unzip -l` lists it):
    metadata.json                 format, version, algorithm, network, spaces, env, hyperparameters, versions,
                                  and for every array group the ordered list of {name, shape, dtype, sha256}
    arrays/<group>/<index>.npy    one array per entry, read with allow_pickle=False
Groups are e.g. `policy` (the network's weights in model order) and `optimizer` (its slot variables).

Reading treats the file as hostile: metadata.json is read with a size limit and its fields are type-checked once,
and an array is allocated only after its .npy header agrees with its metadata entry and with the bytes its member
really holds; any problem is a one-line CheckpointError.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import os
import reprlib
import struct
import zipfile
import zlib
from typing import IO, Any, BinaryIO, Callable, Iterator, Mapping, NoReturn, Sequence

import gymnasium
import numpy as np

from baselines_tf2.common.atomic_io import atomic_write

FORMAT_NAME = "baselines_tf2-checkpoint"
FORMAT_VERSION = 1
METADATA_ENTRY = "metadata.json"
LATEST_POINTER = "latest"  # in a checkpoints folder: the name of the newest complete checkpoint
CHECKPOINTS_SUBDIR = "checkpoints"  # a run folder's checkpoints

MAX_METADATA_BYTES = 16 << 20  # real metadata is kilobytes; an exact-resume env log of long games, a megabyte
MAX_METADATA_DEPTH = 32  # real metadata nests about 4 levels plus the rank of an observation (bounds, statistics)
MAX_SPACE_ELEMENTS = 1 << 24  # values in a space: a stack of four 1024x1024 RGB frames (12.6 M) fits

NamedArrays = Sequence[tuple[str, np.ndarray]]
_READ_CHUNK = 1 << 22
_MAX_POINTER_BYTES = 255  # a `latest` pointer holds one file name
_NUMERIC_KINDS = "biufc"  # bool, signed and unsigned int, float, complex


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
    `metadata.json`, with every array's checksum, is the archive's last entry. `~` is the home folder."""
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

    def write_or_reraise_interrupt(file: BinaryIO) -> None:
        try:
            write(file)
        except ValueError as err:
            # an interrupt (a second Ctrl-C) inside a member's write leaves its handle open; ZipFile's close then
            # raises ValueError, which would hide the interrupt: raise the interrupt, atomic_write drops the file
            interrupt = _interrupt_behind(err)
            if interrupt is None:
                raise
            raise interrupt from None

    atomic_write(os.path.expanduser(os.fspath(path)), write_or_reraise_interrupt)


def _interrupt_behind(error: BaseException) -> BaseException | None:
    """The KeyboardInterrupt or SystemExit that `error` was raised while handling, if any."""
    seen = error.__context__
    while seen is not None:
        if isinstance(seen, (KeyboardInterrupt, SystemExit)):
            return seen
        seen = seen.__context__
    return None


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
    """The checkpoint's metadata, after checking that the file is a complete checkpoint of a known version and that
    every field a loader reads has the type it expects."""
    with _open_archive(path) as archive:
        return _metadata_of(archive, path)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """Metadata and the arrays of every group, each checked against its recorded checksum, shape and dtype.

    Nothing is allocated before it is justified: the arrays the metadata lists must fit in the file (they are
    stored uncompressed), and each .npy header must agree with its metadata entry and its member's size."""
    with _open_archive(path) as archive:
        metadata = _metadata_of(archive, path)
        listed = sum(_nbytes(entry) for entries in metadata["arrays"].values() for entry in entries)
        file_size = os.fstat(archive.fp.fileno()).st_size if archive.fp is not None else 0
        if listed > file_size:
            raise CheckpointError(f"{os.fspath(path)!r}: its metadata lists {listed} bytes of arrays, more than the "
                                  f"whole file holds ({file_size} bytes); it is truncated or forged")
        groups: dict[str, list[np.ndarray]] = {}
        for group, entries in metadata["arrays"].items():
            groups[group] = [_read_array(archive, path, group, position, entry)
                             for position, entry in enumerate(entries)]
    return metadata, groups


def saved_replay_arrays(metadata: Mapping[str, Any], groups: Mapping[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """The replay buffer's arrays of a checkpoint by name (metadata's `replay_arrays` names the `replay` group's);
    ValueError unless the names are distinct strings, one per array."""
    names, arrays = metadata.get("replay_arrays"), groups.get("replay", [])
    if (not isinstance(names, list) or len(names) != len(arrays) or len(set(map(str, names))) != len(names)
            or not all(isinstance(name, str) for name in names)):
        raise ValueError(f"replay_arrays must name the {len(arrays)} replay arrays with distinct strings, got "
                         f"{_short(names)}")
    return dict(zip(names, arrays))


def resolve_checkpoint_path(path: str | os.PathLike[str]) -> str:
    """A checkpoint file from a file path, a checkpoints folder, or a run folder (folders through `latest`); `~`
    is the home folder, as baselines' load_variables read it."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(path):
        return path
    for folder in (path, os.path.join(path, CHECKPOINTS_SUBDIR)):
        pointer = os.path.join(folder, LATEST_POINTER)
        if os.path.isfile(pointer):
            return os.path.join(folder, _pointer_target(pointer))
    raise CheckpointError(
        f"{path!r} is a folder without a {LATEST_POINTER!r} pointer; give a checkpoint file, a checkpoints "
        "folder or a run folder"
    )


def _pointer_target(pointer: str) -> str:
    """The checkpoint name a `latest` pointer holds (a file name in its folder, read with a size limit)."""
    try:
        with open(pointer, "rb") as file:
            raw = file.read(_MAX_POINTER_BYTES + 1)
        name = raw.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"cannot read the pointer {pointer!r} ({err})") from None
    if not name or len(raw) > _MAX_POINTER_BYTES or os.sep in name or "\0" in name or name in (".", ".."):
        raise CheckpointError(f"{pointer!r} does not name a checkpoint (it holds {_short(name)})")
    return name


# What zipfile raises on a damaged or forged archive (a flipped bit can surface as almost any of these).
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, struct.error, ValueError,
                   OverflowError, NotImplementedError, RuntimeError)


@contextlib.contextmanager
def _archive_errors(message: str) -> Iterator[None]:
    """Report what a damaged archive raises inside the block as a CheckpointError: `message (the error)`."""
    try:
        yield
    except CheckpointError:
        raise
    except _ARCHIVE_ERRORS as err:
        raise CheckpointError(f"{message} ({type(err).__name__}: {err})") from None


def _open_archive(path: str | os.PathLike[str]) -> zipfile.ZipFile:
    resolved = resolve_checkpoint_path(path)
    if not os.path.exists(resolved):
        raise CheckpointError(f"no checkpoint at {resolved!r}")
    with _archive_errors(f"{resolved!r} is not a baselines_tf2 checkpoint or is truncated/corrupt"):
        return zipfile.ZipFile(resolved, "r")


def _member(archive: zipfile.ZipFile, name: str, compressions: tuple[int, ...], where: str) -> zipfile.ZipInfo:
    """The archive's entry `name`, if it is stored with one of `compressions` and not encrypted."""
    info = archive.getinfo(name)  # KeyError when missing: the callers name what is missing
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{where}: {name} is encrypted; checkpoints never are")
    if info.compress_type not in compressions:
        raise CheckpointError(f"{where}: {name} is compressed (method {info.compress_type}); baselines_tf2 stores "
                              "it uncompressed, and a compressed member could inflate far beyond its stored size")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise CheckpointError(f"{where}: {name} is stored in {info.compress_size} bytes but records "
                              f"{info.file_size}; the file is corrupt")
    return info


def _metadata_of(archive: zipfile.ZipFile, path: str | os.PathLike[str]) -> dict[str, Any]:
    where = repr(os.fspath(path))
    try:
        info = _member(archive, METADATA_ENTRY, (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED), where)
    except KeyError:
        raise CheckpointError(f"{where} has no {METADATA_ENTRY}; it is not a complete checkpoint") from None
    if info.file_size > MAX_METADATA_BYTES:
        raise CheckpointError(f"{where}: {METADATA_ENTRY} is {info.file_size} bytes, more than any checkpoint's "
                              f"({MAX_METADATA_BYTES}); the file is corrupt or forged")
    with _archive_errors(f"{where}: metadata is corrupt"):
        with archive.open(info) as member:  # zipfile never returns more than the entry's recorded size
            raw = member.read(MAX_METADATA_BYTES + 1)
    try:
        metadata = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise CheckpointError(f"{where}: metadata is corrupt ({type(err).__name__}: {err})") from None
    _check_metadata(metadata, where)
    return metadata


def _read_array(
    archive: zipfile.ZipFile, path: str | os.PathLike[str], group: str, position: int, entry: Mapping[str, Any]
) -> np.ndarray:
    """One array, read in a single pass: header checked against `entry`, data streamed into an array of exactly the
    size the entry justifies, then the whole member checked against the entry's checksum."""
    where = repr(os.fspath(path))
    label = f"array {_short(entry['name'])} of group {_short(group)}"
    member = f"arrays/{group}/{position:04d}.npy"
    try:
        info = _member(archive, member, (zipfile.ZIP_STORED,), where)
    except KeyError:
        raise CheckpointError(f"{where}: {label} ({member}) is missing") from None
    shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
    with _archive_errors(f"{where}: {label} is corrupt"):
        with archive.open(info) as data:
            reader = _HashingReader(data)
            header_shape, fortran_order, header_dtype = _npy_header(reader)
            if header_shape != shape or header_dtype != dtype or fortran_order:
                raise CheckpointError(
                    f"{where}: {label} is {header_dtype.str}{list(header_shape)} by its header, metadata says "
                    f"{dtype.str}{list(shape)}"
                )
            if reader.count + _nbytes(entry) != info.file_size:
                raise CheckpointError(f"{where}: {label} needs {reader.count + _nbytes(entry)} bytes, its member "
                                      f"holds {info.file_size}; the file is corrupt")
            array = np.empty(shape, dtype)
            _read_into(reader, array)
    if reader.digest.hexdigest() != entry["sha256"]:
        raise CheckpointError(f"{where}: {label} fails its checksum; the file is corrupt")
    return array


class _HashingReader:
    """A read-only stream that hashes and counts what passes through it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data


def _npy_header(stream: _HashingReader) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from a .npy header, parsed by NumPy's literal-only reader (10 kB at most)."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f".npy format version {version}; numeric arrays are written as 1.0 or 2.0")


def _read_into(stream: _HashingReader, array: np.ndarray) -> None:
    """Fill the C-contiguous `array` with its raw bytes from `stream`, one chunk at a time."""
    view = array.reshape(-1).view(np.uint8)
    for start in range(0, view.size, _READ_CHUNK):
        wanted = min(_READ_CHUNK, view.size - start)
        chunk = stream.read(wanted)
        if len(chunk) != wanted:
            raise EOFError(f"the member ends {view.size - start - len(chunk)} bytes before the array does")
        view[start:start + wanted] = np.frombuffer(chunk, np.uint8)


def _nbytes(entry: Mapping[str, Any]) -> int:
    """Bytes of the array a checked metadata entry describes (Python ints: no overflow on forged shapes)."""
    return math.prod(entry["shape"]) * np.dtype(entry["dtype"]).itemsize


# ---- the metadata schema: every field a loader reads, checked once when the file is read ---------------------

Kinds = tuple[type, ...]
_INTEGER: Kinds = (int,)
_NUMBER: Kinds = (int, float)
_NULL = type(None)
_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object",
               list: "an array", _NULL: "null"}

# Present fields must have these types (absent ones are reported by the loader that needs them).
_TOP_FIELDS: dict[str, Kinds] = {
    "alg": (str,), "network": (str,), "network_kwargs": (dict,), "value_network": (str, _NULL), "precision": (str,),
    "timesteps": _INTEGER, "epsilon": _NUMBER, "seed": (int, _NULL), "hyperparameters": (dict,),
    "observation_space": (dict,), "action_space": (dict,), "env": (dict,), "training": (dict,),
    "vec_normalize": (dict,), "env_state": (dict,), "replay": (dict,), "replay_arrays": (list,), "noise": (dict,),
    "versions": (dict,), "imported_from": (dict,),
}
_ENTRY_FIELDS: dict[str, Kinds] = {"name": (str,), "shape": (list,), "dtype": (str,), "sha256": (str,)}  # required
_ENV_FIELDS: dict[str, Kinds] = {"recipe": (dict, _NULL), "wrappers": (list,)}
_RECIPE_FIELDS: dict[str, Kinds] = {  # required: make_vec_env has written all six since the first checkpoint
    "env_id": (str,), "env_type": (str,), "wrapper_kwargs": (dict,), "env_kwargs": (dict,), "reward_scale": _NUMBER,
    "flatten_dict_observations": (bool,),
}
_TRAINING_FIELDS: dict[str, Kinds] = {
    "total_timesteps": _NUMBER, "nbatch": _INTEGER, "update": _INTEGER, "t": _INTEGER, "episodes": _INTEGER,
    "gradient_steps": _INTEGER, "rng": (dict,), "best_mean_reward": (int, float, _NULL),
    "checkpoint_offset": _INTEGER, "recent_episode_scores": (list,), "best_eval_score": (int, float, _NULL),
}
_ENV_STATE_FIELDS: dict[str, Kinds] = {"wrappers": (list,), "envs": (list,)}  # required
_ENV_LOG_FIELDS: dict[str, Kinds] = {"first_seed": _INTEGER, "resets": _INTEGER, "log": (list,)}  # required
_NOISE_FIELDS: dict[str, Kinds] = {"rng": (dict,), "param_noise_stddev": _NUMBER, "action_noise": (list,)}


def _check_metadata(metadata: Any, where: str) -> None:
    """CheckpointError naming the first field that is missing where required or of another type than loaders use."""
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{where} is not a baselines_tf2 checkpoint ({METADATA_ENTRY} holds "
                              f"{_json_name(metadata)}, not an object)")
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{where} is not a baselines_tf2 checkpoint (format {_short(metadata.get('format'))})")
    version = metadata.get("version")
    if not _has_type(version, _INTEGER) or version != FORMAT_VERSION:
        raise CheckpointError(f"{where} has checkpoint format version {_short(version)}; "
                              f"this baselines_tf2 reads version {FORMAT_VERSION}")
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise CheckpointError(f"{where}: metadata is nested deeper than {MAX_METADATA_DEPTH} levels; it is forged")
    if not isinstance(metadata.get("arrays"), dict):
        raise CheckpointError(f"{where}: metadata lists no arrays")
    _check_fields(metadata, _TOP_FIELDS, "", where)
    for group, entries in metadata["arrays"].items():
        _check_array_entries(entries, f"arrays.{group}", where)
    for name in ("observation_space", "action_space"):
        if name in metadata:
            _check_space(metadata[name], name, where)
    if "env" in metadata:
        _check_env(metadata["env"], _space_size(metadata.get("observation_space")), where)
    _check_fields(metadata.get("training", {}), _TRAINING_FIELDS, "training.", where)
    _check_fields(metadata.get("noise", {}), _NOISE_FIELDS, "noise.", where)
    if "env_state" in metadata:
        _check_env_state(metadata["env_state"], where)


def _check_fields(record: Mapping[str, Any], fields: Mapping[str, Kinds], prefix: str, where: str,
                  required: bool = False) -> None:
    for key, kinds in fields.items():
        if key not in record:
            if required:
                raise CheckpointError(f"{where}: metadata lacks {prefix}{key}")
        elif not _has_type(record[key], kinds):
            _wrong_type(f"{prefix}{key}", record[key], _kind_names(kinds), where)


def _check_records(records: list[Any], fields: Mapping[str, Kinds], prefix: str, where: str) -> None:
    """Each of `records` an object with every one of `fields`."""
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            _wrong_type(f"{prefix}[{index}]", record, "an object", where)
        _check_fields(record, fields, f"{prefix}[{index}].", where, required=True)


def _check_array_entries(entries: Any, field: str, where: str) -> None:
    if not isinstance(entries, list):
        _wrong_type(field, entries, "an array", where)
    _check_records(entries, _ENTRY_FIELDS, field, where)
    for index, entry in enumerate(entries):
        label = f"{where}: array {_short(entry['name'])} ({field}[{index}]) cannot be read"
        if not all(_has_type(size, _INTEGER) and size >= 0 for size in entry["shape"]):
            raise CheckpointError(f"{label}: its shape {_short(entry['shape'])} is not a list of sizes")
        dtype = _numeric_dtype(entry["dtype"])
        if dtype is None or dtype.str != entry["dtype"]:
            raise CheckpointError(f"{label}: its dtype {_short(entry['dtype'])} is not a numeric NumPy dtype")


_SPACE_FIELDS: dict[str, dict[str, Kinds]] = {  # required, by space type
    "Discrete": {"n": _INTEGER},
    "Box": {"shape": (list,), "dtype": (str,), "low": (int, float, bool, list), "high": (int, float, bool, list)},
    "MultiDiscrete": {"nvec": (list,)},
    "MultiBinary": {"n": (int, list)},
}


def _check_space(space: dict[str, Any], field: str, where: str) -> None:
    """A space description `space_from_json` can rebuild without allocating more than MAX_SPACE_ELEMENTS values."""
    problem = _space_problem(space)
    if problem is not None:
        raise CheckpointError(f"{where}: metadata field {field} describes an invalid space: {problem}")


def _space_problem(space: dict[str, Any]) -> str | None:
    kind = space.get("type")
    if kind == "Dict":  # goal envs' observations: one level of Boxes, as space_to_json writes them
        entries = space.get("spaces")
        if not isinstance(entries, dict) or not all(isinstance(sub, dict) and sub.get("type") == "Box"
                                                    for sub in entries.values()):
            return "a Dict space's entries must all be Box spaces"
        problems = [f"entry {_short(key)}: {problem}" for key, sub in entries.items()
                    if (problem := _space_problem(sub)) is not None]
        if problems:
            return problems[0]
        if sum(math.prod(sub["shape"]) for sub in entries.values()) > MAX_SPACE_ELEMENTS:
            return f"its entries hold more values than any policy's space ({MAX_SPACE_ELEMENTS})"
        return None
    fields = _SPACE_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return f"unknown space type {_short(kind)}"
    for key, kinds in fields.items():
        if not _has_type(space.get(key), kinds):
            return f"{key} must be {_kind_names(kinds)}, not {_json_name(space.get(key))}"
    if kind == "Discrete":
        start = space.get("start", 0)
        if not _has_type(start, _INTEGER) or abs(start) > MAX_SPACE_ELEMENTS:
            return f"start {_short(start)} is not an integer of at most {MAX_SPACE_ELEMENTS}"
        sizes = [space["n"]]
    elif kind == "Box":
        dtype = _numeric_dtype(space["dtype"])
        if dtype is None or dtype.kind == "c":
            return f"dtype {_short(space['dtype'])} is not an integer, float or bool dtype"
        sizes = space["shape"]
    elif kind == "MultiDiscrete":
        sizes = list(_leaves(space["nvec"]))
    else:
        sizes = space["n"] if isinstance(space["n"], list) else [space["n"]]
    if not all(_has_type(size, _INTEGER) and size >= (0 if kind == "Box" else 1) for size in sizes):
        return f"its sizes {_short(sizes)} are not counts"
    if math.prod(sizes) > MAX_SPACE_ELEMENTS:
        return f"it holds {math.prod(sizes)} values, more than any policy's space ({MAX_SPACE_ELEMENTS})"
    return None


def _space_size(space: Any) -> int:
    """Values in a checked observation space description (MAX_SPACE_ELEMENTS when there is none)."""
    if isinstance(space, dict) and space.get("type") == "Box":
        return math.prod(space["shape"])
    return MAX_SPACE_ELEMENTS


def _check_env(env: dict[str, Any], observation_size: int, where: str) -> None:
    """The env description `rebuild_vec_env` follows: a make_vec_env recipe and the VecEnv wrappers around it."""
    _check_fields(env, _ENV_FIELDS, "env.", where)
    if isinstance(env.get("recipe"), dict):
        _check_fields(env["recipe"], _RECIPE_FIELDS, "env.recipe.", where, required=True)
    wrappers = env.get("wrappers", [])
    _check_records(wrappers, {"type": (str,)}, "env.wrappers", where)
    for index, wrapper in enumerate(wrappers):
        field = f"env.wrappers[{index}]."
        if wrapper["type"] == "VecFrameStack":
            _check_fields(wrapper, {"nstack": _INTEGER, "channels_order": (str,)}, field, where, required=True)
            if not 1 <= wrapper["nstack"] <= max(1, observation_size):  # the stack is part of the observation
                raise CheckpointError(f"{where}: metadata field {field}nstack {_short(wrapper['nstack'])} does not "
                                      f"fit an observation of {observation_size} values")
        elif wrapper["type"] == "VecNormalize":
            _check_fields(wrapper, {"state": (dict,)}, field, where, required=True)


def _check_env_state(state: dict[str, Any], where: str) -> None:
    """The envs' exact state for resuming: the wrappers' kinds and each env's seeded call log."""
    _check_fields(state, _ENV_STATE_FIELDS, "env_state.", where, required=True)
    _check_records(state["wrappers"], {"kind": (str,)}, "env_state.wrappers", where)
    _check_records(state["envs"], _ENV_LOG_FIELDS, "env_state.envs", where)
    for index, env in enumerate(state["envs"]):
        if not all(isinstance(call, list) and len(call) == 2 and isinstance(call[0], str) for call in env["log"]):
            raise CheckpointError(f"{where}: metadata field env_state.envs[{index}].log holds something other "
                                  "than [call, argument] pairs")


def _numeric_dtype(name: str) -> np.dtype | None:
    """The plain numeric (bool, integer, float, complex) dtype `name` spells, else None."""
    try:
        dtype = np.dtype(name)
    except (TypeError, ValueError, SyntaxError):
        return None
    return dtype if dtype.kind in _NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None else None


def _has_type(value: Any, kinds: Kinds) -> bool:
    """`value` is of one of `kinds`, where JSON's true/false count as booleans only, never as numbers."""
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _wrong_type(field: str, value: Any, expected: str, where: str) -> NoReturn:
    raise CheckpointError(f"{where}: metadata field {field} must be {expected}, not {_json_name(value)} "
                          f"({_short(value)})")


def _kind_names(kinds: Kinds) -> str:
    return " or ".join(_JSON_NAMES[kind] for kind in kinds)


def _json_name(value: Any) -> str:
    return next((name for kind, name in _JSON_NAMES.items() if type(value) is kind), type(value).__name__)


def _depth(value: Any) -> int:
    """How deeply JSON data nests (iteratively: the data may be nested deeper than Python's recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _leaves(value: Any) -> Iterator[Any]:
    """The non-list items of nested lists (depth already bounded by MAX_METADATA_DEPTH)."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 80


def _short(value: Any) -> str:
    """A repr of untrusted data for error messages: cut short, and safe for deeply nested values."""
    return _SHORT_REPR.repr(value)


def space_to_json(space: gymnasium.Space) -> dict[str, Any]:
    """A JSON description of a Box, Discrete, MultiDiscrete or MultiBinary space (bounds kept exactly), or of a Dict
    of Boxes (goal-based envs' observations)."""
    if isinstance(space, gymnasium.spaces.Dict) and all(
            isinstance(sub, gymnasium.spaces.Box) for sub in space.spaces.values()):
        return {"type": "Dict", "spaces": {str(key): space_to_json(sub) for key, sub in space.spaces.items()}}
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
        f"cannot describe space {space} in a checkpoint; supported: Box, Discrete, MultiDiscrete, MultiBinary and "
        "Dict of Box")


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
    if kind == "Dict":  # one level of Boxes, as space_to_json writes (a nested Dict is refused, not recursed into)
        entries = description["spaces"]
        if not isinstance(entries, Mapping) or any(
                not isinstance(sub, Mapping) or sub.get("type") != "Box" for sub in entries.values()):
            raise CheckpointError("checkpoint describes a Dict space whose entries are not all Box spaces")
        return gymnasium.spaces.Dict({str(key): space_from_json(sub) for key, sub in entries.items()})
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
                          path: str, with_defaults: Callable[[str, Any], Any] | None = None) -> None:
    """Raise CheckpointError if a checkpoint was saved by another network or with other network kwargs;
    `with_defaults(network, kwargs)` fills in the defaults of the network's builder on both sides first (so mlp()
    and mlp(num_hidden=64) are one network)."""
    if metadata.get("network") != network:
        raise CheckpointError(f"{path!r} holds network {_short(metadata.get('network'))}, but this model has "
                              f"{network!r}")
    ours = json_normalized(dict(network_kwargs))
    saved = metadata.get("network_kwargs")
    fill = with_defaults or (lambda _network, kwargs: kwargs)
    if json_normalized(fill(network, saved)) != json_normalized(fill(network, ours)):
        raise CheckpointError(f"{path!r} holds network_kwargs {_short(saved)}, but this model has {ours!r}")


def _describe_space(space_json: Any) -> str:
    if not isinstance(space_json, dict):
        return _short(space_json)
    if space_json.get("type") == "Discrete":
        return f"Discrete({space_json['n']})"
    if space_json.get("type") == "Box":
        return f"Box(shape={tuple(space_json['shape'])}, dtype={space_json['dtype']})"
    if space_json.get("type") == "Dict" and isinstance(space_json.get("spaces"), dict):
        return "Dict(" + ", ".join(f"{key}: {_describe_space(sub)}" for key, sub in space_json["spaces"].items()) + ")"
    return _short(space_json)
