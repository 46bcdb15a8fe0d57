"""Reading joblib files of NumPy arrays (what TF1 baselines' `save_variables` writes) without running code from them.

`joblib.dump` writes a pickle stream in which each array is a `joblib.numpy_pickle.NumpyArrayWrapper` followed by the
array's raw bytes. This reader runs that stream through an unpickler that resolves only the globals such a file
needs, each to a stand-in of ours that checks its arguments: the wrapper, `numpy.dtype` (numeric dtypes only),
`numpy.ndarray` (only as the wrapper's tag) and NumPy's scalar constructor. Any other global (os.system,
pathlib.Path.touch, builtins.eval, ...) stops loading before it is called, with an error naming it; so does every
other way pickles run code (BUILD on another object, persistent ids, copyreg extension codes).

Uncompressed files and joblib's zlib, gzip, bz2, xz and lzma compression are read; lz4 is refused.

Memory stays bounded whatever the file claims: the stream is read in chunks and at most MAX_STREAM_BYTES of it
(a length in the pickle allocates only the bytes that really follow it), a file may run at most MAX_OPCODES pickle
instructions, and tuples nest at most MAX_TUPLE_DEPTH deep (hashing a deeper one overflows the C stack).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import os
import pickle
import reprlib
import struct
import zlib
from typing import IO, Any, Callable, ClassVar

import numpy as np

NUMERIC_KINDS = "biufc"  # bool, signed and unsigned int, float, complex
WRAPPER_STATE_KEYS = {"subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"}
READ_CHUNK = 1024 * 1024  # the stream is read in chunks, so a forged length or shape cannot allocate up front
MAX_STREAM_BYTES = 256 * 1024 * 1024  # of the (decompressed) pickle: 10x an Atari CNN model with its Adam slots
MAX_OPCODES = 100_000  # a baselines model file runs about 30 pickle instructions per variable
MAX_TUPLE_DEPTH = 8  # joblib's files hold flat tuples (shapes, dtype arguments)
MAX_LINE_BYTES = 4096  # text opcodes (GLOBAL's module and name, protocol 0 numbers) are one short line
COMPRESSIONS = (  # joblib's magic prefixes (joblib/compressor.py)
    (b"\x78", "zlib"),
    (b"\x1f\x8b", "gzip"),
    (b"BZ", "bz2"),
    (b"\xfd\x37\x7a\x58\x5a", "xz"),
    (b"\x5d\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
)


class UnsafePickleError(ValueError):
    """The file asks for something other than NumPy arrays in plain containers; nothing from it was run."""


class CorruptPickleError(ValueError):
    """The file is truncated, not a joblib pickle, or malformed."""


def load_joblib_arrays(path: str | os.PathLike[str]) -> Any:
    """The object a joblib file holds, if it is made only of numeric NumPy arrays, numbers, strings and containers."""
    name = os.fspath(path)
    with open(name, "rb") as raw:
        magic = raw.read(5)
        compression = next((kind for prefix, kind in COMPRESSIONS if magic.startswith(prefix)), None)
        raw.seek(0)
        if compression == "lz4":
            raise CorruptPickleError(f"{name!r} is lz4-compressed, which this reader does not support; "
                                     "re-save it uncompressed (joblib.dump(..., compress=0)) where you trust it")
        source: io.BufferedIOBase | IO[bytes]
        if compression == "zlib":
            source = io.BufferedReader(_Inflating(raw))
        elif compression == "gzip":
            source = gzip.GzipFile(fileobj=raw, mode="rb")
        elif compression == "bz2":
            source = bz2.BZ2File(raw, mode="rb")
        elif compression in ("xz", "lzma"):
            source = lzma.LZMAFile(raw, mode="rb")
        else:
            source = raw
        stream = _BoundedStream(source)
        try:
            loaded = _RestrictedUnpickler(stream).load()
            if source is not raw:
                stream.drain()  # to the end of the compressed stream, so a cut-off checksum is noticed too
            return loaded
        except UnsafePickleError as err:
            raise UnsafePickleError(f"refusing {name!r}: {err}; nothing from the file was run") from None
        except CorruptPickleError as err:
            raise CorruptPickleError(f"{name!r}: {err}") from None
        except (EOFError, struct.error, pickle.UnpicklingError, OSError, zlib.error, lzma.LZMAError) as err:
            raise CorruptPickleError(f"{name!r} is truncated or not a joblib pickle ({type(err).__name__}: {err})"
                                     ) from None
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError, RecursionError) as err:
            raise CorruptPickleError(f"{name!r} is malformed ({type(err).__name__}: {err})") from None


class _Inflating(io.RawIOBase):
    """A zlib stream inflated as it is read, never more at once than the reader asks for."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.decompressor = zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        inflated = b""
        while not inflated and not self.decompressor.eof:
            compressed = self.decompressor.unconsumed_tail or self.source.read(READ_CHUNK)
            if not compressed:
                raise CorruptPickleError("the zlib stream ends early; the file is truncated")
            inflated = self.decompressor.decompress(compressed, len(buffer))
        buffer[:len(inflated)] = inflated
        return len(inflated)


class _BoundedStream:
    """The pickle stream as the unpickler reads it: in chunks (a forged length allocates only the bytes that really
    follow), lines of at most MAX_LINE_BYTES, and at most MAX_STREAM_BYTES in all."""

    def __init__(self, source: io.BufferedIOBase | IO[bytes]) -> None:
        self.source = source
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all the rest if negative), fewer only at the end of the stream."""
        remaining = MAX_STREAM_BYTES + 1 - self.consumed if size < 0 else size
        chunks = []
        while remaining > 0:
            chunk = self._counted(self.source.read(min(remaining, READ_CHUNK, MAX_STREAM_BYTES + 1 - self.consumed)))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def readline(self) -> bytes:
        """One line of a text opcode."""
        line = self._counted(self.source.readline(MAX_LINE_BYTES + 1))
        if len(line) > MAX_LINE_BYTES:
            raise CorruptPickleError(f"it holds a text line longer than {MAX_LINE_BYTES} bytes")
        return line

    def drain(self) -> None:
        """Read to the end of the stream (within the limit)."""
        while self.read(READ_CHUNK):
            pass

    def _counted(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > MAX_STREAM_BYTES:
            raise CorruptPickleError(f"it holds more than {MAX_STREAM_BYTES} bytes of pickle (after decompression), "
                                     "far more than any baselines model")
        return data


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 80


def short_repr(value: Any) -> str:
    """A repr of untrusted data for messages: cut short, and safe for deeply nested values."""
    return _SHORT_REPR.repr(value)


class _NdarrayTag:
    """What `numpy.ndarray` resolves to: only the wrapper's `subclass` field may hold it; it cannot be called."""


NDARRAY = _NdarrayTag()


class _Dtype:
    """Stand-in for numpy.dtype: a numeric dtype, whose byte order the pickle's BUILD sets."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype

    def set_state(self, state: Any) -> None:
        # numpy's dtype state: (version, byte order, subarray, names, fields, item size, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 5 or state[1] not in ("<", ">", "|", "="):
            raise CorruptPickleError(f"dtype state {short_repr(state)} is not a plain dtype's")
        if state[2:5] != (None, None, None):
            raise UnsafePickleError("a structured or sub-array dtype; only plain numeric arrays are accepted")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> _Dtype:
    """numpy.dtype('f4', False, True) as pickles call it; numeric dtypes only."""
    if not isinstance(spec, str) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise CorruptPickleError(f"numpy.dtype called with {short_repr((spec, align, copy))}")
    dtype = np.dtype(spec)
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafePickleError(f"dtype {spec!r} ({dtype}); only numeric arrays are accepted")
    return _Dtype(dtype)


def _make_scalar(dtype: Any, data: Any) -> np.ndarray:
    """NumPy's scalar constructor (numpy.core.multiarray.scalar): one numeric value from its bytes, as a 0-d array."""
    if not isinstance(dtype, _Dtype) or not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
        raise CorruptPickleError("a NumPy scalar with a bad dtype or data")
    return np.frombuffer(data, dtype=dtype.dtype).reshape(()).astype(dtype.dtype.newbyteorder("="))


class _ArrayWrapper:
    """Stand-in for joblib's NumpyArrayWrapper: BUILD gives it the array's description, then its bytes follow."""

    def read(self, state: Any, file: _BoundedStream) -> np.ndarray:
        """The array whose description is `state`, read from the bytes after the wrapper's pickle."""
        if not isinstance(state, dict) or not set(state) <= WRAPPER_STATE_KEYS:
            raise CorruptPickleError(f"array wrapper state {short_repr(state)} is not joblib's")
        if state.get("subclass") is not NDARRAY or not isinstance(state.get("dtype"), _Dtype):
            raise UnsafePickleError("an array wrapper that is not a plain numeric numpy.ndarray")
        shape, order, dtype = state.get("shape"), state.get("order", "C"), state["dtype"].dtype
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or \
                order not in ("C", "F"):
            raise CorruptPickleError(f"array shape {short_repr(shape)} or order {short_repr(order)} is invalid")
        if state.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2: one length byte, then padding
            _read_exact(file, _read_exact(file, 1)[0])
        data = _read_exact(file, math.prod(shape) * dtype.itemsize)  # Python ints: a forged shape cannot overflow
        flat = np.frombuffer(data, dtype=dtype)
        array = flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)
        return np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))


def _read_exact(file: _BoundedStream, size: int) -> bytes:
    if size > MAX_STREAM_BYTES:
        raise CorruptPickleError(f"an array claims {size} bytes, more than a file may hold ({MAX_STREAM_BYTES})")
    data = file.read(size)
    if len(data) != size:
        raise CorruptPickleError(f"the file ends inside an array ({len(data)} of {size} bytes); it is truncated")
    return data


ALLOWED_GLOBALS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): _make_dtype,
    ("numpy.core.multiarray", "scalar"): _make_scalar,  # NumPy 1.x pickles
    ("numpy._core.multiarray", "scalar"): _make_scalar,  # NumPy 2.x pickles
}


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler: its opcode table can be changed (as joblib does)
    """Resolves only ALLOWED_GLOBALS, reads joblib's raw array bytes after each wrapper, and bounds the work."""

    # opcode -> handler, called with the unpickler (so our handlers take a _RestrictedUnpickler, not any Unpickler);
    # filled below the class
    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = {}
    stack: list[Any]  # the unpickler's value stack: pickle._Unpickler.load sets it, typeshed does not declare it

    def __init__(self, file: _BoundedStream) -> None:
        super().__init__(file)
        self.raw_file = file
        self.opcodes = 0
        # id -> (tuple, its nesting depth); holding the tuple keeps the id from being reused by another object
        self.tuple_depths: dict[int, tuple[tuple[Any, ...], int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"it references {module:.80}.{name:.80}, which is not part of a NumPy array (only "
                "numeric arrays in dicts, lists and tuples are accepted)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"it uses a persistent id ({short_repr(pid)}), which plain array files never do")

    def load_build(self) -> None:
        """BUILD: describes an array wrapper (then read its bytes) or sets a dtype's byte order; nothing else."""
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _ArrayWrapper):
            self.stack[-1] = target.read(state, self.raw_file)
        elif isinstance(target, _Dtype):
            target.set_state(state)
        else:
            raise UnsafePickleError(f"it sets the state of a {type(target).__name__}, which plain array files never do")

    def refuse_extension(self) -> None:
        """EXT1/EXT2/EXT4: copyreg's extension registry could name any global past find_class."""
        raise UnsafePickleError("it uses copyreg extension codes, which plain array files never do")

    def refuse_bytearray(self) -> None:
        """BYTEARRAY8: pickle allocates its claimed length before reading a byte of it."""
        raise CorruptPickleError("it holds a bytearray, which plain array files never do")

    def count_opcode(self) -> None:
        self.opcodes += 1
        if self.opcodes > MAX_OPCODES:
            raise CorruptPickleError(f"it runs more than {MAX_OPCODES} pickle instructions, far more than a file of "
                                     "arrays needs")

    def check_tuple_depth(self) -> None:
        """After an opcode made the tuple on top of the stack: refuse tuples nested deeper than MAX_TUPLE_DEPTH."""
        made = self.stack[-1]
        depth = 1 + max((self._tuple_depth(item) for item in made), default=0)
        if depth > MAX_TUPLE_DEPTH:
            raise CorruptPickleError(f"it nests tuples more than {MAX_TUPLE_DEPTH} deep, which plain array files "
                                     "never do")
        self.tuple_depths[id(made)] = (made, depth)

    def _tuple_depth(self, item: Any) -> int:
        if not isinstance(item, tuple):
            return 0
        known = self.tuple_depths.get(id(item))
        if known is not None and known[0] is item:
            return known[1]
        return 1 if not item else MAX_TUPLE_DEPTH + 1  # only the empty tuple is made without check_tuple_depth


def _counted(handler: Callable[[Any], None], then: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
    """`handler`, first counting the opcode against MAX_OPCODES, then running `then` (if given)."""

    def run(unpickler: _RestrictedUnpickler) -> None:
        unpickler.count_opcode()
        handler(unpickler)
        if then is not None:
            then(unpickler)

    return run


_HANDLERS: dict[int, Callable[[Any], None]] = {
    **pickle._Unpickler.dispatch,
    pickle.BUILD[0]: _RestrictedUnpickler.load_build,
    pickle.BYTEARRAY8[0]: _RestrictedUnpickler.refuse_bytearray,
    **{opcode[0]: _RestrictedUnpickler.refuse_extension for opcode in (pickle.EXT1, pickle.EXT2, pickle.EXT4)},
}
_TUPLE_OPCODES = {opcode[0] for opcode in (pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)}
_RestrictedUnpickler.dispatch = {
    opcode: _counted(handler, _RestrictedUnpickler.check_tuple_depth if opcode in _TUPLE_OPCODES else None)
    for opcode, handler in _HANDLERS.items()
}
