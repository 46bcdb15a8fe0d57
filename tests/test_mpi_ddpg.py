"""Data-parallel DDPG under `mpiexec -n 2` on localhost: the averaged gradient is the gradient of the ranks' batches
together, the ranks end with identical networks, targets, optimizer state and Pop-Art statistics, their observation
statistics are those of every rank's observations, and the CLI trains and writes one checkpoint.

This file is also the program the first test launches on every rank: `mpiexec -n 2 python tests/test_mpi_ddpg.py
train FOLDER`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_mpi import RANKS, RUN, START_TIMEOUT_S, flat, mpiexec, requires_mpi, run_to_end

from baselines_tf2.training.checkpoint import load_checkpoint, read_metadata

ROLLOUT_STEPS, ITERATIONS = 100, 2  # steps per rank (one env each) and iteration
TIMESTEPS = RANKS * ROLLOUT_STEPS * ITERATIONS
TRAIN_STEPS, BATCH_SIZE = 10, 32  # per iteration
TRAINING = [f"--nb_rollout_steps={ROLLOUT_STEPS}", "--nb_epoch_cycles=1", f"--nb_train_steps={TRAIN_STEPS}",
            f"--batch_size={BATCH_SIZE}", "--num_hidden=16"]


def learn_arguments() -> dict[str, Any]:
    """TRAINING as ddpg.learn's keyword arguments."""
    return {name.lstrip("-"): int(value) for name, value in (option.split("=") for option in TRAINING)}


@requires_mpi
def test_two_rank_ddpg_ranks_stay_identical_and_normalize_with_every_ranks_observations(tmp_path: Path) -> None:
    result = run_to_end(mpiexec(RANKS, sys.executable, __file__, "train", str(tmp_path)), tmp_path, START_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-4000:]
    rank0, rank1 = (np.load(tmp_path / f"rank{rank}.npz") for rank in range(RANKS))
    assert rank0["timesteps"] == rank1["timesteps"] == TIMESTEPS
    assert len(rank0["observations"]) == len(rank1["observations"]) == TIMESTEPS // RANKS
    assert not np.array_equal(rank0["observations"], rank1["observations"]), "the ranks' envs were seeded alike"
    # rank 0's start and the same averaged updates on every rank: networks, targets, optimizer state, return and
    # observation statistics and the adapted noise std agree
    for name in ("initial", "shared", "param_noise_stddev", "obs_mean", "obs_var", "obs_count"):
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    assert not np.array_equal(rank0["shared"], rank0["initial"]), "nothing was trained"
    # each rank explores with its own noise, also after loading rank 0's checkpoint
    for name in ("generator", "perturbed_actor", "generator_after_load", "perturbed_after_load"):
        assert not np.array_equal(rank0[name], rank1[name]), name
    np.testing.assert_array_equal(rank1["loaded"], rank0["shared"])
    np.testing.assert_array_equal(rank0["averaged"], rank1["averaged"])
    np.testing.assert_allclose(rank0["averaged"], rank0["union"], rtol=1e-4, atol=1e-6)
    return_count = rank0["ret_rms"][2]  # Pop-Art's statistics count every rank's targets
    assert return_count == pytest.approx(1e-4 + ITERATIONS * TRAIN_STEPS * BATCH_SIZE * RANKS)

    # RunningMeanStd's statistics (mean 0, var 1, count 1e-4 to start) of both ranks' observations together
    observations = np.concatenate([rank0["observations"], rank1["observations"]]).astype(np.float64)
    prior, count = 1e-4, len(observations)
    total = prior + count
    mean = observations.mean(axis=0)
    expected_var = (prior + count * observations.var(axis=0) + mean**2 * prior * count / total) / total
    np.testing.assert_allclose(rank0["obs_count"], total, rtol=1e-12)
    np.testing.assert_allclose(rank0["obs_mean"], count * mean / total, rtol=1e-10)
    np.testing.assert_allclose(rank0["obs_var"], expected_var, rtol=1e-10)


def train_case(folder: Path) -> None:
    """ddpg.learn on each rank's own Pendulum (adaptive parameter noise, observation normalization, Pop-Art), then
    each rank dumps its variables and the observations its normalizer saw; rank 0 saves a checkpoint that both ranks
    load. Then each rank's gradient of its own batch, averaged, and the gradient of both batches."""
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.common.mpi_util import world
    from baselines_tf2.ddpg import ddpg
    from baselines_tf2.ddpg.ddpg_learner import RANK_OWN_GROUPS

    ranks = world()
    env = make_vec_env("Pendulum-v1", "classic_control", 1, seed=0, vec_env_kind="dummy")  # seeded apart per rank
    memories = []
    initial: list[np.ndarray] = []

    def keep_memory(local_vars: dict[str, Any], _globals: dict[str, Any]) -> bool:
        if not memories:
            memories.append(local_vars["memory"])
            initial.append(shared_weights(local_vars["agent"]))
        return False

    def shared_weights(agent: Any) -> np.ndarray:
        return flat([variable.numpy() for name, variables in agent.variable_groups().items()
                     if name not in RANK_OWN_GROUPS for variable in variables])

    agent = ddpg.learn(network="mlp", env=env, seed=0, total_timesteps=TIMESTEPS, normalize_returns=True,
                       popart=True, callback=keep_memory, **learn_arguments())
    env.close()
    memory = memories[0]
    mean, var, count = (array for _, array in agent.normalizer.state())
    arrays = {"timesteps": agent.timesteps, "initial": initial[0], "shared": shared_weights(agent),
              "observations": memory.arrays["obs0"][:memory.nb_entries], "obs_mean": mean, "obs_var": var,
              "obs_count": count, "param_noise_stddev": agent.param_noise.current_stddev,
              "generator": agent.generator.state.numpy(), "perturbed_actor": perturbed(agent),
              "ret_rms": agent.return_moments.numpy()}
    checkpoint = folder / "checkpoint"
    if ranks.rank == 0:
        agent.save(str(checkpoint))
    ranks.gather(0)  # rank 1 reads the checkpoint once rank 0 has written it
    agent.load(str(checkpoint))
    arrays.update(loaded=shared_weights(agent), generator_after_load=agent.generator.state.numpy(),
                  perturbed_after_load=perturbed(agent))

    batch = memory.sample(BATCH_SIZE)  # from this rank's own memory
    union = {name: ranks.concatenate(values) for name, values in batch.items()}
    arrays["averaged"] = ranks.mean(agent._local_gradients(batch).numpy())
    arrays["union"] = agent._local_gradients(union).numpy()
    np.savez(folder / f"rank{ranks.rank}.npz", **arrays)


def perturbed(agent: Any) -> np.ndarray:
    return flat([variable.numpy() for variable in agent.perturbed_actor.weights])


@requires_mpi
def test_cli_trains_ddpg_on_two_ranks_and_rank_0_writes_one_checkpoint(tmp_path: Path) -> None:
    log_dir = tmp_path / "run"
    argv = [*RUN, "--alg=ddpg", "--env=Pendulum-v1", f"--num_timesteps={TIMESTEPS}", "--seed=0", *TRAINING,
            f"--log_path={log_dir}"]
    result = run_to_end(mpiexec(RANKS, *argv), tmp_path, START_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-4000:]
    assert sorted(path.name for path in (log_dir / "checkpoints").iterdir()) == [f"{ITERATIONS:05d}", "latest"]
    metadata, groups = load_checkpoint(str(log_dir))
    assert metadata["alg"] == "ddpg" and metadata["timesteps"] == TIMESTEPS
    assert metadata["training"]["nbatch"] == RANKS * ROLLOUT_STEPS
    assert float(groups["obs_rms"][2]) == pytest.approx(1e-4 + TIMESTEPS)  # counts both ranks' observations
    assert read_metadata(log_dir / "model")["timesteps"] == TIMESTEPS
    assert sorted(path.name for path in log_dir.glob("*.monitor.csv")) == ["0.0.monitor.csv", "1.0.monitor.csv"]


CASES = {"train": train_case}

if __name__ == "__main__":  # python tests/test_mpi_ddpg.py CASE FOLDER, on each rank
    CASES[sys.argv[1]](Path(sys.argv[2]))
