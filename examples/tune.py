"""Hyperparameter search over ppo2.learn's arguments with Optuna (TPE sampler, median pruning); CartPole-v1 default.

Each trial trains PPO2 with sampled lr, nsteps, minibatches, epochs, gamma, lambda, clip range and entropy
coefficient. Every tenth of its steps it reports the mean return of its last 100 episodes (read in learn's
callback); when that is below the median of earlier trials at the same point, `trial.should_prune()` says so and
the callback returns False, which ends learn() at once. The best parameters are printed and written to
<out>/best_params.json; <out>/tune.png shows every trial's learning curve, coloured by finished or pruned.
Needs `pip install optuna`.

    python examples/tune.py                             # 20 trials x 50k steps on CartPole-v1: ~10 min on 2 cores
    python examples/tune.py --env Acrobot-v1 --trials 50 --steps 100000
    python examples/tune.py --smoke
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from _common import example_parser, require, save_curves

NUM_ENV = 8
REPORTS = 10  # intermediate values per trial, at fixed fractions of its steps, so trials compare at equal steps
STEPS, SMOKE_STEPS = 50_000, 2_048
TRIALS, SMOKE_TRIALS = 20, 4
STARTUP_TRIALS, SMOKE_STARTUP_TRIALS = 5, 2  # completed trials before pruning starts (they give the medians)
SMOOTH_RADIUS = 10  # episodes each side


def sample_ppo2_params(trial: Any) -> dict[str, Any]:
    """ppo2.learn keyword arguments for one trial (nsteps * NUM_ENV is a power of two, so every split divides)."""
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "nsteps": trial.suggest_categorical("nsteps", [32, 64, 128, 256]),
        "nminibatches": trial.suggest_categorical("nminibatches", [1, 4, 8]),
        "noptepochs": trial.suggest_categorical("noptepochs", [4, 10, 20]),
        "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99, 0.999]),
        "lam": trial.suggest_categorical("lam", [0.8, 0.9, 0.95, 0.99]),
        "cliprange": trial.suggest_categorical("cliprange", [0.1, 0.2, 0.3]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 1e-2, log=True),
    }


def objective(trial: Any, env_id: str, total_timesteps: int, out: Path) -> float:
    """Train one sampled configuration; its value is the mean return of the last 100 episodes (pruned: raises)."""
    import optuna

    from baselines_tf2 import logger
    from baselines_tf2.common.cmd_util import get_env_type, make_vec_env
    from baselines_tf2.ppo2 import ppo2

    params = sample_ppo2_params(trial)
    reports, mean_return, pruned = 0, float("nan"), False

    def callback(local: dict[str, Any]) -> bool:
        """Report at every tenth of the steps; False (stop learning) when Optuna prunes the trial."""
        nonlocal reports, mean_return, pruned
        if not local["episode_returns"]:
            return True
        mean_return = float(np.mean(local["episode_returns"]))
        due = int(REPORTS * local["update"] * local["nbatch"] / total_timesteps)
        while reports < due:
            reports += 1
            trial.report(mean_return, step=reports)
            if trial.should_prune():
                pruned = True
                return False
        return True

    run_dir = out / f"trial{trial.number:03d}"
    with logger.scoped_configure(str(run_dir), ["csv"]):
        venv = make_vec_env(env_id, get_env_type(env_id), NUM_ENV, trial.number, vec_env_kind="dummy")
        ppo2.learn(network="mlp", env=venv, total_timesteps=total_timesteps, seed=trial.number, callback=callback,
                   **params)
        venv.close()
    trial.set_user_attr("run_dir", str(run_dir))
    if pruned:
        raise optuna.TrialPruned(f"mean return {mean_return:.1f} at report {reports} of {REPORTS}")
    return mean_return


def main() -> None:
    parser = example_parser(__doc__, "runs/examples/tune")
    parser.add_argument("--env", default="CartPole-v1", help="gymnasium env id (discrete or continuous actions)")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials to run (pruned ones included)")
    parser.add_argument("--steps", type=int, default=STEPS, help="env steps per trial (summed over its 8 envs)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampler (trial N trains with seed N)")
    args = parser.parse_args()
    optuna = require("optuna", "optuna")
    trials, steps, startup = ((SMOKE_TRIALS, SMOKE_STEPS, SMOKE_STARTUP_TRIALS) if args.smoke
                              else (args.trials, args.steps, STARTUP_TRIALS))

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=REPORTS // 5),
    )
    study.optimize(lambda trial: objective(trial, args.env, steps, args.out), n_trials=trials)

    finished = [trial for trial in study.trials if trial.state in (optuna.trial.TrialState.COMPLETE,
                                                                   optuna.trial.TrialState.PRUNED)]
    status = {Path(trial.user_attrs["run_dir"]).name: trial.state.name.lower() for trial in finished}
    print(f"{len(finished)} trials, {sum(state == 'pruned' for state in status.values())} pruned; best: trial "
          f"{study.best_trial.number}, mean return {study.best_value:.1f}, parameters {study.best_params}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "best_params.json").write_text(json.dumps(
        {"env": args.env, "steps": steps, "mean_return": study.best_value, "params": study.best_params}, indent=2))
    save_curves([Path(trial.user_attrs["run_dir"]) for trial in finished], args.out / "tune.png",
                smooth_radius=SMOOTH_RADIUS, average_group=False,
                group_fn=lambda result: status[Path(result.dirname).name],
                split_fn=lambda _result: f"PPO2 on {args.env}: {len(finished)} Optuna trials")


if __name__ == "__main__":
    main()
