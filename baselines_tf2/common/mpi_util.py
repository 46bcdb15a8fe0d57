"""Data-parallel runs under `mpiexec`: this process's rank and the few collectives training needs.

mpi4py is imported only in a process an MPI launcher started (its environment names a rank), never at module
level: env workers inherit that environment, and MPI started inside one of them would wait for a launcher that
does not know it. With one process every collective returns its input, so single-process training pays nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import subprocess
import sys
import traceback
from typing import Any, Iterator, Sequence

import numpy as np

from baselines_tf2.common.vec_env.vec_env import VecEnvError
from baselines_tf2.logger import MPI_RANK_ENV_VARS, mpi_weighted_mean  # noqa: F401 (baselines' name here too)

INSTALL_HINT = "pip install 'baselines_tf2[mpi]'"


class DistributedEnvError(VecEnvError):
    """The envs of MPI ranks `failed_ranks` failed, and every rank learned of it at the same update, so all stop
    together; on a failing rank `own_error` is its env's error (and the message), elsewhere None."""

    def __init__(self, failed_ranks: list[int], own_error: VecEnvError | None) -> None:
        super().__init__(str(own_error) if own_error is not None else
                         f"the envs of MPI rank(s) {failed_ranks} failed (that rank prints why); every rank stops")
        self.failed_ranks = failed_ranks
        self.own_error = own_error


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec, mpirun, srun) started this process: it sets one of MPI_RANK_ENV_VARS."""
    return any(name in os.environ for name in MPI_RANK_ENV_VARS)


class World:
    """The ranks of one run (`comm` is mpi4py's COMM_WORLD, or None for a single process)."""

    def __init__(self, comm: Any = None) -> None:
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1

    def sum(self, buffer: np.ndarray) -> np.ndarray:
        """Element-wise sum over ranks of a numeric array, in one Allreduce; same dtype and shape."""
        if self.size == 1:
            return buffer
        local = np.require(buffer, requirements="C")
        total = np.empty_like(local)
        self.comm.Allreduce(local, total)
        return total

    def mean(self, buffer: np.ndarray) -> np.ndarray:
        """Element-wise mean over ranks, in one Allreduce; same dtype and shape."""
        return self.sum(buffer) / buffer.dtype.type(self.size)

    def concatenate(self, rows: np.ndarray) -> np.ndarray:
        """Every rank's `rows` stacked along the first axis in rank order, in one Allgather (each rank passes an
        array of the same shape and dtype)."""
        if self.size == 1:
            return rows
        local = np.require(rows, requirements="C")
        gathered = np.empty((self.size * len(local), *local.shape[1:]), local.dtype)
        self.comm.Allgather(local, gathered)
        return gathered

    def gather(self, value: int) -> list[int]:
        """Every rank's `value`, in rank order."""
        if self.size == 1:
            return [value]
        return [int(item) for item in self.comm.allgather(int(value))]

    def broadcast(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Rank 0's `arrays` on every rank (each rank passes arrays of the same shapes and dtypes)."""
        if self.size == 1:
            return list(arrays)
        copies = [np.array(array, order="C") for array in arrays]
        for array in copies:
            self.comm.Bcast(array, root=0)
        return copies

    def share(self, value: Any) -> Any:
        """Rank 0's `value` (a small picklable one, such as a path) on every rank."""
        if self.size == 1:
            return value
        return self.comm.bcast(value, root=0)

    def abort(self, status: int) -> None:
        """End every rank of the job with `status` (MPI_Abort): peers blocked in a collective stop too."""
        self.comm.Abort(status)


@functools.cache
def world() -> World:
    """This process's World: MPI's COMM_WORLD when a launcher started it, else a single rank (mpi4py not imported)."""
    if not launched_by_mpi():
        return World()
    try:
        from mpi4py import MPI
    except ImportError:
        variables = ", ".join(name for name in MPI_RANK_ENV_VARS if name in os.environ)
        raise RuntimeError(f"this process was started by an MPI launcher ({variables} set) but mpi4py is not "
                           f"installed: {INSTALL_HINT}") from None
    return World(MPI.COMM_WORLD)


@contextlib.contextmanager
def abort_on_failure() -> Iterator[None]:
    """Under MPI with several ranks, an exception (or a non-zero exit) leaving this block ends the whole job.

    Its traceback is printed first. Otherwise this rank would exit alone and its peers would wait for it forever
    in their next collective; failures all ranks agree on should return a status instead of raising.
    """
    try:
        yield
    except BaseException as error:
        status = _exit_status(error)
        if status == 0 or "mpi4py.MPI" not in sys.modules or world().size == 1:  # no peers are waiting
            raise
        if not isinstance(error, SystemExit):  # a SystemExit's message (a usage error) is printed already
            traceback.print_exc()
        print(f"rank {world().rank} of {world().size} failed: stopping every rank (MPI_Abort, status {status})",
              file=sys.stderr, flush=True)
        world().abort(status)


def _exit_status(error: BaseException) -> int:
    if isinstance(error, SystemExit):
        if error.code is None:
            return 0
        return error.code if isinstance(error.code, int) else 1
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 1


# ---- baselines' mpi_util functions, for code that calls them directly --------------------------------------------


def _comm_or_world(comm: Any) -> Any:
    """`comm`, or this process's COMM_WORLD under mpiexec, or None for a single process."""
    return comm if comm is not None else world().comm


def sync_from_root(sess: Any, variables: Sequence[Any], comm: Any = None) -> None:
    """Give every rank rank 0's values of `variables` (anything with `numpy()` and `assign()`, e.g. Keras variables).

    `sess` keeps baselines' signature and is unused: TF2 has no sessions."""
    del sess
    comm = _comm_or_world(comm)
    if comm is None:
        return
    values = World(comm).broadcast([np.asarray(variable.numpy()) for variable in variables])
    for variable, value in zip(variables, values):
        variable.assign(value)


def gpu_count() -> int:
    """The number of NVIDIA GPUs `nvidia-smi` lists (0 without it)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    listing = subprocess.run(["nvidia-smi", "--query-gpu=gpu_name", "--format=csv,noheader"], capture_output=True,
                             text=True, check=False).stdout
    return len([line for line in listing.splitlines() if line.strip()])


def setup_mpi_gpus() -> None:
    """Give each rank on a machine one GPU (CUDA_VISIBLE_DEVICES = local rank mod GPUs); nothing without GPUs."""
    gpus = gpu_count()
    if gpus == 0 or world().comm is None:
        return
    local_rank, _local_size = get_local_rank_size(world().comm)
    os.environ["CUDA_VISIBLE_DEVICES"] = str(local_rank % gpus)


def get_local_rank_size(comm: Any) -> tuple[int, int]:
    """(this rank's index among the ranks on its machine, how many ranks run on its machine)."""
    node = platform.node()
    nodes = comm.allgather(node)  # in rank order
    return nodes[: comm.Get_rank()].count(node), nodes.count(node)


def share_file(comm: Any, path: str) -> None:
    """Copy rank 0's file at `path` to the same path on every other machine of the job (written once per machine)."""
    local_rank, _local_size = get_local_rank_size(comm)
    if comm.Get_rank() == 0:
        with open(path, "rb") as source:
            comm.bcast(source.read())
    else:
        data = comm.bcast(None)
        if local_rank == 0:  # rank 0's machine already has it; elsewhere the first rank of each machine writes it
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "wb") as target:
                target.write(data)
    comm.Barrier()


def dict_gather(comm: Any, d: dict[str, Any], op: str = "mean", assert_all_have_data: bool = True) -> dict[str, Any]:
    """Every rank's dict reduced key by key with `op` ('mean' or 'sum'); `comm` None returns `d`."""
    if op not in ("mean", "sum"):
        raise ValueError(f"op must be 'mean' or 'sum', got {op!r}")
    if comm is None:
        return d
    values_by_key: dict[str, list[Any]] = {}
    for rank_dict in comm.allgather(d):
        for key, value in rank_dict.items():
            values_by_key.setdefault(key, []).append(value)
    reduce = np.mean if op == "mean" else np.sum
    result = {}
    for key, values in values_by_key.items():
        if assert_all_have_data and len(values) != comm.Get_size():
            raise ValueError(f"only {len(values)} of {comm.Get_size()} MPI ranks sent {key!r}")
        result[key] = reduce(values, axis=0)
    return result
