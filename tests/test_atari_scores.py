"""benchmarks/atari_scores.py, the resumable Atari scores harness: a run stopped with SIGTERM and started again by
the harness continues the same curve (real CLI, real Atari game); the score, curve and report from monitor files."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import atari_scores  # noqa: E402
import run_table  # noqa: E402

# A tiny PPO2 run on Breakout (short games, so the monitor files fill quickly): 2 envs x 32 steps per update.
NUM_ENV, NSTEPS = 2, 32
NBATCH = NUM_ENV * NSTEPS
TIMESTEPS = NBATCH * 30
EXTRA = f"--num_env={NUM_ENV} --nsteps={NSTEPS} --nminibatches=2 --precision=float32"
ENV_ID = "BreakoutNoFrameskip-v4"


def harness(tmp_path: Path) -> list[str]:
    return [sys.executable, str(BENCHMARKS / "atari_scores.py"), "--runs", f"ppo2:{ENV_ID}:{TIMESTEPS}",
            "--seeds", "0", "--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
            "--extra_args", EXTRA, "--no_docs"]


def games_written(run_dir: Path) -> int:
    try:
        return len(run_table.monitor_rows(run_dir))
    except (OSError, ValueError, KeyError, csv.Error):
        return 0


def progress_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "progress.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_sigterm_then_restart_continues_the_same_curve(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "ppo2" / ENV_ID / "seed0"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    first = subprocess.Popen(harness(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 240
    try:
        while games_written(run_dir) < 2:  # training is under way (its stop handler is installed)
            if first.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the run ended or stalled before 2 games: {first.stderr.read() if first.stderr else ''}")
            time.sleep(0.2)
        first.send_signal(signal.SIGTERM)  # to the harness only: it passes the signal on to the training
        first.wait(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 128 + signal.SIGTERM
    stopped_at = run_table.checkpoint_step(run_dir)
    assert 0 < stopped_at < TIMESTEPS, "the training wrote its checkpoint at the stop, part-way"
    games_before = run_table.monitor_rows(run_dir)
    run = atari_scores.Run(atari_scores.CONFIGS["ppo2"], ENV_ID, 0, TIMESTEPS)
    assert not run.summary_file(tmp_path / "results").exists(), "an unfinished run has no summary"
    record = json.loads(run.progress_file(tmp_path / "results").read_text())  # but its curve so far is kept
    assert not record["finished"] and record["steps_done"] == stopped_at and record["games"] == len(games_before)

    second = subprocess.run(harness(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "remaining work" in second.stderr
    assert f"--load_path={run_dir}" in second.stderr, "the harness resumed the run folder"
    assert "resuming" in (run_dir / "train.log").read_text(), "the CLI continued the checkpoint's run"

    # The finished run: all the target steps, in two pieces, the second from the stop's checkpoint.
    assert run_table.checkpoint_step(run_dir) == TIMESTEPS
    (piece,) = run_table.pieces(run_dir)
    assert piece["from_step"] == stopped_at
    assert int(float(progress_rows(run_dir)[-1]["misc/total_timesteps"])) == TIMESTEPS

    # The curve goes on: games of the first piece are kept, and the games after the restart are counted from the
    # checkpoint's step on, never from 0. (The monitor also counts the FIRE and no-op steps the reset wrappers take
    # after each lost life, so the count runs a few steps per life ahead of the agent's steps.)
    games_after = run_table.monitor_rows(run_dir)
    assert games_after[: len(games_before)] == games_before
    assert len(games_after) > len(games_before)
    steps = run_table.episodes(run_dir, 1, run_table.pieces(run_dir))
    restarted = [(step, length) for (end, length, _), (step, _) in zip(games_after, steps) if end >= piece["started"]]
    assert restarted[0][0] == stopped_at + restarted[0][1]
    assert [step for step, _ in restarted] == sorted(step for step, _ in restarted)
    # the last counted game ends at most one game per env short of the target (the games in progress at the end are
    # not recorded), and runs at most the reset wrappers' steps ahead of it
    longest_game = max(length for _, length, _ in games_after)
    assert TIMESTEPS - NUM_ENV * longest_game <= steps[-1][0] <= TIMESTEPS * 1.15

    (summary_file,) = (tmp_path / "results").iterdir()  # the record went with the run's end
    summary = json.loads(summary_file.read_text())
    assert summary["finished"] and summary["steps_done"] == TIMESTEPS and summary["pieces"] == 2
    assert summary["games"] == len(games_after)
    assert summary["wall_s"] > 0
    assert summary["last100_mean"] == pytest.approx(sum(score for _, score in steps[-100:]) / len(steps[-100:]))
    assert summary["command"][summary["command"].index("-m") + 1:][:4] == [
        "baselines_tf2.run", "--alg=ppo2", f"--env={ENV_ID}", f"--num_timesteps={TIMESTEPS}"]

    # A third start trains nothing: the summary is there.
    third = subprocess.run(harness(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "baselines_tf2.run" not in third.stderr


def write_monitor(path: Path, t_start: float, rows: list[tuple[float, int, float]]) -> None:
    """A monitor file: header, then (score, length, seconds since t_start) rows."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#" + json.dumps({"t_start": t_start, "env_id": ENV_ID}) + "\nr,l,t\n")
        handle.writelines(f"{score},{length},{t}\n" for score, length, t in rows)


def test_curve_counts_steps_across_a_resume_and_the_report_renders(tmp_path: Path, monkeypatch) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # env 0 and env 1: games of 100 steps; the run stopped at step 450 and resumed at t = 1000 + 50.
    write_monitor(run_dir / "0.0.monitor.csv", 1000.0, [(1.0, 100, 10.0), (2.0, 100, 30.0), (5.0, 100, 60.0)])
    write_monitor(run_dir / "0.1.monitor.csv", 1000.5, [(3.0, 100, 19.5), (4.0, 100, 39.5)])
    (run_dir / run_table.PIECES_FILE).write_text(json.dumps([{"started": 1050.0, "from_step": 450}]))
    games = run_table.episodes(run_dir, 1, run_table.pieces(run_dir))
    # by end time: 1010 (env 0), 1020 (env 1), 1030 (env 0), 1040 (env 1): 100, 200, 300, 400 steps; the resume at
    # 1050 sets the count to 450 (the games in progress at the stop were lost), so the game ending at 1060 is at 550.
    assert games == [(100, 1.0), (200, 3.0), (300, 2.0), (400, 4.0), (550, 5.0)]
    assert run_table.episodes(run_dir, 1)[-1] == (500, 5.0)  # without the resume record the count falls behind

    assert atari_scores.last_mean(games) == pytest.approx(3.0)
    assert atari_scores.last_mean(games, upto=250) == pytest.approx(2.0)
    curve = atari_scores.last_mean_curve(games, 1000)
    assert len(curve) == atari_scores.CURVE_POINTS
    assert curve[0] is None and curve[4] == pytest.approx(1.0) and curve[-1] == pytest.approx(3.0)
    unfinished = atari_scores.last_mean_curve(games, 1000, reached=550)  # an unfinished run stops where it is
    assert unfinished[:27] == curve[:27] and unfinished[27:] == [None] * (atari_scores.CURVE_POINTS - 27)

    many = [(float(step), float(step % 7)) for step in range(1, 301)]
    assert atari_scores.last_mean(many) == pytest.approx(sum(score for _, score in many[-100:]) / 100)

    finished = {"config": "ppo2", "env": "PongNoFrameskip-v4", "seed": 0, "timesteps": 10_000_000,
                "steps_done": 10_000_000, "finished": True, "wall_s": 7200.0, "last100_mean": 20.0,
                "curve": [None, *[float(i) for i in range(49)]], "code": "abc1234"}
    running = {**finished, "seed": 1, "steps_done": 2_500_000, "finished": False, "last100_mean": 10.0,
               "curve": [None, 1.0, *[None] * 48], "code": None}
    text = atari_scores.report([finished, running], "python benchmarks/atari_scores.py", ["Pong"])
    row = next(line for line in text.splitlines() if line.startswith("| Pong | ppo2 |"))
    assert "| 10M | 2 | 15.0 ± 5.0 (unfinished: seed 1 at 2.5M) |" in row
    assert "20.36 (CleanRL ppo_atari.py)" in row and "13.68 (baselines Atari10M table (commit 7bfbcf1))" in row
    assert "| 2.0 | abc1234 |" in row
    assert "18.9" not in row, "DQN's points are not PPO's reference"
    assert "img/scores_Pong_ppo2.png" in text and "https://docs.cleanrl.dev/rl-algorithms/ppo/#ppo_ataripy" in text

    monkeypatch.setattr(atari_scores, "IMG_DIR", tmp_path / "img")
    peer = {**finished, "config": "sb3_dqn", "timesteps": 1_000_000, "steps_done": 1_000_000}
    ours, theirs = atari_scores.plot([finished, running, peer])  # a figure per algorithm family: PPO's, DQN's
    assert ours == tmp_path / "img" / "scores_Pong_ppo2.png" and ours.stat().st_size > 0
    assert theirs == tmp_path / "img" / "scores_Pong_deepq.png" and theirs.stat().st_size > 0

    docs = tmp_path / "scores.md"
    docs.write_text(f"# Scores\n\nintro\n\n{atari_scores.MARKS[0]}\nold\n{atari_scores.MARKS[1]}\n\nprotocol\n")
    run_table.write_docs_section(docs, atari_scores.MARKS, "new table", "Scores")
    assert docs.read_text() == (f"# Scores\n\nintro\n\n{atari_scores.MARKS[0]}\nnew table\n{atari_scores.MARKS[1]}"
                                "\n\nprotocol\n")


def test_configs_carry_their_exact_command_lines(tmp_path: Path) -> None:
    run = atari_scores.Run(atari_scores.CONFIGS["ppo2"], "PongNoFrameskip-v4", 0, 3_000_000)
    run_dir = tmp_path / "ppo2" / "PongNoFrameskip-v4" / "seed0"
    # the hand-started milestone run, which the harness adopts: the same command plus --load_path
    assert atari_scores.command_for(run, run_dir, resume=True)[1:] == [
        "-m", "baselines_tf2.run", "--alg=ppo2", "--env=PongNoFrameskip-v4", "--num_timesteps=3000000",
        "--num_env=8", "--seed=0", f"--log_path={run_dir}", f"--load_path={run_dir}"]
    sb3like = atari_scores.CONFIGS["deepq_sb3like"].args
    assert {"--dueling=False", "--double_q=False", "--prioritized_replay=False", "--learning_starts=100000",
            "--buffer_size=100000", "--target_network_update_freq=1000"} <= set(sb3like)
    peer = atari_scores.command_for(atari_scores.Run(atari_scores.CONFIGS["sb3_dqn"], "PongNoFrameskip-v4", 1,
                                                     1_000_000), run_dir, peer_python="peer-python")
    assert peer[2:] == ["dqn_learning", "--env", "PongNoFrameskip-v4", "--timesteps", "1000000", "--seed", "1",
                        "--monitor_dir", str(run_dir), *atari_scores.CONFIGS["sb3_dqn"].args]
    assert "--learning_starts" in peer and peer[peer.index("--learning_starts") + 1] == "100000"


def test_a_hand_started_run_is_found_by_its_log_path_from_its_working_directory(tmp_path: Path) -> None:
    """The harness waits while another process trains a run folder (given relative to that process's cwd)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "--log_path=runs/seed0"],
                               cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not run_table.training_pids(tmp_path / "runs" / "seed0") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run_table.training_pids(tmp_path / "runs" / "seed0") == [process.pid]
        assert run_table.training_pids(tmp_path / "runs" / "seed1") == []
    finally:
        process.kill()
        process.wait()


def test_rows_of_one_config_and_game_with_other_steps_share_the_folder_only_when_it_is_theirs(
        tmp_path: Path, monkeypatch) -> None:
    out, results = tmp_path / "runs", tmp_path / "results"
    short, long = (atari_scores.Run(atari_scores.CONFIGS["ppo2"], ENV_ID, 0, steps) for steps in (3_000, 10_000))
    run_dir = long.folder(out)
    run_dir.mkdir(parents=True)
    write_monitor(run_dir / "0.0.monitor.csv", 1000.0, [(1.0, 100, 10.0), (2.0, 100, 30.0)])
    # the folder holds the 10,000-step run, checkpointed after update 2 of 100 steps (a checkpoint's training state)
    monkeypatch.setattr(run_table, "checkpoint_state",
                        lambda folder: {"total_timesteps": 10_000, "update": 2, "nbatch": 100})
    harness = run_table.Harness(atari_scores.TAG, out, results, atari_scores.command_for, atari_scores.run_status,
                                shows=lambda status: status["games"] > 0, peer_outputs=(),
                                prepare_ours=lambda folder: None)
    (shown,) = harness.summaries([short, long])  # the 3,000-step row has no summary and the folder is not its own
    assert shown["timesteps"] == 10_000 and shown["steps_done"] == 200 and shown["games"] == 2
    assert not shown["finished"]
    with pytest.raises(SystemExit, match="holds a run of 10000 steps, not 3000"):
        harness.train(short, None)

    parser = atari_scores.argparse.ArgumentParser()
    assert len(atari_scores.parse_runs(parser, [f"ppo2:{ENV_ID}:3000", f"ppo2:{ENV_ID}:10000"], [0])) == 2
    with pytest.raises(SystemExit):
        atari_scores.parse_runs(parser, [f"ppo2:{ENV_ID}:3000", f"ppo2:{ENV_ID}:3000"], [0])


def test_a_peer_run_goes_on_from_its_saved_state_and_one_without_starts_again(tmp_path: Path) -> None:
    out, results = tmp_path / "runs", tmp_path / "results"
    peer = atari_scores.Run(atari_scores.CONFIGS["sb3_dqn"], "PongNoFrameskip-v4", 0, 1_000)
    run_dir = peer.folder(out)
    run_dir.mkdir(parents=True)
    commands: list[list[str]] = []

    def command(run, folder, peer_python, resume) -> list[str]:  # a peer piece that ends at once, as SB3's would
        commands.append([str(folder), str(resume)])
        return [sys.executable, "-c", "print('{\"value\": 1.0, \"timesteps\": 1000}')"]

    harness = run_table.Harness(atari_scores.TAG, out, results, command, atari_scores.run_status,
                                shows=lambda status: status["games"] > 0,
                                peer_outputs=("*monitor.csv", "peer_model-*", "peer_replay-*"),
                                prepare_ours=lambda folder: None)
    # stopped at step 500 with its state saved: the first piece's games (in frames, 4 per step) stay
    write_monitor(run_dir / "0.monitor.csv", 1000.0, [(-21.0, 800, 10.0), (-20.0, 800, 20.0)])
    (run_dir / "peer_model-500.zip").write_bytes(b"model")
    (run_dir / "peer_checkpoint.json").write_text(json.dumps(
        {"num_timesteps": 500, "total_timesteps": 1_000, "pieces": 1}))
    assert "500 steps left" in harness.remaining_work([peer])
    harness.train(peer, "peer-python")
    assert (run_dir / "0.monitor.csv").exists() and (run_dir / "peer_model-500.zip").exists()
    assert [piece["from_step"] for piece in run_table.pieces(run_dir)] == [500]
    assert json.loads((run_dir / run_table.PEER_RESULT).read_text())["peer"] == {"value": 1.0, "timesteps": 1000}
    assert atari_scores.run_status(peer, run_dir)["finished"]
    harness.train(peer, "peer-python")  # finished (its summary not yet kept): nothing is trained again
    assert len(commands) == 1

    # a finished run of fewer steps in the folder is not this run's end
    longer = atari_scores.Run(peer.config, peer.env_id, 0, 2_000)
    assert not atari_scores.run_status(longer, run_dir)["finished"]

    # stopped before its first save: what it wrote goes, and it starts again
    (run_dir / "peer_checkpoint.json").unlink()
    (run_dir / run_table.PEER_RESULT).unlink()
    harness.train(peer, "peer-python")
    assert not list(run_dir.glob("*monitor.csv")) and not (run_dir / "peer_model-500.zip").exists()
    assert run_table.pieces(run_dir) == []

    # a saved state of a run of other steps is refused, not wiped
    (run_dir / "peer_checkpoint.json").write_text(json.dumps(
        {"num_timesteps": 500, "total_timesteps": 2_000, "pieces": 1}))
    with pytest.raises(SystemExit, match="holds a run of 2000 steps, not 1000"):
        harness.train(peer, "peer-python")
    assert (run_dir / "peer_checkpoint.json").exists() and len(commands) == 2
    assert " 1,000 steps left" in harness.remaining_work([peer])  # the other run's saved step is not this one's


def test_an_unfinished_runs_progress_is_recorded_and_outlives_its_folder(tmp_path: Path, monkeypatch) -> None:
    """Run folders are not committed and a machine may lose them: the furthest status of an unfinished run is kept
    in the results folder, shown when the folder is gone, replaced by a run that gets further, and dropped when the
    run finishes."""
    out, results = tmp_path / "runs", tmp_path / "results"
    run = atari_scores.Run(atari_scores.CONFIGS["ppo2"], ENV_ID, 0, 10_000)
    run_dir = run.folder(out)
    run_dir.mkdir(parents=True)
    write_monitor(run_dir / "0.0.monitor.csv", 1000.0, [(1.0, 100, 10.0), (3.0, 100, 30.0)])
    steps = {"update": 3}
    monkeypatch.setattr(run_table, "checkpoint_state",
                        lambda folder: {"total_timesteps": 10_000, "update": steps["update"], "nbatch": 100}
                        if folder.is_dir() else None)
    harness = run_table.Harness(atari_scores.TAG, out, results, atari_scores.command_for, atari_scores.run_status,
                                shows=lambda status: status["games"] > 0, peer_outputs=(),
                                prepare_ours=lambda folder: None)
    record = run.progress_file(results)
    (shown,) = harness.summaries([run])
    assert shown["steps_done"] == 300 and not shown.get("recorded")
    assert json.loads(record.read_text())["steps_done"] == 300
    record.write_text(json.dumps({**json.loads(record.read_text()), "code": "abc1234"}))  # the commit that ran it
    (shown,) = harness.summaries([run])  # a report with the folder no further keeps that commit
    assert shown["code"] == "abc1234" and json.loads(record.read_text())["code"] == "abc1234"
    assert "at 0.3k" in atari_scores.report([shown], "cmd", ["Breakout"])

    for path in sorted(run_dir.rglob("*"), reverse=True):  # the machine lost the run folder
        path.unlink() if path.is_file() else path.rmdir()
    run_dir.rmdir()
    (shown,) = harness.summaries([run])
    assert shown["recorded"] and shown["steps_done"] == 300 and shown["last100_mean"] == pytest.approx(2.0)
    text = atari_scores.report([shown], "cmd", ["Breakout"])
    assert "(unfinished: seed 0 at 0.3k; recorded, its run folder is not here)" in text

    run_dir.mkdir(parents=True)  # started again from scratch: the record stays until the new run gets further
    write_monitor(run_dir / "0.0.monitor.csv", 2000.0, [(0.0, 100, 10.0)])
    steps["update"] = 1
    (shown,) = harness.summaries([run])
    assert shown["recorded"] and shown["steps_done"] == 300
    steps["update"] = 5
    (shown,) = harness.summaries([run])
    assert not shown.get("recorded") and json.loads(record.read_text())["steps_done"] == 500

    steps["update"] = 100  # finished: the summary replaces the record
    harness.finish(run)
    assert run.summary_file(results).exists() and not record.exists()
    (shown,) = harness.summaries([run])
    assert shown["finished"]


def test_each_piece_records_its_machine_and_the_estimate_uses_this_machines_speed(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """Runs resumed across sessions may run on machine types up to 4x apart: each piece adds its wall time and
    steps to its CPU model's totals, the estimate of the remaining work uses this machine's speed where it has
    one, the report names the machines, and a run started again from scratch drops the record."""
    out, results = tmp_path / "runs", tmp_path / "results"
    run = atari_scores.Run(atari_scores.CONFIGS["ppo2"], ENV_ID, 0, 100_000)
    run_dir = run.folder(out)
    steps_at = iter([None, 300, 300, 400])  # the folder's step before and after each of two pieces
    monkeypatch.setattr(run_table, "resume_step", lambda folder: next(steps_at))
    for model in ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "AMD EPYC"):
        monkeypatch.setattr(run_table, "cpu_model", lambda model=model: model)
        assert run_table.run_piece([sys.executable, "-c", "pass"], run_dir, "test") == 0
    record = run_table.machines(run_dir)
    assert {model: totals["steps"] for model, totals in record.items()} == {
        "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz": 300, "AMD EPYC": 100}
    assert sum(totals["wall_s"] for totals in record.values()) == pytest.approx(run_table.wall_seconds(run_dir))

    # 60k steps in 100 s on the Xeon, 15k in 100 s on the EPYC; the folder is at 75k of 100k steps
    (run_dir / run_table.MACHINES_FILE).write_text(json.dumps({
        "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz": {"wall_s": 100.0, "steps": 60_000},
        "AMD EPYC": {"wall_s": 100.0, "steps": 15_000}}))
    (run_dir / run_table.WALL_FILE).write_text("200.0\n")
    write_monitor(run_dir / "0.0.monitor.csv", 1000.0, [(1.0, 100, 10.0)])
    monkeypatch.setattr(run_table, "resume_step", lambda folder: 75_000)
    monkeypatch.setattr(atari_scores, "checkpoint_step", lambda folder: 75_000)
    harness = run_table.Harness(atari_scores.TAG, out, results, atari_scores.command_for, atari_scores.run_status,
                                shows=lambda status: status["games"] > 0, peer_outputs=(),
                                prepare_ours=lambda folder: None)
    assert harness.rates([run]) == {"ppo2": pytest.approx(150.0)}  # on the EPYC: its own speed
    assert "25,000 steps left at 150 steps/s" in harness.remaining_work([run])
    monkeypatch.setattr(run_table, "cpu_model", lambda: "a machine that has not run it")
    assert harness.rates([run]) == {"ppo2": pytest.approx(375.0)}  # elsewhere: over all pieces

    (status,) = harness.summaries([run])
    text = atari_scores.report([status], "cmd", ["Breakout"])
    assert "| 0.1 (on AMD EPYC, Intel Xeon Platinum 8481C) |" in text

    harness.restart_peer(run_dir)  # nothing to resume from: its piece records go with what it wrote
    assert run_table.machines(run_dir) == {} and run_table.wall_seconds(run_dir) == 0.0


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse avx2 avx512f avx512_bf16", "AMD EPYC [AVX-512]"),
    ("fpu sse avx2", "AMD EPYC [AVX2]"),
    ("fpu sse avx2 avx512f amx_bf16 amx_tile", "AMD EPYC [AMX]"),
    ("fpu sse", "AMD EPYC"),
])
def test_the_machine_of_a_piece_is_named_with_its_widest_vector_unit(tmp_path: Path, flags: str,
                                                                     expected: str) -> None:
    """Two VMs both named 'AMD EPYC' ran the same DQN updates 3x apart: their pieces are told apart by the vector
    unit, the first processor's entry counting."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n\n"
                       "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu amx_bf16\n")
    assert run_table.cpu_model(cpuinfo) == expected
    assert run_table.cpu_model(tmp_path / "missing") not in ("", expected)
    assert run_table.short_cpu(expected) == expected  # the tables keep the unit
    xeon = "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz [AMX]"
    assert run_table.short_cpu(xeon) == "Intel Xeon Platinum 8481C [AMX]"
