"""Hostile files: every loader refuses a malformed checkpoint with a one-line CheckpointError (a baselines model file:
CorruptPickleError / UnsafePickleError), never a traceback, and never allocates more than the file justifies.

Property-based: Hypothesis mutates the real checkpoints in tests/fixtures/checkpoints_0 (truncation, bit flips,
replaced members, wrong-typed metadata values, .npy headers that lie, members that inflate far beyond their stored
size) and a real joblib model file; a fixed seed (derandomize) and bounded example counts keep it reproducible and
under a minute. Memory is measured with tracemalloc, which sees NumPy's allocations too, and where TensorFlow
would allocate (networks the metadata sizes) as the process's peak resident size.
"""

from __future__ import annotations

import hashlib
import io
import json
import resource
import struct
import sys
import time
import tracemalloc
import zipfile
import zlib
from functools import cache
from pathlib import Path
from typing import Any, Callable, NamedTuple

import joblib
import numpy as np
import pytest
from cli_helpers import PLAY, RUN, run_concurrently
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baselines_tf2.tools import safe_unpickle
from baselines_tf2.tools.safe_unpickle import CorruptPickleError, UnsafePickleError, load_joblib_arrays
from baselines_tf2.training.checkpoint import (
    MAX_METADATA_BYTES,
    CheckpointError,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkpoints_0"
ALGS = ("ppo2", "a2c", "deepq")
ORIGINALS = {alg: (FIXTURES / f"{alg}_cartpole").read_bytes() for alg in ALGS}
MEMORY_BOUND = 16 << 20  # peak bytes a refusal may allocate; every lie and bomb below claims 64 MiB or more
HUGE = 1 << 26  # bytes a bomb inflates to
PROPERTY = settings(derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])



class Mutation(NamedTuple):
    """A damaged file, what was done to it, and whether it certainly differs in meaning from the original."""

    what: str
    data: bytes
    must_refuse: bool

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"Mutation({self.what!r}, {len(self.data)} bytes, must_refuse={self.must_refuse})"


# ---- building damaged checkpoints ----------------------------------------------------------------------


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(entries: dict[str, bytes], deflated: frozenset[str] = frozenset()) -> bytes:
    """A zip of `entries` in order, those named in `deflated` compressed (a checkpoint stores everything)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data, zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED)
    return buffer.getvalue()


def with_metadata(entries: dict[str, bytes], edit: Callable[[dict[str, Any]], None]) -> dict[str, bytes]:
    metadata = json.loads(entries["metadata.json"])
    edit(metadata)
    return {**entries, "metadata.json": json.dumps(metadata).encode()}


def npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"shape": shape, "fortran_order": False, "descr": np.lib.format.dtype_to_descr(dtype)})
    return buffer.getvalue()


def array_entry(metadata: dict[str, Any], member: str) -> dict[str, Any]:
    _, group, file_name = member.split("/")
    return metadata["arrays"][group][int(file_name.removesuffix(".npy"))]


@cache
def inflating_payload() -> bytes:
    """A .npy of HUGE bytes of zeros (it deflates to about 1/1000 of that)."""
    return npy_header((HUGE // 4,), np.dtype("<f4")) + bytes(HUGE)


def set_declared_size(data: bytes, name: str, field: str, size: int) -> bytes:
    """The zip with the central directory's compressed and/or uncompressed size of `name` replaced by `size`."""
    raw = bytearray(data)
    start = raw.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack_from("<H", raw, start + 28)[0]
        if raw[start + 46:start + 46 + name_length] == name.encode():
            break
        start = raw.index(b"PK\x01\x02", start + 46)
    for offset in {"compressed": (20,), "uncompressed": (24,), "both": (20, 24)}[field]:
        struct.pack_into("<I", raw, start + offset, size)
    return bytes(raw)


# ---- the mutations -------------------------------------------------------------------------------------

JSON_KINDS: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "number": st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True)),
    "string": st.text(max_size=12),
    "array": st.lists(st.integers(-3, 3), max_size=3),
    "object": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
}
ALSO_ACCEPTED = {  # fields that take another JSON kind besides the one the fixtures hold
    "seed": {"null"}, "value_network": {"null"}, "env.recipe": {"null"},
    "training.best_mean_reward": {"null", "number"},
    "observation_space.low": {"number", "boolean"}, "observation_space.high": {"number", "boolean"},
}
TYPED_PARENTS = ("env", "env.recipe", "training", "observation_space", "action_space")


def json_kind(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "null" if value is None else "boolean"
    return {int: "number", float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def typed_fields(metadata: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths (as key tuples) of the fields whose type a loader relies on, as this checkpoint holds them."""
    paths: list[tuple[Any, ...]] = [(key,) for key in metadata]
    for parent in TYPED_PARENTS:
        keys = tuple(parent.split("."))
        node = metadata
        for key in keys:
            node = node[key]
        paths += [keys + (key,) for key in node if keys + (key,) not in (("training", "rng"),)]
    for group, entries in metadata["arrays"].items():
        paths.append(("arrays", group))
        for index, entry in enumerate(entries):
            paths += [("arrays", group, index, key) for key in entry]
            paths += [("arrays", group, index, "shape", dim) for dim in range(len(entry["shape"]))]
    return paths


@st.composite
def wrong_typed(draw: st.DrawFn, entries: dict[str, bytes]) -> Mutation:
    """metadata.json with one field a loader reads replaced by a value of another JSON type."""
    metadata = json.loads(entries["metadata.json"])
    fields = typed_fields(metadata)
    in_arrays = [path for path in fields if path[0] == "arrays"]  # most fields: half the draws go to the rest
    path = draw(st.sampled_from(in_arrays) | st.sampled_from([path for path in fields if path[0] != "arrays"]))
    parent = metadata
    for key in path[:-1]:
        parent = parent[key]
    name = ".".join(str(key) for key in path)
    accepted = {json_kind(parent[path[-1]])} | ALSO_ACCEPTED.get(name, set())
    kind = draw(st.sampled_from(sorted(set(JSON_KINDS) - accepted)))
    parent[path[-1]] = draw(JSON_KINDS[kind])
    damaged = zipped({**entries, "metadata.json": json.dumps(metadata).encode()})
    return Mutation(f"{name} = {parent[path[-1]]!r:.60}", damaged, True)


@st.composite
def header_lie(draw: st.DrawFn, entries: dict[str, bytes]) -> Mutation:
    """An array whose .npy header claims another shape or dtype (64 MiB or more, or a near miss), its checksum
    recomputed; with `forge_metadata` the metadata's entry tells the same lie."""
    member = draw(st.sampled_from([name for name in entries if name.endswith(".npy")]))
    stream = io.BytesIO(entries[member])
    np.lib.format.read_magic(stream)
    shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    data = stream.read()
    lie = draw(st.one_of(
        st.tuples(st.integers(24, 62).map(lambda bits: (1 << bits,)), st.just(dtype)),
        st.tuples(st.just((*shape[:-1], shape[-1] + 1) if shape else (2,)), st.just(dtype)),
        st.tuples(st.just(shape), st.sampled_from([np.dtype("<f8"), np.dtype("<i8"), np.dtype("|u1")])),
    ).filter(lambda claim: claim != (shape, dtype)))
    payload = npy_header(lie[0], lie[1]) + data

    def forge(metadata: dict[str, Any]) -> None:
        entry = array_entry(metadata, member)
        entry["sha256"] = hashlib.sha256(payload).hexdigest()
        if draw(st.booleans()):  # forge_metadata
            entry.update(shape=list(lie[0]), dtype=lie[1].str)

    damaged = zipped(with_metadata({**entries, member: payload}, forge))
    return Mutation(f"{member} header claims {lie}", damaged, True)


@st.composite
def oversized(draw: st.DrawFn, entries: dict[str, bytes]) -> Mutation:
    """A member that inflates to HUGE bytes from a few kilobytes, or whose recorded size is a lie."""
    arrays = [name for name in entries if name.endswith(".npy")]
    how = draw(st.sampled_from(["deflated_array", "deflated_original", "deflated_metadata", "declared_size"]))
    if how == "deflated_array":
        member = draw(st.sampled_from(arrays))

        def claim(metadata: dict[str, Any]) -> None:
            array_entry(metadata, member).update(shape=[HUGE // 4], dtype="<f4",
                                                 sha256=hashlib.sha256(inflating_payload()).hexdigest())

        damaged = zipped(with_metadata({**entries, member: inflating_payload()}, claim), frozenset([member]))
        return Mutation(f"{member} inflates to {HUGE} bytes", damaged, True)
    if how == "deflated_original":  # the same array, compressed: checkpoints store arrays as they are
        member = draw(st.sampled_from(arrays))
        return Mutation(f"{member} deflated", zipped(entries, frozenset([member])), True)
    if how == "deflated_metadata":
        padded = entries["metadata.json"] + b" " * (MAX_METADATA_BYTES + 1)
        return Mutation("metadata.json inflates beyond the limit",
                        zipped({**entries, "metadata.json": padded}, frozenset(["metadata.json"])), True)
    member = draw(st.sampled_from(["metadata.json", *arrays]))
    field = draw(st.sampled_from(["compressed", "uncompressed", "both"]))
    size = draw(st.integers(len(entries[member]) + 1, 0xFFFF_FFFE))
    return Mutation(f"{member} records {field} size {size}", set_declared_size(zipped(entries), member, field, size),
                    True)


def mutations(alg: str) -> st.SearchStrategy[Mutation]:
    original = ORIGINALS[alg]
    entries = members(original)
    names = list(entries)

    @st.composite
    def replaced_member(draw: st.DrawFn) -> Mutation:
        member = draw(st.sampled_from(names))
        replacement = draw(st.one_of(st.binary(max_size=64), st.sampled_from([entries[name] for name in names]),
                                     JSON_KINDS["array"].map(lambda value: json.dumps(value).encode())))
        return Mutation(f"{member} replaced by {replacement!r:.60}", zipped({**entries, member: replacement}),
                        replacement != entries[member])

    truncated = st.integers(0, len(original) - 1).map(lambda cut: Mutation(f"cut at {cut}", original[:cut], True))
    flipped = st.lists(st.integers(0, 8 * len(original) - 1), min_size=1, max_size=8).map(
        lambda bits: Mutation(f"bits {bits} flipped", flip_bits(original, bits), False))
    return st.one_of(truncated, flipped, replaced_member(), wrong_typed(entries), header_lie(entries),
                     oversized(entries))


def flip_bits(data: bytes, bits: list[int]) -> bytes:
    raw = bytearray(data)
    for bit in bits:
        raw[bit // 8] ^= 1 << (bit % 8)
    return bytes(raw)


# ---- the properties ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def loaded_or_refused(load: Callable[[], Any]) -> tuple[Any, int]:
    """(what `load` returned, or the CheckpointError it raised; peak bytes allocated meanwhile)."""
    tracemalloc.start()
    try:
        result = load()
    except CheckpointError as err:
        result = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak


def assert_refused_or_unchanged(result: Any, alg: str, must_refuse: bool) -> None:
    if isinstance(result, CheckpointError):
        assert "\n" not in str(result)
        return
    assert not must_refuse, f"a malformed file loaded: {result!r:.300}"
    metadata, groups = result
    original_metadata, original_groups = load_checkpoint(FIXTURES / f"{alg}_cartpole")
    assert metadata == original_metadata
    assert groups.keys() == original_groups.keys()
    for name, arrays in groups.items():
        for array, original in zip(arrays, original_groups[name], strict=True):
            np.testing.assert_array_equal(array, original)


@pytest.mark.parametrize("alg", ALGS)
def test_damaged_checkpoints_are_refused_within_bounded_memory(alg: str, workdir: Path) -> None:
    path = workdir / f"{alg}_damaged"

    @settings(PROPERTY, max_examples=100)
    @given(mutation=mutations(alg))
    def check(mutation: Mutation) -> None:
        _, data, must_refuse = mutation
        path.write_bytes(data)
        result, peak = loaded_or_refused(lambda: load_checkpoint(path))
        assert peak < MEMORY_BOUND, f"{peak} bytes allocated"
        assert_refused_or_unchanged(result, alg, must_refuse)
        metadata, peak = loaded_or_refused(lambda: read_metadata(path))
        assert peak < MEMORY_BOUND, f"{peak} bytes allocated"
        if not isinstance(result, CheckpointError):
            assert metadata == result[0]

    check()


def test_every_loader_refuses_damaged_checkpoints_cleanly(workdir: Path) -> None:
    """play, evaluate and export (load_policy, the env rebuilt from the file) and learn(load_path=...) (the agent's
    own load): a CheckpointError or the original file's content, whatever the damage."""
    from baselines_tf2.deepq.act import load_act
    from baselines_tf2.tools.play import checkpoint_with_env
    from baselines_tf2.training.agent import load_policy

    path = workdir / "damaged_for_loaders"

    def load_everything() -> None:
        load_policy(str(path))
        with checkpoint_with_env(str(path)):
            pass
        if read_metadata(path).get("alg") == "deepq":
            load_act(str(path))

    @settings(PROPERTY, max_examples=25)
    @given(alg=st.sampled_from(ALGS), data=st.data())
    def check(alg: str, data: st.DataObject) -> None:
        _, damaged, must_refuse = data.draw(mutations(alg))
        path.write_bytes(damaged)
        try:
            load_everything()
        except CheckpointError as err:
            assert "\n" not in str(err)
            return
        assert not must_refuse, "a malformed file loaded"

    check()


def test_wrong_typed_metadata_is_named_in_the_error(workdir: Path) -> None:
    """The issue's case: valid JSON of the wrong type, whose error message itself used to raise."""
    entries = members(ORIGINALS["ppo2"])
    cases = {
        b"[1, 2]": "metadata.json holds an array, not an object",
        json.dumps({**json.loads(entries["metadata.json"]), "training": {"nbatch": "64"}}).encode():
            "metadata field training.nbatch must be an integer, not a string",
        json.dumps({**json.loads(entries["metadata.json"]), "action_space": {"type": "Discrete", "n": 2**70}}).encode():
            "action_space describes an invalid space",
    }
    for metadata, message in cases.items():
        (workdir / "typed").write_bytes(zipped({**entries, "metadata.json": metadata}))
        with pytest.raises(CheckpointError, match=message):
            read_metadata(workdir / "typed")


# ---- baselines' own model files (import_baselines) ---------------------------------------------------------


def baselines_variables() -> dict[str, np.ndarray]:
    """A TF1 baselines mlp model as save_variables wrote it: {name: array} (weights and Adam slots)."""
    rng = np.random.default_rng(0)
    shapes = {"pi/mlp_fc0/w": (4, 8), "pi/mlp_fc0/b": (8,), "pi/w": (8, 2), "pi/b": (2,), "vf/w": (8, 1)}
    weights = {f"a2c_model/{name}:0": rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}
    return {**weights, **{name.replace(":0", "/Adam:0"): np.zeros_like(value) for name, value in weights.items()},
            "beta1_power:0": np.float32(0.9)}


@cache
def baselines_file(compress: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(baselines_variables(), buffer, compress=compress)
    return buffer.getvalue()


@st.composite
def damaged_baselines_file(draw: st.DrawFn) -> bytes:
    original = baselines_file(draw(st.sampled_from([0, "zlib", "gzip"])))
    how = draw(st.sampled_from(["truncated", "flipped", "length_lie", "spliced"]))
    if how == "truncated":
        return original[:draw(st.integers(0, len(original) - 1))]
    if how == "flipped":
        return flip_bits(original, draw(st.lists(st.integers(0, 8 * len(original) - 1), min_size=1, max_size=8)))
    if how == "length_lie":  # any 4 or 8 bytes, e.g. a BINBYTES, FRAME or array size, now claims gigabytes or more
        width = draw(st.sampled_from([4, 8]))
        at = draw(st.integers(0, len(original) - width))
        lie = draw(st.integers(1 << 26, (1 << (8 * width)) - 1)).to_bytes(width, "little")
        return original[:at] + lie + original[at + width:]
    opcodes = draw(st.sampled_from([b"\x85", b"]", b"}", b"(", b"\x96" + (1 << 40).to_bytes(8, "little")]))
    at = draw(st.integers(2, len(original)))  # opcodes repeated into the stream: deep tuples, many objects
    return original[:at] + opcodes * draw(st.integers(1, 200_000)) + original[at:]


def test_damaged_baselines_files_are_refused_within_bounded_memory(workdir: Path) -> None:
    path = workdir / "baselines_model"

    @settings(PROPERTY, max_examples=150)
    @given(damaged=damaged_baselines_file())
    def check(damaged: bytes) -> None:
        path.write_bytes(damaged)
        tracemalloc.start()
        try:
            load_joblib_arrays(path)  # a flipped bit in array data loads: the importer then checks the shapes
        except (CorruptPickleError, UnsafePickleError) as err:
            assert "\n" not in str(err)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < MEMORY_BOUND + 20 * len(damaged), f"{peak} bytes allocated for a {len(damaged)}-byte file"

    check()


def test_a_compression_bomb_stops_at_the_stream_limit(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_unpickle, "MAX_STREAM_BYTES", 4 << 20)
    pickled = baselines_file(0)
    bytes8 = b"\x8e" + HUGE.to_bytes(8, "little") + bytes(HUGE)  # BINBYTES8: 64 MiB that really follow
    bomb = zlib.compress(pickled[:-1] + bytes8 + b".")
    (workdir / "bomb").write_bytes(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptPickleError, match="more than 4194304 bytes"):
            load_joblib_arrays(workdir / "bomb")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND


# ---- networks sized by the metadata ------------------------------------------------------------------------

ADDRESS_HEADROOM = 2 << 30  # address space a guarded load may add: far less than any forged network below needs
PEAK_RSS_BOUND = 200 << 20  # peak resident memory a refusal may add
BOX_ACTIONS = {"type": "Box", "shape": [1], "dtype": "float32", "low": -2.0, "high": 2.0}


def network_kwargs(**kwargs: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of metadata.json: these network kwargs on top of the saved ones."""
    return lambda metadata: metadata["network_kwargs"].update(kwargs)


def forged(alg: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The real fixture checkpoint of `alg` with its metadata edited (its arrays, and their checksums, untouched)."""
    return zipped(with_metadata(members(ORIGINALS[alg]), edit))


def as_off_policy(alg: str, **kwargs: Any) -> Callable[[dict[str, Any]], None]:
    """The ppo2 fixture's metadata as a continuous-control checkpoint (Box actions) of `alg` with these kwargs;
    its 'policy' arrays then stand for the actor's."""
    def edit(metadata: dict[str, Any]) -> None:
        metadata.update(alg=alg, action_space=BOX_ACTIONS, hyperparameters={})
        metadata["network_kwargs"].update(kwargs)

    return edit


def status_kib(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM, VmSize), in KiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def refused_with_peak_rss(load: Callable[[], Any]) -> tuple[CheckpointError | None, int]:
    """(the CheckpointError `load` raised, or None; bytes by which the peak resident memory rose meanwhile).

    Linux only: the peak (VmHWM) is reset first, so earlier tests' peaks hide nothing, and the address space is
    capped ADDRESS_HEADROOM above its current size, so a regression fails with an allocation error in this process
    instead of exhausting the machine."""
    Path("/proc/self/clear_refs").write_text("5")  # 5: reset VmHWM to the current resident size
    start = status_kib("VmRSS")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = status_kib("VmSize") * 1024 + ADDRESS_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        load()
        refusal = None
    except CheckpointError as err:
        refusal = err
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return refusal, (status_kib("VmHWM") - start) * 1024


def capped_address_space(argv: list[str]) -> list[str]:
    """`argv` run with its address space capped at 6 GiB: what a command needs, far less than a forged network."""
    return ["sh", "-c", 'ulimit -v 6291456 && exec "$@"', "sh", *argv]


FORGED_SIZES = {  # what the metadata claims -> (the real checkpoint it is written into, the edit, the error)
    "a billion hidden units": ("ppo2", network_kwargs(num_hidden=10**9, num_layers=50),
                               "(mlp, num_hidden=1000000000, num_layers=50) would hold more than the file stores"),
    "a billion layers": ("ppo2", network_kwargs(num_layers=10**9), "would hold more than the file stores"),
    "a billion LSTM units": ("a2c", lambda metadata: metadata.update(network="lstm", network_kwargs={"nlstm": 10**9}),
                             "(lstm, nlstm=1000000000) would hold more than"),
    "16 million actions": ("a2c", lambda metadata: metadata["action_space"].update(n=1 << 24),
                           "would hold more than the file stores"),
    "a billion units in the Q head": ("deepq", network_kwargs(hiddens=[10**9]), "would hold more than"),
    "a million layers in the Q head": ("deepq", network_kwargs(hiddens=[1] * 10**6),
                                       "takes a list of 1000000 layers, more than the 12 arrays"),
    "a billion hidden units in TD3's actor": ("ppo2", as_off_policy("td3", num_hidden=10**9), "would hold more than"),
    "a billion hidden units in SAC's actor": ("ppo2", as_off_policy("sac", num_hidden=10**9), "would hold more than"),
}


@pytest.mark.skipif(sys.platform != "linux", reason="reads and resets the peak resident memory through /proc")
def test_a_network_larger_than_the_file_is_refused_before_it_is_allocated(workdir: Path) -> None:
    """The issue's case: metadata.json names a network far larger than the arrays the file stores (a rewritten real
    checkpoint). Every loader that builds from metadata refuses it in one line, at once, within bounded memory."""
    from baselines_tf2.training.agent import load_policy

    for alg in ALGS:  # control: the real files pass the bound (this also pays TensorFlow's one-time start-up)
        load_policy(str(FIXTURES / f"{alg}_cartpole"))
    path = workdir / "forged_size"
    for name, (alg, edit, problem) in FORGED_SIZES.items():
        path.write_bytes(forged(alg, edit))
        started = time.perf_counter()
        refusal, peak = refused_with_peak_rss(lambda: load_policy(str(path)))
        seconds = time.perf_counter() - started
        assert refusal is not None, f"{name}: the forged file loaded"
        assert problem in str(refusal) and "\n" not in str(refusal), f"{name}: {refusal}"
        assert peak < PEAK_RSS_BOUND, f"{name}: the peak resident memory rose by {peak} bytes"
        assert seconds < 5, f"{name}: refused after {seconds:.1f} s"


@pytest.mark.parametrize(("alg", "edit", "problem"), [
    pytest.param("ppo2", network_kwargs(num_hidden=-3), "num_hidden must be an integer >= 1", id="negative"),
    pytest.param("ppo2", network_kwargs(num_hidden="64"), "num_hidden must be an integer", id="string"),
    pytest.param("ppo2", network_kwargs(num_layers=2.5), "num_layers must be an integer", id="fraction"),
    pytest.param("ppo2", network_kwargs(activation="no_such_function"), "no_such_function", id="activation"),
    pytest.param("ppo2", network_kwargs(dropout=0.5), "unexpected keyword argument(s) ['dropout']", id="unknown_kwarg"),
    pytest.param("ppo2", lambda metadata: metadata.update(network="no_such_network"),
                 "unknown network 'no_such_network'", id="unknown_network"),
    pytest.param("ppo2", lambda metadata: metadata.update(network="conv_only", network_kwargs={"convs": [[32, 8]]}),
                 "convs must be a non-empty sequence of positive (filters, kernel, stride)", id="conv_of_two"),
    pytest.param("ppo2", lambda metadata: metadata.update(value_network="twin"), "value_network must be one of",
                 id="value_network"),
    pytest.param("ppo2", lambda metadata: metadata.update(precision="float8"), "unknown precision 'float8'",
                 id="precision"),
    pytest.param("deepq", network_kwargs(hiddens="256"), "hiddens must be a list of layer sizes", id="hiddens_string"),
    pytest.param("deepq", network_kwargs(hiddens=[0]), "hiddens[0] must be an integer >= 1", id="hiddens_zero"),
    pytest.param("ppo2", as_off_policy("td3", num_hidden=0), "num_hidden must be an integer >= 1", id="td3"),
])
def test_malformed_network_kwargs_are_a_checkpoint_error(
    alg: str, edit: Callable[[dict[str, Any]], None], problem: str, workdir: Path
) -> None:
    """Kwargs of the wrong type or range, unknown names: one line naming the problem, never a traceback."""
    from baselines_tf2.training.agent import load_policy

    path = workdir / "malformed_kwargs"
    path.write_bytes(forged(alg, edit))
    with pytest.raises(CheckpointError, match="cannot rebuild the metadata's network") as refusal:
        load_policy(str(path))
    assert problem in str(refusal.value) and "\n" not in str(refusal.value)


def test_keras_still_defers_variables_where_the_bound_expects() -> None:
    """The bound relies on private Keras behaviour (nn/tf_util.py's `_keras_deferred_register`); this fails if a
    Keras release changes it. Variables made in `StatelessScope(initialize_variables=False)` have a shape and no
    value, wait in Keras' global register, and the next top-level StatelessScope to close initialises them."""
    import keras

    from baselines_tf2.nn.tf_util import _keras_deferred_register

    with keras.StatelessScope(initialize_variables=False):
        kept = keras.layers.Dense(3)
        kept.build((None, 2))
    register: list[Any] = []
    with _keras_deferred_register(register), keras.StatelessScope(initialize_variables=False):
        dropped = keras.layers.Dense(3)
        dropped.build((None, 2))
    assert [tuple(variable.shape) for variable in register] == [(2, 3), (3,)]
    assert all(variable._value is None for variable in kept.weights + dropped.weights)  # shapes, no memory
    with keras.StatelessScope():  # Keras opens and closes one for every symbolic layer call
        pass
    assert all(variable._value is not None for variable in kept.weights)  # what the bound must not let happen
    assert all(variable._value is None for variable in dropped.weights)  # and does not


# ---- the command lines -------------------------------------------------------------------------------------


def test_command_lines_refuse_a_malformed_file_with_one_line_and_exit_2(workdir: Path) -> None:
    checkpoint = workdir / "list_metadata"
    checkpoint.write_bytes(zipped({**members(ORIGINALS["ppo2"]), "metadata.json": b"[1, 2]"}))
    model = workdir / "deep_tuples"
    model.write_bytes(b"\x80\x04})" + b"\x85" * 200_000 + b"Ns.")  # used to overflow the C stack when hashed
    checkpoint_problem = "metadata.json holds an array, not an object"
    forged_network = workdir / "forged_network"
    forged_network.write_bytes(forged("ppo2", network_kwargs(num_hidden=10**9)))
    commands = {
        "evaluate": ([sys.executable, "-m", "baselines_tf2.evaluate", str(checkpoint), "--episodes", "1"],
                     checkpoint_problem),
        "export": ([sys.executable, "-m", "baselines_tf2.export", str(checkpoint), "--format", "keras",
                    "--out", str(workdir / "exported.keras")], checkpoint_problem),
        "play": (PLAY + [str(checkpoint), "--episodes", "1"], checkpoint_problem),
        "play_forged_network": (capped_address_space(PLAY + [str(forged_network), "--episodes", "1"]),
                                "would hold more than the file stores"),
        "run": (RUN + ["--alg=ppo2", "--env=CartPole-v1", "--num_timesteps=0", f"--load_path={checkpoint}",
                       f"--log_path={workdir / 'run'}"], checkpoint_problem),
        "import_baselines": ([sys.executable, "-m", "baselines_tf2.import_baselines", str(model), "--alg", "a2c",
                              "--network", "mlp", "--env", "CartPole-v1", "--out", str(workdir / "imported")],
                             "nests tuples"),
    }
    results = run_concurrently({name: argv for name, (argv, _) in commands.items()}, workdir, timeout=240)
    for name, (_, problem) in commands.items():
        result = results[name]
        explain = f"{name}: exit {result.returncode}\n{result.stderr[-3000:]}"
        assert result.returncode == 2, explain
        assert "Traceback" not in result.stderr, explain
        errors = [line for line in result.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and problem in errors[0], explain


def test_the_fixtures_load_unchanged() -> None:
    """Control: the undamaged files load, so every refusal above is the damage's doing."""
    for alg in ALGS:
        metadata, groups = load_checkpoint(FIXTURES / f"{alg}_cartpole")
        assert metadata["alg"] == alg and groups["policy"]
        assert metadata == read_metadata(FIXTURES / f"{alg}_cartpole")


@pytest.mark.parametrize("edit", ["fewer envs", "unknown log entry", "action outside the space"])
def test_exact_resume_refuses_a_saved_env_state_that_does_not_fit(edit: str, tmp_path: Path) -> None:
    """A checkpoint whose env replay log (valid JSON, valid checksums) does not fit the env is a CheckpointError."""
    from baselines_tf2 import logger
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.ppo2 import ppo2

    def learn(**kwargs: Any) -> Any:
        env = make_vec_env("CartPole-v1", "classic_control", 1, 0, resumable=True)
        return ppo2.learn(network="mlp", env=env, total_timesteps=64, nsteps=32, nminibatches=1, save_interval=1,
                          seed=0, deterministic=True, num_hidden=8, **kwargs)

    logger.configure(dir=str(tmp_path / "run"), format_strs=[])
    learn()
    metadata, groups = load_checkpoint(tmp_path / "run" / "checkpoints" / "00001")  # one update of two: resumable
    replay = metadata["env_state"]["envs"]
    if edit == "fewer envs":
        replay.clear()
    else:
        replay[0]["log"][1] = ["jump", 1] if edit == "unknown log entry" else ["step", 7]
    forged = tmp_path / "forged"
    save_checkpoint(forged, metadata, {group: [(str(index), array) for index, array in enumerate(arrays)]
                                       for group, arrays in groups.items()})
    with pytest.raises(CheckpointError, match="saved env state does not fit this env"):
        learn(load_path=str(forged))


# ---------------------------------------------------------------------------------------------------------------
# forged replay and training state, checked before anything is sized or assigned


def test_a_forged_frame_ring_shape_is_refused_before_it_is_allocated() -> None:
    """The saved arrays are small; a frame shape in the metadata claiming petabytes must not be allocated."""
    from baselines_tf2.deepq.replay_storage import FrameStackObservations

    arrays = {"frames": np.zeros((10, 2), np.uint8), "positions": np.zeros((4, 2), np.int64)}
    info = {"frame_shape": [84, 84, 10**6], "frames_per_stack": 10**6, "frames_pushed": 0, "last_positions": None}
    with pytest.raises(ValueError, match="do not fit a buffer of 4"):
        FrameStackObservations.from_state(4, info, arrays)


@pytest.mark.parametrize("names", [[0, "rewards"], ["rewards"], ["rewards", "rewards"], "rewards"])
def test_replay_array_names_must_be_distinct_strings_one_per_array(names: Any) -> None:
    from baselines_tf2.training.checkpoint import saved_replay_arrays

    groups = {"replay": [np.zeros(3), np.zeros(3)]}
    with pytest.raises(ValueError, match="replay_arrays must name the 2 replay arrays"):
        saved_replay_arrays({"replay_arrays": names}, groups)
    assert list(saved_replay_arrays({"replay_arrays": ["a", "b"]}, groups)) == ["a", "b"]


def test_an_out_of_range_training_rng_state_is_a_checkpoint_error(tmp_path: Path) -> None:
    """NumPy raises OverflowError for a bit generator state outside its range; resuming reports it as the file's."""
    import gymnasium

    from baselines_tf2 import logger
    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.ppo2 import ppo2

    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        ppo2.learn(network="mlp", env=env, total_timesteps=128, nsteps=32, nminibatches=1, noptepochs=1, seed=0,
                   save_interval=1, num_hidden=8)
    checkpoint = tmp_path / "checkpoints" / "00001"

    def out_of_range(metadata: dict[str, Any]) -> None:
        metadata["training"]["rng"]["state"]["state"] = -1

    forged_path = tmp_path / "forged"
    forged_path.write_bytes(zipped(with_metadata(members(checkpoint.read_bytes()), out_of_range)))
    with logger.scoped_configure(str(tmp_path / "resumed"), ["csv"]), pytest.raises(CheckpointError,
                                                                                    match="training state"):
        ppo2.learn(network="mlp", env=env, total_timesteps=128, nsteps=32, nminibatches=1, noptepochs=1, seed=0,
                   num_hidden=8, load_path=str(forged_path))
    env.close()
