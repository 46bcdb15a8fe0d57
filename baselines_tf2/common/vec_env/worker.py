"""The loop each VecEnv worker process runs: build its envs, then answer the parent's commands over a pipe.

Protocol: the parent sends `(command, data)`; the worker answers `("ok", result)`, or `("error", (during,
traceback))` and exits. `close` gets no answer. The worker also exits when the parent's end of the pipe
closes (the parent died or closed it). Everything here stays TensorFlow-free: it runs in every worker.
"""

from __future__ import annotations

import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Sequence

import gymnasium

from baselines_tf2.common.vec_env.compat import ensure_gymnasium_api
from baselines_tf2.common.vec_env.env_step import reset_env, step_env
from baselines_tf2.common.vec_env.shared_obs import SharedObsBlock, SharedObsBuffers
from baselines_tf2.common.vec_env.vec_env import CloudpickleWrapper

EnvFactory = Callable[[], Any]


def run_worker(conn: Connection, env_fns: CloudpickleWrapper, env_indices: Sequence[int]) -> None:
    """Entry point of a worker process: serve the envs made by `env_fns` (global indices `env_indices`)."""
    # Ctrl-C and a SIGTERM sent to the whole process group (docker stop, systemd, Slurm) belong to the parent,
    # which stops training at a safe point and then closes us; a worker dying first would turn that into a fault.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker: _WorkerEnvs | None = None
    during = "creating its envs"
    try:
        worker = _WorkerEnvs([ensure_gymnasium_api(fn()) for fn in env_fns.load()], env_indices)
        while True:
            try:
                command, data = conn.recv()
            except (EOFError, OSError):  # the parent is gone, or closed its end
                return
            if command == "close":
                return
            during = f"handling {command!r}"
            result = worker.handle(command, data)
            try:
                conn.send(("ok", result))
            except OSError:  # the parent closed its end while we were working
                return
    except Exception:
        try:
            conn.send(("error", (during, traceback.format_exc())))
        except OSError:
            pass  # the parent is gone: nobody is left to tell
    finally:
        if worker is not None:
            worker.close()
        conn.close()


class _WorkerEnvs:
    """The envs of one worker and the command handlers acting on them."""

    def __init__(self, envs: list[gymnasium.Env], env_indices: Sequence[int]) -> None:
        self.envs = envs
        self.env_indices = list(env_indices)
        self.shared_obs: SharedObsBuffers | None = None
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "get_spaces": self._get_spaces,
            "share_obs": self._share_obs,
            "reset": self._reset,
            "step": self._step,
            "render": self._render,
            "env_method": self._env_method,
            "get_attr": self._get_attr,
            "set_attr": self._set_attr,
        }

    def handle(self, command: str, data: Any) -> Any:
        handler = self._handlers.get(command)
        if handler is None:
            raise ValueError(f"unknown worker command {command!r}; known: {sorted(self._handlers)} and 'close'")
        return handler(data)

    def close(self) -> None:
        """Close the envs and detach from shared memory; errors are dropped since no one is listening now."""
        for env in self.envs:
            try:
                env.close()
            except Exception:
                pass
        if self.shared_obs is not None:
            self.shared_obs.close()

    def _export_obs(self, local_index: int, obs: Any) -> Any:
        """Pass `obs` back through the pipe, or write it to shared memory and send nothing."""
        if self.shared_obs is None:
            return obs
        self.shared_obs.write(self.env_indices[local_index], obs)
        return None

    def _get_spaces(self, _: None) -> tuple[gymnasium.Space, gymnasium.Space]:
        return self.envs[0].observation_space, self.envs[0].action_space

    def _share_obs(self, blocks: tuple[SharedObsBlock, ...]) -> None:
        self.shared_obs = SharedObsBuffers.attach(blocks)

    def _reset(self, seeds: Sequence[int | None]) -> list[Any]:
        return [self._export_obs(i, reset_env(env, seed)) for i, (env, seed) in enumerate(zip(self.envs, seeds))]

    def _step(self, actions: Sequence[Any]) -> list[tuple[Any, float, bool, dict[str, Any]]]:
        results = []
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            obs, reward, done, info = step_env(env, action)
            results.append((self._export_obs(i, obs), reward, done, info))
        return results

    def _render(self, _: None) -> list[Any]:
        return [env.render() for env in self.envs]

    def _env_method(self, request: tuple[str, tuple[Any, ...], dict[str, Any], list[int]]) -> list[Any]:
        name, args, kwargs, local_indices = request
        return [self.envs[i].get_wrapper_attr(name)(*args, **kwargs) for i in local_indices]

    def _get_attr(self, request: tuple[str, list[int]]) -> list[Any]:
        name, local_indices = request
        return [self.envs[i].get_wrapper_attr(name) for i in local_indices]

    def _set_attr(self, request: tuple[str, Any, list[int]]) -> list[bool]:
        name, value, local_indices = request
        return [self.envs[i].set_wrapper_attr(name, value) for i in local_indices]
