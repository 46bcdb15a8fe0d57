"""Data-parallel PPO2 under `mpiexec -n 2` on localhost: gradients averaged over ranks, ranks in lockstep, only rank 0
writes, a dead or failing rank ends the whole job, a checkpoint resumes with another number of ranks.

This file is also the program some tests launch on every rank: `mpiexec -n 2 python tests/test_mpi.py CASE FOLDER`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from baselines_tf2.training.checkpoint import load_checkpoint, read_metadata

MPIEXEC = Path(sys.executable).with_name("mpiexec")  # the mpich wheel installs it next to the interpreter
requires_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or not MPIEXEC.exists(),
    reason=f"the mpi extra is not installed (pip install 'baselines_tf2[mpi]'): no mpi4py, or no {MPIEXEC}",
)
RANKS = 2
START_TIMEOUT_S = 240  # both ranks import TensorFlow on 2 busy cores
STOP_TIMEOUT_S = 60  # from a signal or a fault to the end of the whole job
RUN = [sys.executable, "-m", "baselines_tf2.run"]
NUM_ENV, NSTEPS = 2, 32
NBATCH = RANKS * NUM_ENV * NSTEPS  # env steps per update over both ranks


def mpiexec(ranks: int, *command: str) -> list[str]:
    return [str(MPIEXEC), "-n", str(ranks), *command]


def quiet_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}


def run_to_end(argv: list[str], folder: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=folder, env=quiet_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{' '.join(argv)} did not finish within {timeout} s:\n{expired.stderr}")


def run_case(case: str, folder: Path, timeout: float, extra: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `case` of this file on RANKS ranks; fail the test unless every rank succeeds."""
    result = run_to_end(mpiexec(RANKS, sys.executable, __file__, case, str(folder), *(extra or [])), folder, timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def cli_args(log_dir: Path, num_timesteps: int, *extra: str) -> list[str]:
    return ["--alg=ppo2", "--env=CartPole-v1", "--num_hidden=16", f"--num_env={NUM_ENV}", f"--nsteps={NSTEPS}",
            "--nminibatches=2", "--noptepochs=2", f"--num_timesteps={num_timesteps}", "--seed=0", "--log_interval=1",
            "--save_interval=1000", "--precision=float32", f"--log_path={log_dir}", *extra]


def logged_rows(log_dir: Path) -> int:
    try:
        return max(0, len((log_dir / "progress.csv").read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def children_table() -> dict[int, list[int]]:
    """parent pid -> its children's pids."""
    table: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
        table.setdefault(parent, []).append(int(entry))
    return table


def descendants(pid: int) -> list[int]:
    table, found, frontier = children_table(), [], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in table.get(parent, [])]
        found += frontier
    return found


def rank_process(launcher: int, rank: int) -> int:
    """The pid of `rank`'s CLI process below the launcher (its env workers share its environment, not its cmdline)."""
    for pid in descendants(launcher):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"baselines_tf2.run" in cmdline and f"PMI_RANK={rank}".encode() in environ:
            return pid
    raise AssertionError(f"no process of rank {rank} below {launcher}")


def gone(pid: int) -> bool:
    """No such process, or only its zombie is left."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def env_workers(pid: int) -> list[int]:
    """The VecEnv worker processes of a CLI process: its forkserver's children."""
    table = children_table()
    forkservers = [child for child in table.get(pid, [])
                   if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return [worker for server in forkservers for worker in table.get(server, [])]


class Launch:
    """`mpiexec -n RANKS python -m baselines_tf2.run ARGS` in the background, in its own session."""

    def __init__(self, ranks: int, args: list[str], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout, self.stderr = folder / "stdout.txt", folder / "stderr.txt"
        with open(self.stdout, "w") as stdout, open(self.stderr, "w") as stderr:
            self.process = subprocess.Popen(mpiexec(ranks, *RUN, *args), cwd=folder, env=quiet_env(), stdout=stdout,
                                            stderr=stderr, start_new_session=True)
        self.started = time.monotonic()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"the run exited ({self.process.returncode}) before {what}:\n{self.stderr.read_text()}")
            if time.monotonic() - self.started > START_TIMEOUT_S:
                pytest.fail(f"no {what} {START_TIMEOUT_S} s after the start:\n{self.stderr.read_text()}")
            time.sleep(0.05)

    def finish(self, within_s: float = STOP_TIMEOUT_S) -> tuple[int, str, str]:
        """(exit status, stdout, stderr); fails the test if the job does not end within `within_s` seconds."""
        try:
            self.process.wait(within_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"the job still ran {within_s} s later:\n{self.stderr.read_text()[-4000:]}")
        return self.process.returncode, self.stdout.read_text(), self.stderr.read_text()

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# ---------------------------------------------------------------------------------------------------------------
# the averaged gradient, lockstep, non-finite skips


@requires_mpi
def test_averaged_gradient_is_the_union_minibatch_gradient_and_ranks_stay_identical(tmp_path: Path) -> None:
    run_case("gradient", tmp_path, timeout=START_TIMEOUT_S)
    rank0, rank1 = (np.load(tmp_path / f"rank{rank}.npz") for rank in range(RANKS))
    assert not np.array_equal(rank0["own_initial"], rank1["own_initial"]), "the ranks were seeded alike"
    np.testing.assert_array_equal(rank0["start"], rank0["own_initial"])
    np.testing.assert_array_equal(rank1["start"], rank0["start"])  # rank 0's weights, broadcast
    for model in ("a2c", "ppo2"):
        np.testing.assert_array_equal(rank0[f"{model}_averaged"], rank1[f"{model}_averaged"])
        np.testing.assert_allclose(rank0[f"{model}_averaged"], rank0[f"{model}_union"], rtol=1e-4, atol=1e-6)
    # five updates, the fourth with a NaN return on rank 1 only: both ranks skip that one step
    np.testing.assert_array_equal(rank0["skipped"], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(rank1["skipped"], rank0["skipped"])
    np.testing.assert_array_equal(rank0["before_nan"], rank0["after_nan"])
    for name in ("final", "optimizer"):
        np.testing.assert_array_equal(rank0[name], rank1[name])
    assert not np.array_equal(rank0["final"], rank0["start"])


def gradient_case(folder: Path) -> None:
    """Each rank's A2C and PPO2 minibatch gradients averaged over ranks, and the one-process gradients of their
    union; then PPO2 updates on each rank's own rollouts.

    PPO2 normalizes advantages over each rank's minibatch (as baselines does), which equals normalizing over the
    union when the ranks' advantages have the same mean and variance: here they are permutations of one vector.
    A2C's loss is a plain mean over the minibatch, so its check holds for any data."""
    import gymnasium
    import tensorflow as tf

    from baselines_tf2.a2c.model import A2CModel
    from baselines_tf2.common.mpi_util import world
    from baselines_tf2.nn.policies import PolicyWithValue
    from baselines_tf2.nn.tf_util import set_global_seeds
    from baselines_tf2.on_policy.learner import Minibatch, OnPolicyLearner
    from baselines_tf2.on_policy.runner import Rollout
    from baselines_tf2.ppo2.model import PPO2Model

    ranks = world()
    set_global_seeds(0, rank=ranks.rank)

    def new_policy() -> PolicyWithValue:
        return PolicyWithValue(gymnasium.spaces.Box(-5.0, 5.0, (4,), np.float32), gymnasium.spaces.Discrete(3),
                               "mlp", {"num_hidden": 16}, seed=ranks.rank)

    policy = new_policy()
    own_initial = flat([array for _, array in policy.get_weights()])
    model = PPO2Model(policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
    start = flat([array for _, array in policy.get_weights()])
    a2c = A2CModel(new_policy(), ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, alpha=0.99, epsilon=1e-5)

    def rollout_of(seed: int, size: int, advantages: np.ndarray | None = None) -> Rollout:
        rng = np.random.default_rng(seed)
        values = rng.normal(size=size).astype(np.float32)
        advantages = rng.normal(size=size) if advantages is None else rng.permutation(advantages)
        return Rollout(obs=rng.normal(size=(size, 4)).astype(np.float32),
                       returns=(values + advantages).astype(np.float32), masks=np.zeros(size, np.float32),
                       actions=rng.integers(0, 3, size), values=values,
                       neglogpacs=rng.uniform(0.9, 1.3, size).astype(np.float32), states=None, episodes=[])

    def minibatch(rollout: Rollout) -> Minibatch:
        return Minibatch(obs=tf.constant(rollout.obs), returns=tf.constant(rollout.returns),
                         masks=tf.constant(rollout.masks), actions=tf.constant(rollout.actions),
                         values=tf.constant(rollout.values), neglogpacs=tf.constant(rollout.neglogpacs),
                         states=tf.zeros([0, 0]))

    def averaged_and_union(learner: OnPolicyLearner, rollouts: list[Rollout]) -> tuple[np.ndarray, np.ndarray]:
        arrays = ("obs", "returns", "masks", "actions", "values", "neglogpacs")
        union = Rollout(**{name: np.concatenate([getattr(r, name) for r in rollouts]) for name in arrays},
                        states=None, episodes=[])
        local = learner.local_gradient(minibatch(rollouts[ranks.rank]))["gradient"].numpy()
        return ranks.sum(local) / np.float32(ranks.size), learner.local_gradient(minibatch(union))["gradient"].numpy()

    a2c_averaged, a2c_union = averaged_and_union(a2c, [rollout_of(200 + rank, 64) for rank in range(ranks.size)])
    shared_advantages = np.random.default_rng(99).normal(size=64)
    ppo2_averaged, ppo2_union = averaged_and_union(
        model, [rollout_of(100 + rank, 64, shared_advantages) for rank in range(ranks.size)])

    skipped, weights = [], {}
    shuffling = np.random.default_rng(ranks.rank)
    for update in range(5):
        rollout = rollout_of(1000 * ranks.rank + update, 64)
        if update == 3 and ranks.rank == 1:
            rollout.returns[5] = np.nan
        weights[update] = flat([array for _, array in policy.get_weights()])
        stats = model.update(rollout, lr=1e-3, noptepochs=1 if update == 3 else 2,
                             nminibatches=1 if update == 3 else 2, rng=shuffling)
        skipped.append(stats["nonfinite_skipped"])
    np.savez(folder / f"rank{ranks.rank}.npz", own_initial=own_initial, start=start, a2c_averaged=a2c_averaged,
             a2c_union=a2c_union, ppo2_averaged=ppo2_averaged, ppo2_union=ppo2_union, skipped=np.array(skipped),
             before_nan=weights[3], after_nan=weights[4],
             final=flat([array for _, array in policy.get_weights()]),
             optimizer=flat([array for _, array in model.optimizer_state()]))


def flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(array, np.float64).ravel() for array in arrays])


# ---------------------------------------------------------------------------------------------------------------
# learning: 2 ranks x 4 envs reach the 1-rank test's CartPole threshold with the same hyperparameters


@requires_mpi
@pytest.mark.slow
def test_two_rank_ppo2_solves_cartpole_like_one_rank(tmp_path: Path) -> None:
    # Seed 1: one seed's return at 100k steps misses this threshold one time in four or more for either rank count
    # (docs/distributed.md, 12 seeds: 9 one-rank and 7 two-rank runs reach it; seed 0 reaches 500 and 407).
    run_case("cartpole", tmp_path, timeout=900, extra=["1"])
    result = json.loads((tmp_path / "cartpole.json").read_text())
    rank0, rank1 = (np.load(tmp_path / f"cartpole{rank}.npz")["weights"] for rank in range(RANKS))
    np.testing.assert_array_equal(rank0, rank1)
    assert result["timesteps"] == 100_000 // 256 * 256
    assert result["mean_return"] >= 475.0  # test_learning.py::test_ppo2_mlp_solves_cartpole_within_200k_steps


def cartpole_case(folder: Path, seed: str = "0") -> None:
    """test_learning.py's CartPole PPO2 run with its 8 envs split over the ranks (same batch of 256 steps); rank 0
    writes the mean return of 100 episodes and the training speed to cartpole.json (docs/distributed.md's table)."""
    import gymnasium

    from baselines_tf2.bench import Monitor
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.common.mpi_util import world
    from baselines_tf2.common.schedules import FractionLinear
    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.ppo2 import ppo2
    from baselines_tf2.tools.play import play_policy

    ranks = world()
    env = make_vec_env("CartPole-v1", "classic_control", 8 // ranks.size, seed=int(seed), vec_env_kind="dummy")
    started = time.perf_counter()
    model = ppo2.learn(network="mlp", env=env, total_timesteps=100_000, seed=int(seed), nsteps=32, nminibatches=1,
                       noptepochs=20, lr=FractionLinear(1e-3), cliprange=FractionLinear(0.2), lam=0.8, gamma=0.98)
    seconds = time.perf_counter() - started
    np.savez(folder / f"cartpole{ranks.rank}.npz", weights=flat([array for _, array in model.policy.get_weights()]))
    if ranks.rank == 0:
        evaluation = DummyVecEnv([lambda: Monitor(gymnasium.make("CartPole-v1"), None)] * 10)
        evaluation.seed(1000)
        mean_return = float(np.mean(play_policy(model.policy, evaluation, 100)))
        (folder / "cartpole.json").write_text(json.dumps({
            "ranks": ranks.size, "seed": int(seed), "mean_return": mean_return, "timesteps": model.timesteps,
            "steps_per_s": model.timesteps / seconds}))


# ---------------------------------------------------------------------------------------------------------------
# the CLI: only rank 0 writes, a signal stops both ranks, the checkpoint resumes on one rank


@requires_mpi
def test_cli_two_ranks_stop_together_on_sigterm_and_resume_on_one_rank(tmp_path: Path) -> None:
    updates = 40
    log_dir = tmp_path / "run"
    with Launch(RANKS, cli_args(log_dir, updates * NBATCH), tmp_path / "two") as job:
        job.wait_for(lambda: logged_rows(log_dir) >= 3, "three logged updates")
        job.process.send_signal(signal.SIGTERM)  # mpiexec passes it on to every rank
        status, stdout, stderr = job.finish()
    assert status == 128 + signal.SIGTERM, stderr[-4000:]
    assert f"resume with --load_path={log_dir}" in stdout
    state = read_metadata(log_dir)["training"]
    stopped_at = state["update"]
    assert 3 <= stopped_at < updates and state["nbatch"] == NBATCH
    written = sorted(path.name for path in log_dir.iterdir())
    assert written == ["0.0.monitor.csv", "0.1.monitor.csv", "1.0.monitor.csv", "1.1.monitor.csv", "checkpoints",
                       "progress.csv", "tb"], "only rank 0 logs and checkpoints; every rank's envs keep monitor files"
    first = (log_dir / "progress.csv").read_text().splitlines()
    header = first[0].split(",")
    assert int(float(first[1].split(",")[header.index("misc/total_timesteps")])) == NBATCH

    resumed = run_to_end([*RUN, *cli_args(tmp_path / "one", updates * NBATCH, f"--load_path={log_dir}")],
                         tmp_path, timeout=START_TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    one_rank_batch = NBATCH // RANKS
    assert (f"at update {2 * stopped_at}/{2 * updates} (its batch was {NBATCH} steps, this run's is "
            f"{one_rank_batch}" in resumed.stdout), resumed.stdout[-3000:]
    rows = (tmp_path / "one" / "progress.csv").read_text().splitlines()
    column = rows[0].split(",").index("misc/total_timesteps")
    assert int(float(rows[1].split(",")[column])) == (2 * stopped_at + 1) * one_rank_batch
    assert read_metadata(tmp_path / "one" / "model")["timesteps"] == updates * NBATCH


# ---------------------------------------------------------------------------------------------------------------
# faults: a killed rank, a rank whose env dies, a rank that raises


@requires_mpi
def test_a_killed_rank_ends_the_job_with_an_error(tmp_path: Path) -> None:
    log_dir = tmp_path / "run"
    with Launch(RANKS, cli_args(log_dir, 10_000 * NBATCH), tmp_path) as job:
        job.wait_for(lambda: logged_rows(log_dir) >= 2, "two logged updates")
        ranks = [rank_process(job.process.pid, rank) for rank in range(RANKS)]
        os.kill(ranks[1], signal.SIGKILL)
        killed_at = time.monotonic()
        status, stdout, _stderr = job.finish()
    assert status != 0
    assert time.monotonic() - killed_at < STOP_TIMEOUT_S
    assert re.search(r"BAD TERMINATION.*Killed \(signal 9\)", stdout, re.S), stdout[-3000:]  # mpiexec's report
    assert gone(ranks[0]), "rank 0 outlived the job"


@requires_mpi
def test_an_env_fault_on_one_rank_stops_every_rank_after_a_checkpoint(tmp_path: Path) -> None:
    log_dir = tmp_path / "run"
    with Launch(RANKS, cli_args(log_dir, 10_000 * NBATCH), tmp_path) as job:
        job.wait_for(lambda: logged_rows(log_dir) >= 2, "two logged updates")
        workers = env_workers(rank_process(job.process.pid, 1))
        assert workers, "rank 1 has no env worker processes"
        os.kill(workers[0], signal.SIGKILL)
        status, _stdout, stderr = job.finish()
    assert status == 1, stderr[-4000:]
    assert re.search(r"error: rank 1: .*worker \d+ .*died unexpectedly", stderr), stderr[-3000:]
    assert "error: rank 0: the envs of MPI rank(s) [1] failed" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr and "BAD TERMINATION" not in stderr, stderr[-3000:]
    metadata, _groups = load_checkpoint(log_dir)  # written by rank 0 after the fault
    assert metadata["training"]["update"] >= 2 and metadata["timesteps"] == metadata["training"]["update"] * NBATCH
    assert not (log_dir / "model").exists()


@requires_mpi
def test_a_rank_that_raises_alone_ends_the_job_instead_of_hanging(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_to_end(mpiexec(RANKS, sys.executable, __file__, "raise", str(tmp_path)), tmp_path, STOP_TIMEOUT_S)
    assert result.returncode == 1
    assert time.monotonic() - started < STOP_TIMEOUT_S
    assert "RuntimeError: rank 1 fails on its own" in result.stderr
    assert "rank 1 of 2 failed: stopping every rank (MPI_Abort, status 1)" in result.stderr


def raise_case(folder: Path) -> None:
    from baselines_tf2.common.mpi_util import abort_on_failure, world

    with abort_on_failure():
        ranks = world()
        ranks.gather(0)
        if ranks.rank == 1:
            raise RuntimeError("rank 1 fails on its own")
        ranks.gather(0)  # rank 0 waits here for a rank that is gone
    (folder / "rank0_returned").write_text("the collective returned without its peer")


@requires_mpi
def test_ranks_share_rank_0s_default_run_folder_when_they_reach_it_seconds_apart(tmp_path: Path) -> None:
    run_case("run_folder", tmp_path, START_TIMEOUT_S)
    folders = {(tmp_path / f"rank{rank}").read_text() for rank in range(RANKS)}
    assert len(folders) == 1, folders


def run_folder_case(folder: Path) -> None:
    from baselines_tf2.common.cmd_util import common_arg_parser
    from baselines_tf2.common.mpi_util import world
    from baselines_tf2.run import run_folder

    ranks = world()
    if ranks.rank == 1:
        time.sleep(1.5)  # the default folder is stamped to the second
    os.environ.pop("OPENAI_LOGDIR", None)
    run_dir, _ = run_folder(common_arg_parser().parse_args(["--alg=ppo2", "--env=CartPole-v1"]))
    (folder / f"rank{ranks.rank}").write_text(run_dir)


# ---------------------------------------------------------------------------------------------------------------
# resuming with another batch (another number of ranks), in one process


@pytest.mark.parametrize("saved_nbatch, saved_update, nbatch, update", [
    (64, 7, 128, 3),  # 1 rank -> 2 ranks: the 2-rank update that has done at most the saved steps
    (128, 3, 64, 6),  # 2 ranks -> 1 rank
    (64, 7, 64, 7),  # same batch: the same update
])
def test_resume_with_another_batch_continues_at_the_same_step_count(
    saved_nbatch: int, saved_update: int, nbatch: int, update: int, tmp_path: Path
) -> None:
    import gymnasium

    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.nn.policies import PolicyWithValue
    from baselines_tf2.on_policy.loop import LogKeys, OnPolicyIteration
    from baselines_tf2.ppo2.model import PPO2Model
    from baselines_tf2.ppo2.ppo2 import PPO2Config
    from baselines_tf2.training.run import RunOptions, TrainingRun

    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    policy = PolicyWithValue(env.observation_space, env.action_space, "mlp", {"num_hidden": 8})
    model = PPO2Model(policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)
    rng_state = np.random.default_rng(5).bit_generator.state
    model.timesteps = 100 + saved_update * saved_nbatch  # 100 steps trained before the saved run began
    checkpoint = str(tmp_path / "checkpoint")
    model.save(checkpoint, {"training": {"total_timesteps": 1280, "nbatch": saved_nbatch, "update": saved_update,
                                         "rng": rng_state}})
    iteration = OnPolicyIteration(model, PPO2Config(nsteps=nbatch, nminibatches=1), env=env, eval_env=None,
                                  log_keys=LogKeys(), before_update=None)
    run = TrainingRun(model, env, RunOptions(total_timesteps=1280), nbatch)
    run.resume(iteration, checkpoint)
    assert run.iteration == update
    assert run.rng.bit_generator.state == rng_state
    run.iteration = run.total_iterations  # the rest of the run: the step count is what was trained, not the schedule's
    assert run.timesteps_before + run.timesteps == model.timesteps + (run.total_iterations - update) * nbatch
    env.close()


CASES = {"gradient": gradient_case, "cartpole": cartpole_case, "raise": raise_case, "run_folder": run_folder_case}

if __name__ == "__main__":  # python tests/test_mpi.py CASE FOLDER [ARGS], on each rank (or alone: one rank)
    CASES[sys.argv[1]](Path(sys.argv[2]), *sys.argv[3:])
