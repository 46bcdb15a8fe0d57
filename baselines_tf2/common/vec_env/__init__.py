"""Vectorized environments with baselines' API: one import path for the whole family."""

from baselines_tf2.common.vec_env.compat import OldGymApiWarning, ensure_gymnasium_api
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import (
    AlreadySteppingError,
    ClosedEnvError,
    CloudpickleWrapper,
    NotSteppingError,
    VecEnv,
    VecEnvError,
    VecEnvObservationWrapper,
    VecEnvTimeoutError,
    VecEnvWorkerError,
    VecEnvWrapper,
    clear_mpi_env_vars,
)
from baselines_tf2.common.vec_env.vec_frame_stack import VecFrameStack
from baselines_tf2.common.vec_env.vec_monitor import VecMonitor
from baselines_tf2.common.vec_env.vec_normalize import VecNormalize
from baselines_tf2.common.vec_env.vec_remove_dict_obs import VecExtractDictObs
from baselines_tf2.common.vec_env.vec_video_recorder import VecVideoRecorder

__all__ = [
    "AlreadySteppingError",
    "ClosedEnvError",
    "CloudpickleWrapper",
    "DummyVecEnv",
    "NotSteppingError",
    "OldGymApiWarning",
    "ShmemVecEnv",
    "SubprocVecEnv",
    "VecEnv",
    "VecEnvError",
    "VecEnvObservationWrapper",
    "VecEnvTimeoutError",
    "VecEnvWorkerError",
    "VecEnvWrapper",
    "VecExtractDictObs",
    "VecFrameStack",
    "VecMonitor",
    "VecNormalize",
    "VecVideoRecorder",
    "clear_mpi_env_vars",
    "ensure_gymnasium_api",
]
