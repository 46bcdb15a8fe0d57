"""Review of deepq and the user-facing tools (session 22).

- evaluate's --json never replaces a checkpoint, and a folder given there is a usage error before any episode is
  played (it was a traceback after all of them).
- export refuses, as usage errors, a destination folder it cannot write in (a traceback), tolerances that cannot hold
  (a misleading "does not match") and a --force destination that is, or holds, the checkpoint it reads (deleted).
- play.py refuses a video path it cannot write before playing (a traceback after every episode).
- deepq.learn refuses an eval_env whose spaces differ from env's, an eval_freq without an eval_env, a callback that
  cannot be called and a best-model folder that is a file, before anything trains (a TensorFlow graph error at the
  first evaluation; silently no evaluation; a TypeError at the first step; a warning at every checkpoint).
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import gymnasium
import pytest

from baselines_tf2.common.validation import ArgumentError

REPO = Path(__file__).resolve().parents[1]
TINY = dict(num_hidden=8, num_layers=1, hiddens=[8])


@pytest.fixture(scope="module")
def deepq_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained deepq act for CartPole-v1 made by make_vec_env, so the checkpoint says how to rebuild its env."""
    from baselines_tf2 import deepq
    from baselines_tf2.common.cmd_util import make_vec_env

    env = make_vec_env("CartPole-v1", "classic_control", 1, seed=0)
    act = deepq.learn(env, network="mlp", total_timesteps=0, buffer_size=0, **TINY)
    env.close()
    path = tmp_path_factory.mktemp("deepq") / "model"
    act.save(str(path))
    return path


def run_main(main: Any, argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of a CLI main(argv), whether it returns the status or exits with it."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
    return status, err.getvalue()


def one_line_error(err: str, prog: str, *fragments: str) -> None:
    assert "Traceback" not in err, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: error:"), last
    for fragment in fragments:
        assert fragment in last, last


# ---- evaluate --json ------------------------------------------------------------------------------------------


def test_evaluate_json_into_the_checkpoint_itself_is_refused_and_the_checkpoint_kept(deepq_checkpoint: Path,
                                                                                      tmp_path: Path) -> None:
    from baselines_tf2.evaluate import main
    from baselines_tf2.training.checkpoint import read_metadata

    checkpoint = tmp_path / "model"
    checkpoint.write_bytes(deepq_checkpoint.read_bytes())
    status, err = run_main(main, [str(checkpoint), "--episodes", "1", "--json", str(checkpoint)])
    assert status == 2
    one_line_error(err, "python -m baselines_tf2.evaluate", "--json", "holds a checkpoint")
    assert checkpoint.read_bytes() == deepq_checkpoint.read_bytes()
    assert read_metadata(checkpoint)["alg"] == "deepq"


def test_evaluate_json_naming_a_folder_is_a_usage_error_before_playing(deepq_checkpoint: Path,
                                                                        tmp_path: Path) -> None:
    from baselines_tf2.evaluate import main

    status, err = run_main(main, [str(deepq_checkpoint), "--episodes", "1", "--json", str(tmp_path)])
    assert status == 2
    one_line_error(err, "python -m baselines_tf2.evaluate", "is a folder")
    assert list(tmp_path.iterdir()) == []


# ---- export ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, fragment", [
    (["--rtol", "-1"], "--rtol must be a finite number >= 0"),
    (["--atol", "nan"], "--atol must be a finite number >= 0"),
    (["--rtol", "inf"], "--rtol must be a finite number >= 0"),
])
def test_export_tolerances_that_cannot_hold_are_usage_errors(deepq_checkpoint: Path, tmp_path: Path,
                                                             flags: list[str], fragment: str) -> None:
    from baselines_tf2.export import main

    out = tmp_path / "model.keras"
    status, err = run_main(main, [str(deepq_checkpoint), "--format", "keras", "--out", str(out), *flags])
    assert status == 2
    one_line_error(err, "python -m baselines_tf2.export", fragment)
    assert not out.exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, a folder that takes no new files")
def test_export_into_a_folder_that_takes_no_files_is_a_usage_error(deepq_checkpoint: Path) -> None:
    from baselines_tf2.export import main

    status, err = run_main(main, [str(deepq_checkpoint), "--format", "keras", "--out", "/proc/model.keras"])
    assert status == 2
    one_line_error(err, "python -m baselines_tf2.export", "'/proc'")


def test_export_never_replaces_the_checkpoint_it_reads_even_with_force(deepq_checkpoint: Path, tmp_path: Path) -> None:
    from baselines_tf2.export import main

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "00000").write_bytes(deepq_checkpoint.read_bytes())
    (run / "checkpoints" / "latest").write_text("00000\n")
    for target in (run / "checkpoints" / "00000", run):  # the file itself; the run folder that holds it
        status, err = run_main(main, [str(target), "--format", "savedmodel", "--out", str(target), "--force"])
        assert status == 2
        one_line_error(err, "python -m baselines_tf2.export", "the checkpoint being exported")
        assert (run / "checkpoints" / "00000").read_bytes() == deepq_checkpoint.read_bytes()


# ---- examples/play.py --video ---------------------------------------------------------------------------------


def play_main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """examples/play.py with `argv`, in this process: (exit status, stderr)."""
    main = runpy.run_path(str(REPO / "examples" / "play.py"))["main"]
    monkeypatch.setattr(sys, "argv", ["play.py", *argv])
    return run_main(lambda _argv: main(), argv)


@pytest.mark.parametrize("video, fragment", [
    ("{tmp}/play.model", "no installed encoder writes .model files; valid endings: "),
    ("{tmp}", "is a folder; give a file name"),
    ("/proc/play.gif", "--video: cannot write in '/proc'"),
])
def test_play_refuses_a_video_path_it_cannot_write_before_playing(deepq_checkpoint: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch, video: str,
                                                                  fragment: str) -> None:
    if video.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc, a folder that takes no new files")
    status, err = play_main([str(deepq_checkpoint), "--episodes", "1", "--video", video.format(tmp=tmp_path)],
                            monkeypatch)
    assert status == 2
    one_line_error(err, "play.py", fragment)
    assert "episode 1" not in err
    assert list(tmp_path.iterdir()) == []


def test_play_writes_a_gif_video_it_was_asked_for(deepq_checkpoint: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    status, err = play_main([str(deepq_checkpoint), "--episodes", "1", "--seed", "0", "--video",
                             str(tmp_path / "clips" / "play.gif")], monkeypatch)
    assert status == 0, err[-2000:]
    assert (tmp_path / "clips" / "play.gif").stat().st_size > 0


# ---- deepq.learn arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arguments, fragment", [
    (dict(eval_env="Acrobot-v1", eval_freq=20), "eval_env's observation space Box"),
    (dict(eval_env="MountainCar-v0", eval_freq=20), "eval_env's observation space Box"),
    (dict(eval_freq=20), "eval_freq=20 needs an eval_env"),
    (dict(callback=5), "callback must be a function"),
    (dict(checkpoint_path="{file}", checkpoint_freq=50), "is a file; it names the folder the best model"),
])
def test_deepq_arguments_that_cannot_work_are_refused_before_training(tmp_path: Path, arguments: dict[str, Any],
                                                                      fragment: str) -> None:
    from baselines_tf2 import deepq, logger

    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    arguments = {name: gymnasium.make(value) if name == "eval_env" else value for name, value in arguments.items()}
    arguments = {name: value.format(file=a_file) if isinstance(value, str) else value
                 for name, value in arguments.items()}
    with logger.scoped_configure(str(tmp_path / "log"), ["csv"]), pytest.raises(ArgumentError) as raised:
        deepq.learn(gymnasium.make("CartPole-v1"), "mlp", seed=0, total_timesteps=120, learning_starts=10,
                    buffer_size=100, print_freq=None, **TINY, **arguments)
    assert fragment in str(raised.value)
    assert a_file.read_text() == "mine\n"


@pytest.mark.parametrize("head, message", [
    ({"dueling": "no"}, "dueling must be True or False, got 'no'"),
    ({"layer_norm": 1}, "layer_norm must be True or False, got 1"),
    ({"hiddens": 16}, "hiddens must be a list of layer sizes, got 16"),
    ({"hiddens": [64, 0]}, r"hiddens\[1\] must be an integer >= 1, got 0"),
])
def test_deepq_head_options_of_the_wrong_kind_are_refused(head: dict, message: str) -> None:
    """`dueling="no"` built a dueling head (any non-empty string is true) and `hiddens=16` failed deep inside with
    "'int' object is not iterable": both are now one ArgumentError naming the option."""
    from baselines_tf2.deepq import deepq

    with pytest.raises(ArgumentError, match=message):
        deepq.learn(gymnasium.make("CartPole-v1"), "mlp", total_timesteps=10, num_hidden=8, **head)
