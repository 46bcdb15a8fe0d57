"""Reading joblib files of NumPy arrays (what TF1 baselines' `save_variables` writes) without running code from them.

`joblib.dump` writes a pickle stream in which each array is a `joblib.numpy_pickle.NumpyArrayWrapper` followed by the
array's raw bytes. This reader runs that stream through an unpickler that resolves only the globals such a file
needs, each to a stand-in of ours that checks its arguments: the wrapper, `numpy.dtype` (numeric dtypes only),
`numpy.ndarray` (only as the wrapper's tag) and NumPy's scalar constructor. Any other global (os.system,
pathlib.Path.touch, builtins.eval, ...) stops loading before it is called, with an error naming it; so does every
other way pickles run code (BUILD on another object, persistent ids, copyreg extension codes).

Uncompressed files and joblib's zlib, gzip, bz2, xz and lzma compression are read; lz4 is refused.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import zlib
from typing import Any, Callable, ClassVar

import numpy as np

NUMERIC_KINDS = "biufc"  # bool, signed and unsigned int, float, complex
WRAPPER_STATE_KEYS = {"subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"}
READ_CHUNK = 16 * 1024 * 1024  # array bytes are read in chunks, so a forged huge shape cannot allocate up front
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
        if compression == "zlib":
            stream: io.BufferedIOBase = io.BytesIO(_inflate(raw.read(), name))
        elif compression == "gzip":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif compression == "bz2":
            stream = bz2.BZ2File(raw, mode="rb")
        elif compression in ("xz", "lzma"):
            stream = lzma.LZMAFile(raw, mode="rb")
        else:
            stream = raw
        try:
            loaded = _RestrictedUnpickler(stream).load()
            if stream is not raw:
                stream.read()  # to the end of the compressed stream, so a cut-off checksum is noticed too
            return loaded
        except UnsafePickleError as err:
            raise UnsafePickleError(f"refusing {name!r}: {err}; nothing from the file was run") from None
        except CorruptPickleError as err:
            raise CorruptPickleError(f"{name!r}: {err}") from None
        except (EOFError, struct.error, pickle.UnpicklingError, OSError, zlib.error, lzma.LZMAError) as err:
            raise CorruptPickleError(f"{name!r} is truncated or not a joblib pickle ({type(err).__name__}: {err})"
                                     ) from None
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as err:
            raise CorruptPickleError(f"{name!r} is malformed ({type(err).__name__}: {err})") from None


def _inflate(data: bytes, name: str) -> bytes:
    decompressor = zlib.decompressobj()
    inflated = decompressor.decompress(data)
    if not decompressor.eof:
        raise CorruptPickleError(f"{name!r}: the zlib stream ends early; the file is truncated")
    return inflated


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
            raise CorruptPickleError(f"dtype state {state!r} is not a plain dtype's")
        if state[2:5] != (None, None, None):
            raise UnsafePickleError("a structured or sub-array dtype; only plain numeric arrays are accepted")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> _Dtype:
    """numpy.dtype('f4', False, True) as pickles call it; numeric dtypes only."""
    if not isinstance(spec, str) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise CorruptPickleError(f"numpy.dtype called with {spec!r}, {align!r}, {copy!r}")
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

    def read(self, state: Any, file: io.BufferedIOBase) -> np.ndarray:
        """The array whose description is `state`, read from the bytes after the wrapper's pickle."""
        if not isinstance(state, dict) or not set(state) <= WRAPPER_STATE_KEYS:
            raise CorruptPickleError(f"array wrapper state {state!r:.200} is not joblib's")
        if state.get("subclass") is not NDARRAY or not isinstance(state.get("dtype"), _Dtype):
            raise UnsafePickleError("an array wrapper that is not a plain numeric numpy.ndarray")
        shape, order, dtype = state.get("shape"), state.get("order", "C"), state["dtype"].dtype
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or order not in "CF":
            raise CorruptPickleError(f"array shape {shape!r} or order {order!r} is invalid")
        if state.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2: one length byte, then padding
            _read_exact(file, _read_exact(file, 1)[0])
        data = _read_exact(file, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        flat = np.frombuffer(data, dtype=dtype)
        array = flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)
        return np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))


def _read_exact(file: io.BufferedIOBase, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = file.read(min(remaining, READ_CHUNK))
        if not chunk:
            raise CorruptPickleError(f"the file ends inside an array ({size - remaining} of {size} bytes); "
                                     "it is truncated")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


ALLOWED_GLOBALS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): _make_dtype,
    ("numpy.core.multiarray", "scalar"): _make_scalar,  # NumPy 1.x pickles
    ("numpy._core.multiarray", "scalar"): _make_scalar,  # NumPy 2.x pickles
}


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler: its opcode table can be changed (as joblib does)
    """Resolves only ALLOWED_GLOBALS and reads joblib's raw array bytes after each wrapper."""

    # opcode -> handler, called with the unpickler (so our handlers take a _RestrictedUnpickler, not any Unpickler)
    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)
    stack: list[Any]  # the unpickler's value stack: pickle._Unpickler.load sets it, typeshed does not declare it

    def __init__(self, file: io.BufferedIOBase) -> None:
        super().__init__(file)
        self.raw_file = file

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"it references {module}.{name}, which is not part of a NumPy array (only numeric arrays in dicts, "
                "lists and tuples are accepted)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"it uses a persistent id ({pid!r:.80}), which plain array files never do")

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


_RestrictedUnpickler.dispatch[pickle.BUILD[0]] = _RestrictedUnpickler.load_build
for _opcode in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
    _RestrictedUnpickler.dispatch[_opcode[0]] = _RestrictedUnpickler.refuse_extension
