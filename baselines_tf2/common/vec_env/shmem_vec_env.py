"""ShmemVecEnv: SubprocVecEnv whose observations travel through shared memory instead of pipes."""

from __future__ import annotations

from typing import Any

from baselines_tf2.common.vec_env.shared_obs import SharedObsBuffers
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.util import ObsBatch


class ShmemVecEnv(SubprocVecEnv):
    """Like SubprocVecEnv, but workers write observations into shared buffers (Box or Dict spaces), so only
    rewards, dones and infos are pickled. Returned observations are copies, safe to keep across steps.
    """

    def _init_obs_transport(self) -> None:
        """Create the shared buffers from env 0's observation space and have every worker attach to them."""
        self._shared_obs = SharedObsBuffers.create(self.observation_space, self.num_envs)
        self._pool.call("share_obs", self._to_every_worker(self._shared_obs.blocks))

    def _attach_worker(self, worker: int) -> None:
        """Have a restarted worker attach to the shared buffers."""
        self._pool.call("share_obs", {worker: self._shared_obs.blocks})

    def _obs_batch(self, obs_payloads: list[Any]) -> ObsBatch:
        """The workers have already written the observations; copy the batch out."""
        return self._shared_obs.copy()

    def close_extras(self) -> None:
        super().close_extras()
        shared_obs = getattr(self, "_shared_obs", None)  # absent if the constructor failed before creating it
        if shared_obs is not None:
            shared_obs.close()
