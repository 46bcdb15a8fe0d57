"""The parent's side of the VecEnv worker processes: start them, exchange commands, report faults, stop them."""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import signal
import sys
import time
import weakref
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from baselines_tf2.common.vec_env.vec_env import (
    VecEnvError,
    VecEnvTimeoutError,
    VecEnvWorkerError,
    clear_mpi_env_vars,
)
from baselines_tf2.common.vec_env.worker import CloudpickleWrapper, EnvFactory, run_worker

if TYPE_CHECKING:  # ForkServerContext does not exist on Windows
    from multiprocessing.context import ForkServerContext, SpawnContext

    _MPContext = ForkServerContext | SpawnContext  # the contexts of VALID_CONTEXTS

VALID_CONTEXTS = ("forkserver", "spawn")
_CLOSE_GRACE_S = 1.0  # time workers get to close their envs before they are terminated, then killed
_EXIT_WAIT_S = 1.0  # time a failing worker gets to finish exiting, so its exit code can be reported
_MAX_WAIT_S = 3600.0  # longest single wait handed to the OS (select() refuses huge timeouts)
_STARTUP_COMMANDS = {"get_spaces", "share_obs"}  # answered once the envs are built: not timed, start-up can be slow


class WorkerPool:
    """Daemon worker processes running `in_series` envs each, and the pipes to them.

    `send` then `receive` exchange one command with some workers. A worker whose env raised, or that died,
    makes them raise VecEnvWorkerError, and one silent for `timeout` seconds (start-up excepted)
    VecEnvTimeoutError; the owner must then `close()` the pool, as its pipes are out of step.
    """

    def __init__(
        self, env_fns: Sequence[EnvFactory], context: str, in_series: int, timeout: float | None = None
    ) -> None:
        if not isinstance(in_series, int) or in_series < 1 or len(env_fns) % in_series:
            raise ValueError(
                f"in_series={in_series} must be a positive divisor of the number of envs ({len(env_fns)})"
            )
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.timeout = None if timeout == float("inf") else timeout
        mp_context = _get_context(context)
        self._mp_context = mp_context
        self._env_fns = list(env_fns)
        self.env_indices = [tuple(range(start, start + in_series)) for start in range(0, len(env_fns), in_series)]
        self.connections: list[Connection] = []
        self.processes: list[BaseProcess] = []
        self._awaiting: dict[int, str] = {}
        self._sentinel_unreliable: set[int] = set()  # workers whose forkserver died: watched through their pipe
        self._stop = weakref.finalize(self, _stop_workers, self.connections, self.processes)
        try:
            for worker_index, indices in enumerate(self.env_indices):
                self._start_worker(mp_context, worker_index, [env_fns[i] for i in indices])
        except BaseException:
            self.close()
            raise

    def send(
        self, command: str, data_by_worker: Mapping[int, Any], faults: dict[int, VecEnvWorkerError] | None = None
    ) -> None:
        """Send `command` to each worker in `data_by_worker`, with that worker's data; a worker that cannot be
        reached raises, or with a `faults` dict is recorded there (see `receive`)."""
        if self._awaiting:
            raise RuntimeError(f"workers {sorted(self._awaiting)} still owe an answer; call receive() first")
        for worker_index, data in data_by_worker.items():
            try:
                self.connections[worker_index].send((command, data))
            except OSError:
                if faults is None:
                    raise self._fault(worker_index, command) from None
                faults[worker_index] = self._fault(worker_index, command)
                continue
            self._awaiting[worker_index] = command

    def receive(self, faults: dict[int, VecEnvWorkerError] | None = None) -> dict[int, Any]:
        """Wait for every worker sent to; their results by worker index.

        With a `faults` dict, a failed or silent worker does not raise: its error goes into `faults` (for the
        caller to `restart` it) and the other workers' results are still collected."""
        results: dict[int, Any] = {}
        deadline: float | None = None
        if self.timeout is not None and not set(self._awaiting.values()) <= _STARTUP_COMMANDS:
            deadline = time.monotonic() + self.timeout
        while self._awaiting:
            owners: dict[Any, int] = {}
            for worker_index in self._awaiting:
                owners[self.connections[worker_index]] = worker_index
                if worker_index not in self._sentinel_unreliable:
                    owners[self.processes[worker_index].sentinel] = worker_index
            remaining = None if deadline is None else min(_MAX_WAIT_S, max(0.0, deadline - time.monotonic()))
            ready_list = wait(list(owners), remaining)
            if not ready_list and deadline is not None and time.monotonic() < deadline:
                continue  # a long timeout is waited out in slices the OS accepts
            if not ready_list:
                error = self._timed_out()
                if faults is None:
                    raise error
                for worker_index in list(self._awaiting):
                    faults[worker_index] = error
                    del self._awaiting[worker_index]
            for ready in ready_list:
                worker_index = owners[ready]
                if worker_index not in self._awaiting:
                    continue
                if ready is not self.connections[worker_index] and self._only_forkserver_died(worker_index):
                    self._sentinel_unreliable.add(worker_index)  # the pipe alone tells when the worker is gone
                    continue
                try:
                    results[worker_index] = self._receive_from(worker_index)
                except VecEnvWorkerError as error:
                    if faults is None:
                        raise
                    faults[worker_index] = error
                    del self._awaiting[worker_index]
        return results

    def _only_forkserver_died(self, worker_index: int) -> bool:
        """Whether a fired sentinel means the forkserver (which owns it) died while the worker itself lives on,
        as when SIGTERM reaches the whole process group: the worker still answers through its pipe."""
        if self.connections[worker_index].poll():
            return False
        pid = self.processes[worker_index].pid
        assert pid is not None  # the worker was started
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return _process_state(pid) not in ("Z", "X", None)

    def restart(self, worker_index: int) -> None:
        """Replace worker `worker_index` (killed if still running) with a new one running fresh copies of its envs."""
        old_process, old_connection = self.processes[worker_index], self.connections[worker_index]
        old_connection.close()
        if old_process.is_alive():
            old_process.kill()
        old_process.join(_CLOSE_GRACE_S)
        self._awaiting.pop(worker_index, None)
        self._sentinel_unreliable.discard(worker_index)
        self._start_worker(self._mp_context, worker_index, [self._env_fns[i] for i in self.env_indices[worker_index]])

    def call(self, command: str, data_by_worker: Mapping[int, Any]) -> dict[int, Any]:
        """`send` then `receive`."""
        self.send(command, data_by_worker)
        return self.receive()

    def close(self) -> None:
        """Stop every worker (terminating or killing stragglers); safe to call more than once."""
        self._stop()

    def _start_worker(self, mp_context: _MPContext, worker_index: int, env_fns: list[EnvFactory]) -> None:
        indices = self.env_indices[worker_index]
        try:
            payload = CloudpickleWrapper(env_fns)
        except Exception as err:
            raise TypeError(f"the factories of envs {list(indices)} cannot be sent to a worker process: {err}") from err
        parent_conn, child_conn = mp_context.Pipe()
        process = mp_context.Process(
            target=run_worker, args=(child_conn, payload, indices), name=f"VecEnvWorker-{worker_index}", daemon=True
        )
        try:
            with clear_mpi_env_vars():  # this also covers the forkserver, started with the first worker
                process.start()
        except BaseException:
            parent_conn.close()
            raise
        finally:
            child_conn.close()
        if worker_index < len(self.processes):  # a restart replaces the worker in place
            self.connections[worker_index], self.processes[worker_index] = parent_conn, process
        else:
            self.connections.append(parent_conn)
            self.processes.append(process)

    def _receive_from(self, worker_index: int) -> Any:
        command = self._awaiting[worker_index]
        message = self._next_message(worker_index)
        if message is None or message[0] == "error":
            raise self._fault(worker_index, command, message)
        del self._awaiting[worker_index]
        return message[1]

    def _next_message(self, worker_index: int) -> tuple[str, Any] | None:
        """The worker's next message, or None if it hung up without sending one."""
        conn = self.connections[worker_index]
        try:
            return conn.recv() if conn.poll() else None
        except (EOFError, OSError):
            return None

    def _fault(
        self, worker_index: int, command: str, message: tuple[str, Any] | None = None
    ) -> VecEnvWorkerError:
        """The error for a failed worker, with its traceback if it sent one before going away."""
        if message is None:
            message = self._next_message(worker_index)
        indices = list(self.env_indices[worker_index])
        if message is not None and message[0] == "error":
            during, worker_traceback = message[1]
            return VecEnvWorkerError(
                f"worker {worker_index} (envs {indices}) raised while {during}:\n{worker_traceback}",
                worker_index,
                indices,
                worker_traceback,
            )
        return VecEnvWorkerError(
            f"worker {worker_index} (envs {indices}) died unexpectedly ({self._exit_status(worker_index)}) "
            f"while handling {command!r}",
            worker_index,
            indices,
        )

    def _timed_out(self) -> VecEnvTimeoutError:
        silent = sorted(self._awaiting)
        envs = [index for worker in silent for index in self.env_indices[worker]]
        commands = sorted(set(self._awaiting.values()))
        return VecEnvTimeoutError(
            f"worker(s) {silent} (envs {envs}) did not answer {', '.join(map(repr, commands))} within "
            f"{self.timeout:g} s (env_timeout); an env is hanging or far slower than expected",
            silent[0], envs,
        )

    def _exit_status(self, worker_index: int) -> str:
        process = self.processes[worker_index]
        process.join(_EXIT_WAIT_S)
        code = process.exitcode
        if code is None:
            return "its pipe closed but the process is still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


def _process_state(pid: int) -> str | None:
    """The one-letter state of process `pid` from /proc (None where unknown)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _stop_workers(connections: list[Connection], processes: list[BaseProcess]) -> None:
    """Ask workers to close, wait a moment, then terminate and finally kill any still running."""
    for conn in connections:
        try:
            conn.send(("close", None))
        except OSError:
            pass  # already gone
        conn.close()
    deadline = time.monotonic() + _CLOSE_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(_CLOSE_GRACE_S)
        if process.is_alive():
            process.kill()
            process.join(_CLOSE_GRACE_S)


def _get_context(name: str) -> _MPContext:
    """The multiprocessing context `name`; forkserver preloads the worker module, so workers start in ~0.1 s.

    The preload list is set only for a forkserver not yet running, and it replaces the default ['__main__'].
    """
    if name == "fork":
        raise ValueError(
            "context 'fork' is refused: forking a process that runs TensorFlow's threads can deadlock the "
            f"workers; use one of {VALID_CONTEXTS} (the env factories then travel by cloudpickle, and a script "
            "must build its VecEnv under `if __name__ == '__main__':`)"
        )
    if name not in VALID_CONTEXTS:
        raise ValueError(f"unknown multiprocessing context {name!r}; use one of {VALID_CONTEXTS}")
    _check_main_script_readable(name)
    if name == "forkserver":
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", run_worker.__module__])
        return context
    return multiprocessing.get_context("spawn")


def _check_main_script_readable(context: str) -> None:
    """Refuse, with the cause and the fix, a main script that worker processes could not re-run.

    Both start methods re-run the parent's main script in each new process (as `__mp_main__`), reading it from
    the path in `__main__.__file__`; a script read from standard input has the path '<stdin>', which the workers
    cannot open, so each would die at start-up with only a FileNotFoundError in its stderr.
    """
    main = sys.modules["__main__"]
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return  # started with `python -m module`: workers import the module by name
    path = getattr(main, "__file__", None)
    if path is None:
        return  # `python -c`, an interactive session or a notebook: nothing to re-run
    original_dir = getattr(multiprocessing.process, "ORIGINAL_DIR", None)  # where the parent started
    resolved = path if os.path.isabs(path) or original_dir is None else os.path.join(original_dir, path)
    if not os.path.isfile(resolved):
        raise VecEnvError(
            f"cannot start env worker processes: the {context!r} start method re-runs the main script in every "
            f"worker, and the main script {path!r} is not a file (a script run as 'python - < script.py' is read "
            "from standard input). Save it to a file and run 'python script.py' (with the VecEnv built under "
            "`if __name__ == '__main__':`), or use DummyVecEnv, which starts no processes."
        )
