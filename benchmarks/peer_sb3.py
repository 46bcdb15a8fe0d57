"""The peer's side of `compare_peers.py`: one stable-baselines3 measurement per run, printed as one JSON line.

Runs with the peer virtualenv's python (stable-baselines3, torch CPU, gymnasium, ale-py), never ours:
    PEER_VENV/bin/python benchmarks/peer_sb3.py ppo_breakout --vec subproc --timesteps 20480
    PEER_VENV/bin/python benchmarks/peer_sb3.py dqn_breakout --timesteps 6000
    PEER_VENV/bin/python benchmarks/peer_sb3.py learner --seconds 10
    PEER_VENV/bin/python benchmarks/peer_sb3.py act --api forward --calls 300
    PEER_VENV/bin/python benchmarks/peer_sb3.py env --vec dummy --steps 1000    (compare_peers.py: dummy and subproc)
    PEER_VENV/bin/python benchmarks/peer_sb3.py ppo_learning --timesteps 300000 --monitor_dir DIR
    PEER_VENV/bin/python benchmarks/peer_sb3.py dqn_learning --env PongNoFrameskip-v4 --timesteps 1000000 \
        --learning_starts 100000 --monitor_dir DIR   (atari_scores.py's sb3_dqn)
    PEER_VENV/bin/python benchmarks/peer_sb3.py sac_mujoco --env HalfCheetah-v5 --timesteps 15000 --hiddens 256,256 \
        --activation relu --lr 3e-4 --batch_size 256 ...   (every setting explicit: see continuous_control.py)
    PEER_VENV/bin/python benchmarks/peer_sb3.py trpo_mujoco --env Hopper-v5 --timesteps 51200 --hiddens 32,32 \
        --activation tanh --timesteps_per_batch 1024 --max_kl 0.01 ...   (likewise)
    PEER_VENV/bin/python benchmarks/peer_sb3.py sac_her_learning --env FetchReach-v4 --timesteps 10000 \
        --monitor_dir DIR --hiddens 256,256 --gamma 0.95 ...   (every setting explicit: her_benchmark.py)

Settings come from `bench_common.py`, the same ones `ours.py` uses; SB3 defaults fill the rest. The continuous-control
subcommands (sac_mujoco, td3_mujoco, ddpg_mujoco, trpo_mujoco) instead take every hyperparameter on the command line,
from `CONTINUOUS_SETTINGS` in `continuous_control.py`, which hands the same numbers to our CLI; a missing one is an
error.

trpo_mujoco is sb3-contrib's TRPO ('MlpPolicy', torch CPU) beside our `--alg=trpo_mpi` (baselines' TRPO). The settings,
in baselines' names, map one to one: timesteps_per_batch -> n_steps, vf_batch_size -> batch_size (the value
function's minibatches), vf_iters -> n_critic_updates, vf_stepsize -> learning_rate (the value function's Adam),
vf_adam_epsilon -> the Adam epsilon (policy_kwargs optimizer_kwargs; SB3's own would be 1e-5), cg_iters ->
cg_max_steps, cg_damping -> cg_damping, max_kl -> target_kl, line_search_shrink -> line_search_shrinking_factor
(sb3-contrib's default is 0.8; baselines halves), line_search_steps -> line_search_max_iter, gamma -> gamma,
lam -> gae_lambda, hiddens / activation -> net_arch dict(pi=..., vf=...) with activation_fn (separate policy and
value networks, orthogonal init, log std starting at 0, as ours). One env per num_env in a DummyVecEnv, each in SB3's
Monitor (raw rewards, one file per env in --monitor_dir, read like ours), behind VecNormalize of observations and
rewards with our CLI's VecNormalize values (clip 10 and 10, return gamma 0.99, epsilon 1e-8; SB3's defaults are the
same). Both standardize the advantages over the whole batch, bootstrap the return through time-limit truncations and
add no entropy bonus. What cannot be made equal (neither library exposes it):
- the line search's acceptance test: baselines (ours) accepts a step whose mean KL is <= 1.5 max_kl and whose
  surrogate did not decrease; sb3-contrib needs KL < max_kl and a strictly larger surrogate, so it may backtrack more;
- Fisher-vector products: ours on every 5th sample of the batch (baselines), sb3-contrib on the whole batch (its
  sub_sampling_factor would subsample the gradient and the line search too, so it stays 1); sb3-contrib builds the
  KL gradient's graph once and back-propagates through it per product, ours (compiled) recomputes it per product;
- conjugate gradient: ours starts at 0 (10 products, then 1 for the step size); sb3-contrib starts at a small random
  vector (1 more product for its residual);
- the KL: ours KL(old || new) (baselines), sb3-contrib KL(new || old), for the bound and the Fisher matrix (the two
  have the same Hessian at new = old, so the step direction is the same in exact arithmetic);
- advantage standardization divides by the population std (NumPy) in ours, the sample std (torch) in sb3-contrib;
- actions: SB3 clips the sampled action to the action space before the env step; ours (baselines) passes it as
  sampled (MuJoCo clamps the control either way, Hopper's control cost sees the unclipped action in ours);
- logging: ours writes progress.csv every update, SB3 logs nothing (verbose=0).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from bench_common import (
    ACT_BATCH,
    DQN_SETTINGS,
    ENV_ID,
    FRAME_STACK,
    LEARNER_MINIBATCH,
    N_ACTIONS,
    NUM_ENV,
    OBS_SHAPE_NCHW,
    PPO_SETTINGS,
    PhaseTimer,
    calls_per_second,
    dqn_clock_start,
    emit,
    latency_ms,
    measurement_parser,
    ppo_result,
    random_actions,
    synthetic_minibatch,
    to_nchw,
)


def atari_game(env_id: str, **env_kwargs: Any) -> Any:
    """An Atari game by id; registering ale-py here lets SB3's worker processes resolve the id too."""
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)
    return gymnasium.make(env_id, **env_kwargs)


def torch_versions() -> dict[str, Any]:
    """torch and SB3 versions and torch's thread count."""
    import stable_baselines3
    import torch

    return {"torch": torch.__version__, "stable_baselines3": stable_baselines3.__version__,
            "torch_threads": torch.get_num_threads()}


def vec_env_class(name: str) -> Any:
    """SB3's DummyVecEnv or SubprocVecEnv by name."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    return {"dummy": DummyVecEnv, "subproc": SubprocVecEnv}[name]


def atari_envs(num_env: int, seed: int, vec: str, monitor_dir: str | None = None, env_id: str = ENV_ID,
               start_index: int = 0) -> Any:
    """SB3's Atari pipeline: make_atari_env (AtariWrapper, Monitor) + VecFrameStack 4 (channels last); env i writes
    <start_index + i>.monitor.csv."""
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    envs = make_atari_env(functools.partial(atari_game, env_id), n_envs=num_env, seed=seed,
                          vec_env_cls=vec_env_class(vec), monitor_dir=monitor_dir, start_index=start_index)
    return VecFrameStack(envs, n_stack=FRAME_STACK)


def linear(initial: float) -> Callable[[float], float]:
    """SB3 schedule annealing `initial` linearly to 0 (SB3 passes the fraction of training left, 1 -> 0)."""
    return lambda progress_remaining: progress_remaining * initial


def make_policy() -> Any:
    """SB3's ActorCriticCnnPolicy (Nature CNN, Adam eps 1e-5) for Breakout frames as SB3 feeds them (NCHW)."""
    import gymnasium
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    observation_space = gymnasium.spaces.Box(0, 255, OBS_SHAPE_NCHW, np.uint8)
    return ActorCriticCnnPolicy(observation_space, gymnasium.spaces.Discrete(N_ACTIONS),
                                lr_schedule=lambda _progress: PPO_SETTINGS["lr"])


def ppo_model(env: Any, seed: int, learning_rate: Any, clip_range: Any) -> Any:
    """SB3 PPO('CnnPolicy') with PPO_SETTINGS; lr and clip range given as values or SB3 schedules."""
    from stable_baselines3 import PPO

    nbatch = NUM_ENV * int(PPO_SETTINGS["nsteps"])
    return PPO(
        "CnnPolicy", env, n_steps=PPO_SETTINGS["nsteps"], n_epochs=PPO_SETTINGS["noptepochs"],
        batch_size=nbatch // int(PPO_SETTINGS["nminibatches"]), learning_rate=learning_rate, clip_range=clip_range,
        ent_coef=PPO_SETTINGS["ent_coef"], vf_coef=PPO_SETTINGS["vf_coef"], max_grad_norm=PPO_SETTINGS["max_grad_norm"],
        gamma=PPO_SETTINGS["gamma"], gae_lambda=PPO_SETTINGS["lam"], seed=seed, device="cpu", verbose=0,
    )


def measure_ppo_breakout(args: argparse.Namespace) -> dict[str, Any]:
    """SB3 PPO('CnnPolicy') on 8 Breakout envs; steady steps/s from the end of the first update on."""
    nbatch = NUM_ENV * int(PPO_SETTINGS["nsteps"])
    nupdates = args.timesteps // nbatch
    if nupdates < 2:
        raise SystemExit(f"--timesteps must cover at least 2 updates of {nbatch} steps, got {args.timesteps}")
    start = time.perf_counter()
    env = atari_envs(NUM_ENV, args.seed, args.vec)
    try:
        model = ppo_model(env, args.seed, PPO_SETTINGS["lr"], PPO_SETTINGS["cliprange"])
        phases = PhaseTimer()
        phases.wrap(model, "collect_rollouts", "rollout")
        phases.wrap(model, "train", "train")
        model.learn(total_timesteps=nupdates * nbatch)
        end = time.perf_counter()
    finally:
        env.close()
    return ppo_result(f"PPO, {args.vec.capitalize()}VecEnv", nupdates, nbatch, start, end, phases.first_end("train"),
                      phases, timesteps=int(model.num_timesteps), **torch_versions())


def dqn_model(env: Any, seed: int, settings: dict[str, float | int]) -> Any:
    """SB3 DQN('CnnPolicy') with `settings` in baselines' names (DQN_SETTINGS' keys); SB3 defaults fill the rest."""
    from stable_baselines3 import DQN

    return DQN(
        "CnnPolicy", env, learning_rate=settings["lr"], buffer_size=settings["buffer_size"],
        learning_starts=settings["learning_starts"], batch_size=settings["batch_size"], gamma=settings["gamma"],
        train_freq=settings["train_freq"], target_update_interval=settings["target_network_update_freq"],
        exploration_fraction=settings["exploration_fraction"],
        exploration_final_eps=settings["exploration_final_eps"], seed=seed, device="cpu", verbose=0,
    )


def measure_dqn_breakout(args: argparse.Namespace) -> dict[str, Any]:
    """SB3 DQN('CnnPolicy') on one Breakout env; steps/s from `learning_starts + measure_after` on."""
    from stable_baselines3.common.callbacks import BaseCallback

    learning_starts = int(DQN_SETTINGS["learning_starts"])
    clock_from = dqn_clock_start(args.timesteps, args.measure_after)
    marks: dict[str, float] = {}

    class StepClock(BaseCallback):
        """Timestamps after the reset and after the steps that open each phase."""

        def _on_training_start(self) -> None:
            marks["first_step"] = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps == learning_starts:
                marks["learning_starts"] = time.perf_counter()
            elif self.num_timesteps == clock_from:
                marks["clock_from"] = time.perf_counter()
            return True

    env = atari_envs(1, args.seed, "dummy")
    try:
        model = dqn_model(env, args.seed, DQN_SETTINGS)
        model.learn(total_timesteps=args.timesteps, callback=StepClock())
        end = time.perf_counter()
    finally:
        env.close()
    return {
        "config": "DQN, uniform replay", "value": (args.timesteps - clock_from) / (end - marks["clock_from"]),
        "unit": "steps/s", "measured_steps": args.timesteps - clock_from, "measured_from_step": clock_from,
        "sps_before_learning": learning_starts / (marks["learning_starts"] - marks["first_step"]),
        **torch_versions(),
    }


def measure_ppo_learning(args: argparse.Namespace) -> dict[str, Any]:
    """SB3 PPO('CnnPolicy') trained on Breakout with the Atari settings of ours (lr and clip range annealed to 0),
    writing one monitor file per env to `--monitor_dir`; the learning comparison reads the episodes from there."""
    if not args.monitor_dir:
        raise SystemExit("ppo_learning needs --monitor_dir")
    start = time.perf_counter()
    env = atari_envs(NUM_ENV, args.seed, args.vec, monitor_dir=args.monitor_dir)
    try:
        model = ppo_model(env, args.seed, linear(PPO_SETTINGS["lr"]), linear(PPO_SETTINGS["cliprange"]))
        model.learn(total_timesteps=args.timesteps)
        end = time.perf_counter()
    finally:
        env.close()
    seconds = end - start
    return {"config": f"PPO, {args.vec.capitalize()}VecEnv", "value": model.num_timesteps / seconds,
            "unit": "steps/s", "timesteps": int(model.num_timesteps), "wall_s": seconds, **torch_versions()}


DQN_LEARNING_FLAGS = ("lr", "batch_size", "buffer_size", "gamma", "train_freq", "learning_starts")


PEER_STATE = "peer_checkpoint.json"  # names a resumable dqn_learning run's newest model and replay files


def measure_dqn_learning(args: argparse.Namespace) -> dict[str, Any]:
    """SB3 DQN('CnnPolicy') trained on the Atari game `--env` with DQN_SETTINGS (the flags in DQN_LEARNING_FLAGS,
    when given, override theirs), one env writing its monitor files to `--monitor_dir`; atari_scores.py reads the
    games from there.

    Resumable: every `--checkpoint_every` steps, and on SIGTERM or SIGINT (then it exits with 128 + the signal),
    the model (with its optimizer and step count) and the replay buffer go to `--monitor_dir` as SB3 saves them,
    named by PEER_STATE, which is written last. A start that finds PEER_STATE for the same `--timesteps` goes on
    from there; a finished run deletes its saves. Not exact, as SB3 keeps no env or RNG state: the resumed piece is
    seeded seed + piece (env, action space, numpy, torch) and starts a new game; the game in progress is not in the
    monitor files (atari_scores.py counts steps from the saved step); the step the stop landed on is not in the
    replay buffer, and neither it nor the cut rollout's gradient step reach the target network's update count, so
    its syncs shift by one step per stop. Each piece writes its own monitor file, <piece>.monitor.csv.
    These are SB3's own files, pickles among them, read back only by this peer script in the peer virtualenv.
    """
    import signal

    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    if not args.monitor_dir:
        raise SystemExit("dqn_learning needs --monitor_dir")
    settings = {**DQN_SETTINGS, **{name: getattr(args, name) for name in DQN_LEARNING_FLAGS
                                   if getattr(args, name) is not None}}
    run_dir = Path(args.monitor_dir)
    state_path = run_dir / PEER_STATE
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else None
    if state is not None and state["total_timesteps"] != args.timesteps:
        raise SystemExit(f"{state_path} is a run of {state['total_timesteps']} steps, not --timesteps "
                         f"{args.timesteps}; move it away to start again")
    piece = state["pieces"] if state else 0
    stop_signal: list[int] = []

    def save(model: Any) -> None:
        """The model and replay buffer under the step count, then PEER_STATE naming them, then the older files go."""
        step = int(model.num_timesteps)
        model.save(run_dir / f"peer_model-{step}.zip")
        model.save_replay_buffer(run_dir / f"peer_replay-{step}.pkl")
        write = state_path.with_name(PEER_STATE + ".tmp")
        write.write_text(json.dumps({"num_timesteps": step, "total_timesteps": args.timesteps,
                                     "pieces": piece + 1}) + "\n", encoding="utf-8")
        os.replace(write, state_path)
        for old in [*run_dir.glob("peer_model-*.zip"), *run_dir.glob("peer_replay-*.pkl")]:
            if old.stem.rsplit("-", 1)[1] != str(step):
                old.unlink()

    class Checkpoints(BaseCallback):
        """Saves at the end of a rollout (its transitions stored) every `every` steps; stops after a signal."""

        def __init__(self, every: int) -> None:
            super().__init__()
            self.every, self.next_save = every, 0

        def _on_training_start(self) -> None:
            self.next_save = (self.num_timesteps // self.every + 1) * self.every

        def _on_step(self) -> bool:
            return not stop_signal

        def _on_rollout_end(self) -> None:
            if self.num_timesteps >= self.next_save and self.num_timesteps < args.timesteps:
                save(self.model)
                self.next_save += self.every

    start = time.perf_counter()
    # pieces after the first: their own monitor file (make_atari_env names it start_index + rank)
    env = atari_envs(1, args.seed, "dummy", monitor_dir=args.monitor_dir, env_id=args.env, start_index=piece)
    previous = {signum: signal.signal(signum, lambda signum, _frame: stop_signal.append(signum))
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        if state is None:
            model = dqn_model(env, args.seed, settings)
        else:
            # load() seeds everything (env resets, action space, numpy, torch) with `seed`: a new one per piece, or
            # the piece would replay the first one's games; with env= it also resets the env at learn()
            model = DQN.load(run_dir / f"peer_model-{state['num_timesteps']}.zip", env=env, device="cpu",
                             seed=args.seed + piece)
            model.load_replay_buffer(run_dir / f"peer_replay-{state['num_timesteps']}.pkl")
        done_before = int(model.num_timesteps)
        if not stop_signal:  # a signal while loading: nothing new to save
            model.learn(total_timesteps=args.timesteps - done_before, reset_num_timesteps=False,
                        callback=Checkpoints(args.checkpoint_every))
        finished = model.num_timesteps >= args.timesteps  # a signal may land as the last step ends
        if stop_signal and not finished and model.num_timesteps > done_before:
            save(model)
        end = time.perf_counter()
    finally:
        env.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stop_signal and not finished:
        print(f"stopped by signal {stop_signal[0]} at step {model.num_timesteps}; saved to {state_path}", flush=True)
        raise SystemExit(128 + stop_signal[0])
    state_path.unlink(missing_ok=True)  # finished: the saves (the replay buffer is GBs) are of no more use
    for saved in [*run_dir.glob("peer_model-*.zip"), *run_dir.glob("peer_replay-*.pkl")]:
        saved.unlink()
    return {"config": "DQN, CnnPolicy, uniform replay", "env": args.env,
            "value": (model.num_timesteps - done_before) / (end - start), "unit": "steps/s",
            "timesteps": int(model.num_timesteps), "wall_s": end - start, "pieces": piece + 1, "settings": settings,
            **torch_versions()}


def measure_learner(args: argparse.Namespace) -> dict[str, Any]:
    """One PPO minibatch update as SB3's PPO.train does it, on ActorCriticCnnPolicy: samples/s."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    policy = make_policy()
    policy.set_training_mode(True)
    data = synthetic_minibatch(LEARNER_MINIBATCH, args.seed)
    obs = torch.as_tensor(to_nchw(data["obs"]))
    actions = torch.as_tensor(data["actions"])
    returns = torch.as_tensor(data["returns"])
    advantages = returns - torch.as_tensor(data["values"])
    old_log_prob = -torch.as_tensor(data["neglogpacs"])
    clip = float(PPO_SETTINGS["cliprange"])

    def train_once() -> dict[str, float]:
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        normalized = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        ratio = torch.exp(log_prob - old_log_prob)
        policy_loss = -torch.min(normalized * ratio, normalized * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
        value_loss = F.mse_loss(returns, values.flatten())
        loss = policy_loss - PPO_SETTINGS["ent_coef"] * entropy.mean() + PPO_SETTINGS["vf_coef"] * value_loss
        with torch.no_grad():
            log_ratio = log_prob - old_log_prob
            approx_kl = torch.mean(torch.exp(log_ratio) - 1 - log_ratio).item()
            clipfrac = torch.mean((torch.abs(ratio - 1) > clip).float()).item()
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), PPO_SETTINGS["max_grad_norm"])
        policy.optimizer.step()
        return {"loss": loss.item(), "approxkl": approx_kl, "clipfrac": clipfrac}

    steps, seconds = calls_per_second(train_once, args.seconds, warmup=args.warmup)
    return {
        "config": "ActorCriticCnnPolicy, PPO.train's minibatch step", "value": steps * LEARNER_MINIBATCH / seconds,
        "unit": "samples/s", "train_steps": steps, "seconds": seconds, "ms_per_step": 1e3 * seconds / steps,
        **torch_versions(),
    }


def measure_act(args: argparse.Namespace) -> dict[str, Any]:
    """ActorCriticCnnPolicy on 8 observations: `forward` under no_grad as PPO's rollout calls it, or `predict`."""
    import torch

    torch.manual_seed(args.seed)
    policy = make_policy()
    policy.set_training_mode(False)
    obs = to_nchw(synthetic_minibatch(ACT_BATCH, args.seed)["obs"])

    def forward() -> tuple[np.ndarray, ...]:
        with torch.no_grad():
            actions, values, log_probs = policy(torch.as_tensor(obs))
        return actions.numpy(), values.numpy(), log_probs.numpy()

    call: Callable[[], object] = forward if args.api == "forward" else (lambda: policy.predict(obs))
    timing = latency_ms(call, args.calls, warmup=args.warmup)
    return {"config": f"ActorCriticCnnPolicy.{args.api}", "value": timing["median_ms"], "unit": "ms", **timing,
            "calls": args.calls, **torch_versions()}


def measure_env(args: argparse.Namespace) -> dict[str, Any]:
    """8 Breakout envs via SB3's make_atari_env + VecFrameStack 4, random actions: agent steps/s."""
    actions = random_actions(args.warmup + args.steps, NUM_ENV, args.seed)
    env = atari_envs(NUM_ENV, args.seed, args.vec)
    try:
        env.reset()
        for batch in actions[: args.warmup]:
            env.step(batch)
        start = time.perf_counter()
        for batch in actions[args.warmup :]:
            env.step(batch)
        seconds = time.perf_counter() - start
    finally:
        env.close()
    return {"config": f"{args.vec.capitalize()}VecEnv", "value": args.steps * NUM_ENV / seconds, "unit": "steps/s",
            "batched_steps": args.steps, "seconds": seconds}


# The continuous-control hyperparameter flags (all default None): which SB3 class reads which, beyond the common ones.
CONTINUOUS_COMMON = ("hiddens", "activation", "lr", "batch_size", "buffer_size", "tau", "gamma", "train_freq",
                     "gradient_steps", "learning_starts")
CONTINUOUS_ONLY = {
    "sac": ("ent_coef", "target_entropy"),
    "td3": ("policy_delay", "target_policy_noise", "target_noise_clip", "action_noise_sigma"),
    "ddpg": ("action_noise_sigma",),
}


def torch_activation(name: str) -> Any:
    """The torch.nn activation class of `--activation`; SystemExit for an unknown name."""
    import torch

    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "elu": torch.nn.ELU}
    if name not in activations:
        raise SystemExit(f"--activation must be one of {', '.join(activations)}, got {name!r}")
    return activations[name]


def require_settings(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """SystemExit naming every setting in `names` that was not given (the peer fills none in itself)."""
    missing = [name for name in names if getattr(args, name) is None]
    if missing:
        raise SystemExit(f"{args.measurement} needs every setting explicit; missing: "
                         + ", ".join("--" + name for name in missing))


def sb3_continuous_kwargs(algorithm: str, args: argparse.Namespace, action_dim: int) -> dict[str, Any]:
    """SB3 constructor keywords for SAC / TD3 / DDPG from the explicit flags; SystemExit if one is missing.

    Actor and critic(s) both get `--hiddens` with `--activation`; SB3's defaults fill nothing that matters here
    (SAC and TD3 keep 2 critics, DDPG 1; SAC's learned entropy coefficient starts at 1.0)."""
    from stable_baselines3.common.noise import NormalActionNoise

    require_settings(args, CONTINUOUS_COMMON + CONTINUOUS_ONLY[algorithm])
    hiddens = [int(width) for width in args.hiddens.split(",")]
    kwargs: dict[str, Any] = dict(
        policy_kwargs=dict(net_arch=dict(pi=hiddens, qf=hiddens), activation_fn=torch_activation(args.activation)),
        learning_rate=args.lr, batch_size=args.batch_size, buffer_size=args.buffer_size, tau=args.tau,
        gamma=args.gamma, train_freq=args.train_freq, gradient_steps=args.gradient_steps,
        learning_starts=args.learning_starts,
    )
    if algorithm == "sac":
        target_entropy = args.target_entropy if args.target_entropy == "auto" else float(args.target_entropy)
        kwargs.update(ent_coef=args.ent_coef, target_entropy=target_entropy)
    else:
        kwargs["action_noise"] = NormalActionNoise(np.zeros(action_dim), args.action_noise_sigma * np.ones(action_dim))
    if algorithm == "td3":
        kwargs.update(policy_delay=args.policy_delay, target_policy_noise=args.target_policy_noise,
                      target_noise_clip=args.target_noise_clip)
    return kwargs


def measure_continuous(algorithm: str, args: argparse.Namespace) -> dict[str, Any]:
    """SB3's SAC, TD3 or DDPG ('MlpPolicy', torch CPU) trained on `--env` (one env, wrapped in SB3's Monitor).

    Steady-state steps/s counts only steps after `learning_starts + measure_after` (before learning starts there
    are no updates): from the Monitor's episode end times, exactly as `continuous_control.py` measures our side
    from our monitor file (`value`), and from a step callback's clock as a check (`steady_sps_clock`). For DDPG,
    the speed row uses SAC/TD3-sized networks ([256, 256] relu, batch 256, one update per step on both sides): the
    comparison is about the compiled update, not baselines' DDPG recipe."""
    import gymnasium
    import stable_baselines3
    from continuous_control import steady_rate
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor

    model_class = {"sac": stable_baselines3.SAC, "td3": stable_baselines3.TD3,
                   "ddpg": stable_baselines3.DDPG}[algorithm]
    clock_from = int(args.learning_starts or 0) + args.measure_after
    if args.timesteps <= clock_from:
        raise SystemExit(f"--timesteps must exceed learning_starts + measure_after = {clock_from}, "
                         f"got {args.timesteps}")
    marks: dict[str, float] = {}

    class StepClock(BaseCallback):
        """Timestamps at the first step and after the steps at learning_starts and at the clock's start."""

        def _on_training_start(self) -> None:
            marks["first_step"] = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps == args.learning_starts:
                marks["learning_starts"] = time.perf_counter()
            if self.num_timesteps == clock_from:
                marks["clock_from"] = time.perf_counter()
            return True

    start = time.perf_counter()
    if args.monitor_dir:
        os.makedirs(args.monitor_dir, exist_ok=True)
    env = Monitor(gymnasium.make(args.env), os.path.join(args.monitor_dir, "0") if args.monitor_dir else None)
    try:
        kwargs = sb3_continuous_kwargs(algorithm, args, int(np.prod(env.action_space.shape)))
        model = model_class("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0, **kwargs)
        model.learn(total_timesteps=args.timesteps, callback=StepClock())
        end = time.perf_counter()
        lengths, times, returns = env.get_episode_lengths(), env.get_episode_times(), env.get_episode_rewards()
    finally:
        env.close()
    steady = steady_rate(lengths, times, clock_from)
    clock_sps = (args.timesteps - clock_from) / (end - marks["clock_from"]) if "clock_from" in marks else None
    last = returns[-10:]
    return {
        "config": f"{model_class.__name__}, MlpPolicy", "env": args.env,
        "value": steady["steps_per_s"] if steady else clock_sps, "unit": "steps/s",
        "steady_from": "monitor" if steady else "clock", "steady_sps_clock": clock_sps,
        "measured_from_step": steady["from_step"] if steady else clock_from,
        "measured_steps": steady["steps"] if steady else args.timesteps - clock_from,
        "sps_before_learning": (args.learning_starts / (marks["learning_starts"] - marks["first_step"])
                                if "learning_starts" in marks and args.learning_starts else None),
        "wall_s": end - start, "timesteps": int(model.num_timesteps), "episodes": len(returns),
        "last10_mean_return": float(np.mean(last)) if last else None, **torch_versions(),
    }


# trpo_mujoco's settings (baselines' names, as CONTINUOUS_SETTINGS["trpo"]); all required.
TRPO_SETTINGS = ("hiddens", "activation", "num_env", "timesteps_per_batch", "max_kl", "cg_iters", "cg_damping",
                 "line_search_shrink", "line_search_steps", "gamma", "lam", "vf_iters", "vf_stepsize", "vf_batch_size",
                 "vf_adam_epsilon")
# Our CLI's VecNormalize (baselines_tf2's defaults, as run.py builds it for MuJoCo), in SB3's argument names.
VEC_NORMALIZE = dict(norm_obs=True, norm_reward=True, clip_obs=10.0, clip_reward=10.0, gamma=0.99, epsilon=1e-8)


def measure_trpo(args: argparse.Namespace) -> dict[str, Any]:
    """sb3-contrib's TRPO ('MlpPolicy', torch CPU) on `--env` with the settings of our trpo_mpi (module docstring).

    Steady-state steps/s counts only the steps after the first batch (its update holds our tracing) plus
    `measure_after`, from the Monitor files' episode end times exactly as `continuous_control.py` reads our side
    (`value`; the window ends at the last episode's end, before the final update), and from a step callback's clock
    to the end of learn() as a rough check (`steady_sps_clock`, final update included)."""
    import gymnasium
    import sb3_contrib
    from continuous_control import steady_rate
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    require_settings(args, TRPO_SETTINGS)
    first_batch = args.timesteps_per_batch * args.num_env
    clock_from = first_batch + args.measure_after
    if args.timesteps <= clock_from:
        raise SystemExit(f"--timesteps must exceed timesteps_per_batch x num_env + measure_after = {clock_from}, "
                         f"got {args.timesteps}")
    marks: dict[str, float] = {}

    class StepClock(BaseCallback):
        """Timestamps at the first step and once the clock's start step is reached."""

        def _on_training_start(self) -> None:
            marks["first_step"] = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps >= clock_from and "clock_from" not in marks:
                marks["clock_from"], marks["clock_step"] = time.perf_counter(), self.num_timesteps
            return True

    if args.monitor_dir:
        os.makedirs(args.monitor_dir, exist_ok=True)

    def monitored(index: int) -> Callable[[], Any]:
        path = os.path.join(args.monitor_dir, str(index)) if args.monitor_dir else None
        return lambda: Monitor(gymnasium.make(args.env), path)

    start = time.perf_counter()
    env = VecNormalize(DummyVecEnv([monitored(index) for index in range(args.num_env)]), **VEC_NORMALIZE)
    hiddens = [int(width) for width in args.hiddens.split(",")]
    try:
        model = sb3_contrib.TRPO(
            "MlpPolicy", env, n_steps=args.timesteps_per_batch, batch_size=args.vf_batch_size,
            n_critic_updates=args.vf_iters, learning_rate=args.vf_stepsize, cg_max_steps=args.cg_iters,
            cg_damping=args.cg_damping, target_kl=args.max_kl, line_search_shrinking_factor=args.line_search_shrink,
            line_search_max_iter=args.line_search_steps, gamma=args.gamma, gae_lambda=args.lam,
            normalize_advantage=True, sub_sampling_factor=1,
            policy_kwargs=dict(net_arch=dict(pi=hiddens, vf=hiddens), activation_fn=torch_activation(args.activation),
                               optimizer_kwargs=dict(eps=args.vf_adam_epsilon)),
            seed=args.seed, device="cpu", verbose=0,
        )
        model.learn(total_timesteps=args.timesteps, callback=StepClock())
        end = time.perf_counter()
        episodes = sorted(row for monitor in env.venv.envs for row in zip(
            monitor.get_episode_times(), monitor.get_episode_lengths(), monitor.get_episode_rewards()))
    finally:
        env.close()
    steady = steady_rate([row[1] for row in episodes], [row[0] for row in episodes], clock_from)
    clock_sps = ((model.num_timesteps - marks["clock_step"]) / (end - marks["clock_from"])
                 if "clock_from" in marks else None)
    last = [row[2] for row in episodes[-10:]]
    return {
        "config": "TRPO (sb3-contrib), MlpPolicy, VecNormalize", "env": args.env,
        "value": steady["steps_per_s"] if steady else clock_sps, "unit": "steps/s",
        "steady_from": "monitor" if steady else "clock", "steady_sps_clock": clock_sps,
        "measured_from_step": steady["from_step"] if steady else clock_from,
        "measured_steps": steady["steps"] if steady else model.num_timesteps - clock_from,
        "wall_s": end - start, "timesteps": int(model.num_timesteps), "episodes": len(episodes),
        "last10_mean_return": float(np.mean(last)) if last else None, "sb3_contrib": sb3_contrib.__version__,
        **torch_versions(),
    }


# sac_her_learning's settings beyond the continuous-control ones (all required): HER's relabelling.
HER_SETTINGS = ("n_sampled_goal", "goal_selection_strategy")
# The observation normalization rl-baselines3-zoo gives SAC on FetchReach (`normalize: True` in hyperparams/sac.yml
# is VecNormalize's defaults, which also scale rewards); rewards are left alone here, as ours leaves them.
HER_VEC_NORMALIZE = dict(norm_obs=True, norm_reward=False, clip_obs=10.0, epsilon=1e-8)


def measure_sac_her_learning(args: argparse.Namespace) -> dict[str, Any]:
    """SB3's SAC('MultiInputPolicy') with its HerReplayBuffer trained on the goal env `--env` (gymnasium-robotics),
    one env in SB3's Monitor (with `is_success`, to `--monitor_dir`/0.monitor.csv) behind VecNormalize of the
    observations (HER_VEC_NORMALIZE), every hyperparameter given (her_benchmark.py passes ours). Each finished
    training episode is also appended to `--monitor_dir`/episodes.csv as `step,is_success,return,length,wall_s`
    (step: env steps done when it ended), which her_benchmark.py bins into its curve. Not resumable (SB3 would
    need its replay buffer pickled): an interrupted run is started again from scratch."""
    import gymnasium
    import gymnasium_robotics
    import stable_baselines3
    from stable_baselines3 import HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    require_settings(args, CONTINUOUS_COMMON + CONTINUOUS_ONLY["sac"] + HER_SETTINGS)
    if not args.monitor_dir:
        raise SystemExit("sac_her_learning needs --monitor_dir")
    os.makedirs(args.monitor_dir, exist_ok=True)
    gymnasium.register_envs(gymnasium_robotics)
    start = time.perf_counter()
    env = VecNormalize(DummyVecEnv([lambda: Monitor(gymnasium.make(args.env), os.path.join(args.monitor_dir, "0"),
                                                    info_keywords=("is_success",))]), **HER_VEC_NORMALIZE)
    episodes: list[float] = []

    class EpisodeLog(BaseCallback):
        """One CSV row per finished training episode, written as it ends (a reader sees the run so far)."""

        def _on_training_start(self) -> None:
            self.handle = open(os.path.join(args.monitor_dir, "episodes.csv"), "w", encoding="utf-8")
            self.handle.write("step,is_success,return,length,wall_s\n")

        def _on_step(self) -> bool:
            for done, info in zip(self.locals["dones"], self.locals["infos"]):
                if done and "episode" in info:  # the Monitor's record of the episode that just ended
                    success = float(info.get("is_success", float("nan")))
                    episodes.append(success)
                    self.handle.write(f"{self.num_timesteps},{success:g},{info['episode']['r']:g},"
                                      f"{info['episode']['l']},{time.perf_counter() - start:.3f}\n")
                    self.handle.flush()
            return True

        def _on_training_end(self) -> None:
            self.handle.close()

    try:
        kwargs = sb3_continuous_kwargs("sac", args, int(np.prod(env.action_space.shape)))
        model = stable_baselines3.SAC(
            "MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs=dict(n_sampled_goal=args.n_sampled_goal,
                                      goal_selection_strategy=args.goal_selection_strategy),
            seed=args.seed, device="cpu", verbose=0, **kwargs)
        model.learn(total_timesteps=args.timesteps, callback=EpisodeLog())
        end = time.perf_counter()
    finally:
        env.close()
    last = episodes[-20:]
    return {
        "config": "SAC, MultiInputPolicy, HerReplayBuffer, VecNormalize(obs)", "env": args.env,
        "value": model.num_timesteps / (end - start), "unit": "steps/s", "wall_s": end - start,
        "timesteps": int(model.num_timesteps), "episodes": len(episodes),
        "last20_success_rate": float(np.mean(last)) if last else None,
        "policy_kwargs": {"net_arch": kwargs["policy_kwargs"]["net_arch"], "n_critics": model.policy.critic.n_critics},
        "vec_normalize": HER_VEC_NORMALIZE, "gymnasium_robotics": gymnasium_robotics.__version__,
        **torch_versions(),
    }


MEASUREMENTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "ppo_breakout": measure_ppo_breakout,
    "dqn_breakout": measure_dqn_breakout,
    "learner": measure_learner,
    "act": measure_act,
    "env": measure_env,
    "ppo_learning": measure_ppo_learning,
    "dqn_learning": measure_dqn_learning,
    **{f"{algorithm}_mujoco": functools.partial(measure_continuous, algorithm) for algorithm in CONTINUOUS_ONLY},
    "trpo_mujoco": measure_trpo,
    "sac_her_learning": measure_sac_her_learning,
}


def main() -> None:
    parser = measurement_parser(__doc__, MEASUREMENTS)
    parser.add_argument("--vec", choices=("dummy", "subproc"), default="subproc",
                        help="ppo_breakout / env: SB3's VecEnv (compare_peers.py runs both and takes the faster)")
    parser.add_argument("--api", choices=("forward", "predict"), default="forward", help="act: which call")
    parser.add_argument("--monitor_dir", default=None,
                        help="ppo_learning, dqn_learning, *_mujoco: where the monitor files go (*_mujoco: optional)")
    parser.add_argument("--checkpoint_every", type=int, default=100_000,
                        help="dqn_learning: steps between saves of model and replay buffer (resumable)")
    parser.add_argument("--torch_threads", type=int, default=None, help="torch.set_num_threads; default: torch's")
    group = parser.add_argument_group("continuous control (sac_mujoco, td3_mujoco, ddpg_mujoco, trpo_mujoco): every "
                                      "setting explicit, no defaults (continuous_control.py passes "
                                      "CONTINUOUS_SETTINGS)")
    group.add_argument("--env", default="HalfCheetah-v5", help="gymnasium id")
    group.add_argument("--hiddens", default=None,
                       help="hidden widths of actor and critics (TRPO: policy and value networks), e.g. 256,256")
    group.add_argument("--activation", default=None, help="relu, tanh or elu")
    for name, kind in (("lr", float), ("batch_size", int), ("buffer_size", int), ("tau", float), ("gamma", float),
                       ("train_freq", int), ("gradient_steps", int), ("learning_starts", int),
                       ("policy_delay", int), ("target_policy_noise", float), ("target_noise_clip", float),
                       ("action_noise_sigma", float), ("num_env", int), ("timesteps_per_batch", int),
                       ("max_kl", float), ("cg_iters", int), ("cg_damping", float), ("line_search_shrink", float),
                       ("line_search_steps", int), ("lam", float), ("vf_iters", int), ("vf_stepsize", float),
                       ("vf_batch_size", int), ("vf_adam_epsilon", float)):
        group.add_argument(f"--{name}", type=kind, default=None)
    group.add_argument("--ent_coef", default=None, help="SAC: 'auto' (learned, from 1.0), 'auto_0.1' or a number")
    group.add_argument("--target_entropy", default=None, help="SAC: 'auto' (-dim(A)) or a number")
    her = parser.add_argument_group("sac_her_learning: --env, --monitor_dir (its monitor file and episodes.csv), "
                                    "the continuous-control settings above (sac's) and these, all explicit "
                                    "(her_benchmark.py passes them)")
    her.add_argument("--n_sampled_goal", type=int, default=None, help="relabelled goals per real one (HER's k)")
    her.add_argument("--goal_selection_strategy", default=None, help="future, final or episode")
    args = parser.parse_args()
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    emit({"measurement": args.measurement, "side": "peer", **MEASUREMENTS[args.measurement](args)})


if __name__ == "__main__":
    main()
