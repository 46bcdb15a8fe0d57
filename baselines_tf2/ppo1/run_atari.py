"""baselines' ppo1/run_atari.py: PPO1 with the Nature-CNN CnnPolicy on one Atari env (DeepMind wrappers, no frame
stack, as baselines'), baselines' settings; under mpiexec each rank trains its own env.

    python -m baselines_tf2.ppo1.run_atari --env=PongNoFrameskip-v4 --num-timesteps=10000000 --seed=0
"""

from __future__ import annotations

import os
from typing import Any

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import atari_arg_parser, make_vec_env
from baselines_tf2.common.mpi_util import world
from baselines_tf2.ppo1 import cnn_policy, pposgd_simple


def train(env_id: str, num_timesteps: int, seed: int | None) -> pposgd_simple.PPO1Model:
    """Train and return the model (saved as <log dir>/model when a log dir is configured)."""

    def policy_fn(name: str, ob_space: Any, ac_space: Any) -> Any:  # baselines' policy_fn shape
        return cnn_policy.CnnPolicy(name=name, ob_space=ob_space, ac_space=ac_space)

    env = make_vec_env(env_id, "atari", 1, seed, force_dummy=True, monitor_dir=logger.get_dir())
    try:
        model = pposgd_simple.learn(env, policy_fn, max_timesteps=int(num_timesteps * 1.1),
                                    timesteps_per_actorbatch=256, clip_param=0.2, entcoeff=0.01, optim_epochs=4,
                                    optim_stepsize=1e-3, optim_batchsize=64, gamma=0.99, lam=0.95, schedule="linear",
                                    seed=seed, progress_bar=True)
    finally:
        env.close()
    log_dir = logger.get_dir()
    if log_dir and world().rank == 0:  # under mpiexec, one model: rank 0's
        model.save(os.path.join(log_dir, "model"))
    return model


def main() -> None:
    """Parse baselines' Atari flags, configure the logger, train."""
    args = atari_arg_parser().parse_args()
    logger.configure()
    train(args.env, num_timesteps=args.num_timesteps, seed=args.seed)


if __name__ == "__main__":
    main()
