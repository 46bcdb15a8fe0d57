"""baselines' ppo1/run_atari.py: PPO1 with the Nature-CNN CnnPolicy on one Atari env (DeepMind wrappers, no frame
stack, as baselines'), baselines' settings; under mpiexec each rank trains its own env.

    python -m baselines_tf2.ppo1.run_atari --env=PongNoFrameskip-v4 --num-timesteps=10000000 --seed=0
"""

from __future__ import annotations

from typing import Any

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import atari_arg_parser
from baselines_tf2.ppo1 import cnn_policy, pposgd_simple


def train(env_id: str, num_timesteps: int, seed: int | None) -> pposgd_simple.PPO1Model:
    """Train and return the model (saved as <log dir>/model when a log dir is configured)."""

    def policy_fn(name: str, ob_space: Any, ac_space: Any) -> Any:  # baselines' policy_fn shape
        return cnn_policy.CnnPolicy(name=name, ob_space=ob_space, ac_space=ac_space)

    return pposgd_simple.train_script_run(env_id, "atari", seed, policy_fn, max_timesteps=int(num_timesteps * 1.1),
                                          timesteps_per_actorbatch=256, clip_param=0.2, entcoeff=0.01,
                                          optim_epochs=4, optim_stepsize=1e-3, optim_batchsize=64, gamma=0.99,
                                          lam=0.95, schedule="linear")


def main() -> None:
    """Parse baselines' Atari flags, configure the logger, train."""
    parser = atari_arg_parser()
    args = parser.parse_args()
    pposgd_simple.check_script_arguments(parser, args, env_type="atari")
    logger.configure()
    train(args.env, num_timesteps=args.num_timesteps, seed=args.seed)


if __name__ == "__main__":
    main()
