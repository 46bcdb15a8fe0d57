"""Names baselines code imports exist at baselines' paths (issue 18), and behave as baselines' did."""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.misc_util import EzPickle

BASELINES_NAMES = {
    "baselines_tf2.common": ["set_global_seeds", "explained_variance", "zipsame", "Dataset"],
    "baselines_tf2.common.misc_util": [
        "zipsame", "unpack", "EzPickle", "set_global_seeds", "pretty_eta", "RunningAvg", "boolean_flag",
        "get_wrapper_by_name", "relatively_safe_pickle_dump", "pickle_load"],
    "baselines_tf2.common.math_util": [
        "discount", "explained_variance", "explained_variance_2d", "ncc", "flatten_arrays", "unflatten_vector",
        "discount_with_boundaries"],
    "baselines_tf2.common.tile_images": ["tile_images"],
    "baselines_tf2.common.distributions": [
        "CategoricalPdType", "MultiCategoricalPdType", "DiagGaussianPdType", "BernoulliPdType", "make_pdtype"],
    "baselines_tf2.common.models": [
        "nature_cnn", "build_impala_cnn", "mlp", "cnn", "cnn_small", "lstm", "cnn_lstm", "conv_only",
        "impala_cnn", "get_network_builder", "register"],
    "baselines_tf2.results_plotter": ["ts2xy", "window_func", "rolling_window", "plot_curves"],
    "baselines_tf2.common.plot_util": ["symmetric_ema", "one_sided_ema", "COLORS", "regression_analysis"],
    "baselines_tf2.bench.benchmarks": [
        "register_benchmark", "list_benchmarks", "get_benchmark", "get_task", "find_task_for_env_id_in_any_benchmark"],
    "baselines_tf2.logger": ["read_tb", "profile", "profile_kv", "read_json", "read_csv"],
    "baselines_tf2.deepq": ["load_act", "wrap_atari_dqn", "ReplayBuffer", "PrioritizedReplayBuffer", "learn",
                            "models"],
    "baselines_tf2.deepq.models": ["mlp", "cnn_to_mlp", "build_q_func"],
    "baselines_tf2.common.cmd_util": [
        "make_mujoco_env", "make_robotics_env", "arg_parser", "atari_arg_parser", "mujoco_arg_parser",
        "robotics_arg_parser", "common_arg_parser", "make_env", "make_vec_env"],
    "baselines_tf2.common.tests.envs.identity_env": [
        "IdentityEnv", "DiscreteIdentityEnv", "MultiDiscreteIdentityEnv", "BoxIdentityEnv"],
    "baselines_tf2.common.tests.envs.fixed_sequence_env": ["FixedSequenceEnv"],
    "baselines_tf2.common.tf_util": [
        "get_session", "make_session", "single_threaded_session", "function", "initialize", "get_placeholder",
        "get_placeholder_cached", "set_global_seeds"],
}


@pytest.mark.parametrize("module", sorted(BASELINES_NAMES))
def test_every_baselines_name_imports_from_its_baselines_path(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in BASELINES_NAMES[module] if not hasattr(imported, name)]
    assert not missing, f"{module} lacks {missing}"


# ---- math_util -------------------------------------------------------------------------------------------


def test_discount_matches_hand_computation() -> None:
    from baselines_tf2.common.math_util import discount

    # y[2] = 3; y[1] = 2 + 0.5 * 3 = 3.5; y[0] = 1 + 0.5 * 3.5 = 2.75 (columns are independent)
    x = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(discount(x, 0.5), [[2.75, 1.0], [3.5, 2.0], [3.0, 4.0]])


def test_discount_with_boundaries_restarts_at_new_episodes() -> None:
    from baselines_tf2.common.math_util import discount_with_boundaries

    # a new episode starts at step 3: y[3] = 4; y[2] = 3 (no bootstrap); y[1] = 2 + 0.9 * 3; y[0] = 1 + 0.9 * y[1]
    y = discount_with_boundaries(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 0.0, 1.0]), 0.9)
    np.testing.assert_allclose(y, [1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3, 4])


def test_explained_variance_2d_per_column_and_zero_for_constant_targets() -> None:
    from baselines_tf2.common.math_util import explained_variance_2d

    y = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]])
    ypred = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [5.0, 3.0]])
    # column 0: residuals (0, 0, 0, -1) have variance 0.1875, Var[y] = 1.25 -> 1 - 0.15 = 0.85; column 1 constant
    np.testing.assert_allclose(explained_variance_2d(ypred, y), [0.85, 0.0])


def test_ncc_flatten_and_unflatten() -> None:
    from baselines_tf2.common.math_util import flatten_arrays, ncc, unflatten_vector

    assert ncc(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])) == pytest.approx(1.0)
    arrays = [np.arange(6.0).reshape(2, 3), np.array([7.0])]
    flat = flatten_arrays(arrays)
    np.testing.assert_array_equal(flat, [0, 1, 2, 3, 4, 5, 7])
    for restored, original in zip(unflatten_vector(flat, [(2, 3), (1,)]), arrays):
        np.testing.assert_array_equal(restored, original)


def test_tile_images_fills_rows_of_a_near_square_grid() -> None:
    from baselines_tf2.common.tile_images import tile_images

    images = np.stack([np.full((2, 3, 1), k + 1, np.uint8) for k in range(5)])
    tiled = tile_images(images)
    assert tiled.shape == (3 * 2, 2 * 3, 1)  # baselines: ceil(sqrt(5)) = 3 rows of ceil(5 / 3) = 2
    corners = tiled[::2, ::3, 0]
    np.testing.assert_array_equal(corners, [[1, 2], [3, 4], [5, 0]])  # row by row, padded with black


# ---- misc_util -------------------------------------------------------------------------------------------


class Dog(EzPickle):
    """An object whose copies must be rebuilt by its constructor."""

    def __init__(self, furcolor: str, tailkind: str = "bushy") -> None:
        EzPickle.__init__(self, furcolor, tailkind=tailkind)
        self.furcolor, self.tailkind = furcolor, tailkind
        self.built_from_args = True


def test_ezpickle_rebuilds_from_the_constructor_arguments() -> None:
    dog = Dog("brown", tailkind="curly")
    dog.built_from_args = False  # state set after construction is not carried: the copy is rebuilt
    copy = pickle.loads(pickle.dumps(dog))  # our own bytes, made on this line
    assert (copy.furcolor, copy.tailkind, copy.built_from_args) == ("brown", "curly", True)


def test_zipsame_unpack_running_avg_and_pretty_eta() -> None:
    from baselines_tf2.common.misc_util import RunningAvg, pretty_eta, unpack, zipsame

    assert list(zipsame([1, 2], "ab")) == [(1, "a"), (2, "b")]
    with pytest.raises(ValueError, match="one length"):
        zipsame([1, 2], [1])
    assert list(unpack([1, 2, 3, 4, 5, 6], [3, None, 2])) == [[1, 2, 3], 4, [5, 6]]
    average = RunningAvg(gamma=0.9)
    average.update(10.0)
    average.update(0.0)
    assert float(average) == pytest.approx(9.0)  # 0.9 * 10 + 0.1 * 0
    assert pretty_eta(2 * 86400 + 3 * 3600) == "2 days and 3 hours"
    assert pretty_eta(3600 + 60) == "1 hour and 1 minute"
    assert pretty_eta(59) == "less than a minute"


def test_boolean_flag_adds_the_flag_and_its_negation() -> None:
    from baselines_tf2.common.misc_util import boolean_flag

    parser = argparse.ArgumentParser()
    boolean_flag(parser, "layer-norm", default=True)
    assert parser.parse_args([]).layer_norm is True
    assert parser.parse_args(["--no-layer-norm"]).layer_norm is False
    assert parser.parse_args(["--layer-norm"]).layer_norm is True


def test_get_wrapper_by_name_walks_the_wrapper_chain() -> None:
    from baselines_tf2.common.misc_util import get_wrapper_by_name

    env = gymnasium.wrappers.ClipReward(gymnasium.wrappers.TimeLimit(gymnasium.make("CartPole-v1"), 10), -1, 1)
    assert isinstance(get_wrapper_by_name(env, "TimeLimit"), gymnasium.wrappers.TimeLimit)
    assert type(get_wrapper_by_name(env, "CartPoleEnv")).__name__ == "CartPoleEnv"
    with pytest.raises(ValueError, match="FrameStack"):
        get_wrapper_by_name(env, "FrameStack")


def test_pickle_helpers_refuse_and_name_the_safe_formats(tmp_path: Path) -> None:
    from baselines_tf2.common.misc_util import pickle_load, relatively_safe_pickle_dump

    with pytest.raises(NotImplementedError, match="numpy.savez"):
        relatively_safe_pickle_dump({"a": 1}, str(tmp_path / "x.pkl"))
    with pytest.raises(NotImplementedError, match="unpickling runs code"):
        pickle_load(str(tmp_path / "x.pkl"))
    assert not (tmp_path / "x.pkl").exists()


def test_set_global_seeds_repeats_draws_without_importing_tensorflow() -> None:
    probe = (
        "import random, sys, numpy as np\n"
        "from baselines_tf2.common import set_global_seeds\n"
        "set_global_seeds(3); a = (random.random(), np.random.rand())\n"
        "set_global_seeds(3); b = (random.random(), np.random.rand())\n"
        "assert a == b, (a, b)\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---- TensorFlow side: distributions, models, tf_util --------------------------------------------------------


@pytest.mark.parametrize("space, pdtype, param_shape, sample_shape", [
    (gymnasium.spaces.Discrete(3), "CategoricalPdType", [3], []),
    (gymnasium.spaces.MultiDiscrete([2, 3]), "MultiCategoricalPdType", [5], [2]),
    (gymnasium.spaces.MultiBinary(4), "BernoulliPdType", [4], [4]),
    (gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32), "DiagGaussianPdType", [4], [2]),
])
def test_make_pdtype_gives_the_pd_for_each_space(
    space: gymnasium.Space, pdtype: str, param_shape: list[int], sample_shape: list[int]
) -> None:
    import tensorflow as tf

    from baselines_tf2.common import distributions

    made = distributions.make_pdtype((8,), space, init_scale=0.01)
    assert type(made).__name__ == pdtype
    assert made.param_shape() == param_shape and made.sample_shape() == sample_shape
    pd, params = made.pdfromlatent(tf.ones((5, 8)))
    assert isinstance(pd, made.pdclass())
    np.testing.assert_array_equal(pd.flatparam(), made(tf.ones((5, 8))))
    assert pd.flatparam().shape == (5, *param_shape)
    if isinstance(space, gymnasium.spaces.Box):  # baselines returned the mean for a Gaussian
        np.testing.assert_array_equal(params, pd.mean)
    else:
        np.testing.assert_array_equal(params, pd.flatparam())
    row = pd[1:3]  # baselines' Pd.__getitem__: the distributions of those rows
    assert isinstance(row, made.pdclass()) and row.flatparam().shape == (2, *param_shape)
    np.testing.assert_allclose(row.neglogp(pd.mode()[1:3]), pd.neglogp(pd.mode())[1:3], rtol=1e-6)
    sample = pd.sample()
    assert sample.shape == (5, *sample_shape) and sample.dtype == made.sample_dtype()
    if not isinstance(space, gymnasium.spaces.Box):  # Gaussian samples are unbounded (clipped next to the env)
        assert space.contains(np.asarray(sample[0]).astype(space.dtype))


def test_pd_classes_take_baselines_flat_forms_and_names() -> None:
    import tensorflow as tf

    from baselines_tf2.common.distributions import BernoulliPd, CategoricalPd, DiagGaussianPd

    flat = tf.constant([[0.5, -1.0, 0.0, 0.3]])
    gaussian = DiagGaussianPd.fromflat(flat)  # baselines' DiagGaussianPd(flat): [mean, logstd]
    np.testing.assert_array_equal(gaussian.mean, [[0.5, -1.0]])
    np.testing.assert_allclose(gaussian.logstd, [[0.0, 0.3]])
    np.testing.assert_array_equal(DiagGaussianPd(flat).flatparam(), flat)
    categorical = CategoricalPd.fromflat(tf.math.log([[0.25, 0.75]]))
    np.testing.assert_allclose(categorical.mean, [[0.25, 0.75]], rtol=1e-6)  # the probabilities
    bernoulli = BernoulliPd.fromflat(tf.constant([[0.0, 100.0]]))
    np.testing.assert_allclose(bernoulli.ps, [[0.5, 1.0]])
    np.testing.assert_allclose(bernoulli.mean, [[0.5, 1.0]])


def test_pdfromlatent_takes_baselines_init_scale_before_the_first_call() -> None:
    import tensorflow as tf

    from baselines_tf2.common.distributions import make_pdtype

    latent = tf.random.stateless_normal((256, 64), seed=(1, 2))
    small = make_pdtype((64,), gymnasium.spaces.Discrete(6))
    _pd, logits = small.pdfromlatent(latent, init_scale=0.01)  # baselines' ppo2 policy head
    default = make_pdtype((64,), gymnasium.spaces.Discrete(6))
    _pd, default_logits = default.pdfromlatent(latent)
    assert float(tf.math.reduce_std(logits)) < 0.05 * float(tf.math.reduce_std(default_logits))
    with pytest.raises(ValueError, match=r"already has weights initialized with \(init_scale, init_bias\)=\(0.01"):
        small.pdfromlatent(latent, init_scale=1.0)
    small.pdfromlatent(latent, init_scale=0.01)  # the same again is fine


def test_make_pdtype_takes_baselines_tf1_form_and_refuses_other_spaces() -> None:
    from baselines_tf2.common.distributions import CategoricalPdType, make_pdtype

    assert isinstance(make_pdtype(gymnasium.spaces.Discrete(2)), CategoricalPdType)
    with pytest.raises(TypeError, match="no PdType"):
        make_pdtype((8,), gymnasium.spaces.Dict({"a": gymnasium.spaces.Discrete(2)}))


def test_set_global_seeds_seeds_tensorflow_once_it_is_imported() -> None:
    import tensorflow as tf

    from baselines_tf2.common import set_global_seeds

    set_global_seeds(7)
    first = tf.random.uniform([3]).numpy()
    set_global_seeds(7)
    np.testing.assert_array_equal(tf.random.uniform([3]).numpy(), first)


def test_nature_cnn_and_build_impala_cnn_map_keras_tensors() -> None:
    import keras

    from baselines_tf2.common.models import build_impala_cnn, nature_cnn

    frames = keras.Input((84, 84, 4), dtype="uint8")
    model = keras.Model(frames, [nature_cnn(frames), nature_cnn(frames), build_impala_cnn(frames)])
    policy, value, impala = model(np.full((2, 84, 84, 4), 255, np.uint8))
    assert policy.shape == value.shape == (2, 512) and impala.shape == (2, 256)
    assert not np.allclose(policy, value)  # two calls, two torsos


def test_tf1_helpers_raise_naming_the_tf2_way() -> None:
    from baselines_tf2.common import tf_util

    with pytest.raises(NotImplementedError, match="without sessions"):
        tf_util.get_session()
    with pytest.raises(NotImplementedError, match="set_intra_op_parallelism_threads"):
        tf_util.single_threaded_session()
    with pytest.raises(NotImplementedError, match="tf.function"):
        tf_util.function([], [])
    with pytest.raises(NotImplementedError, match="no placeholders"):
        tf_util.get_placeholder("x", "float32", [None])
    with pytest.raises(NotImplementedError, match="initialises variables"):
        tf_util.initialize()
    with pytest.raises(NotImplementedError, match="model.save"):
        tf_util.load_variables("x")


# ---- plotting --------------------------------------------------------------------------------------------


def test_ts2xy_and_window_func_on_a_monitor_frame() -> None:
    import pandas

    from baselines_tf2.results_plotter import X_EPISODES, X_TIMESTEPS, Y_REWARD, rolling_window, ts2xy, window_func

    monitor = pandas.DataFrame({"r": [1.0, 2.0, 3.0, 4.0], "l": [10, 20, 30, 40], "t": [3600.0, 7200.0, 1e4, 2e4]})
    x, y = ts2xy(monitor, X_TIMESTEPS, Y_REWARD)
    np.testing.assert_array_equal(x, [10, 30, 60, 100])
    np.testing.assert_array_equal(ts2xy(monitor, X_EPISODES, Y_REWARD)[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(ts2xy(monitor, "walltime_hrs", "timesteps")[0][:2], [1.0, 2.0])
    np.testing.assert_array_equal(rolling_window(y, 2), [[1, 2], [2, 3], [3, 4]])
    xs, means = window_func(x, y, 2, np.mean)
    np.testing.assert_array_equal(xs, [30, 60, 100])
    np.testing.assert_array_equal(means, [1.5, 2.5, 3.5])


def test_plot_curves_returns_a_figure() -> None:
    pytest.importorskip("matplotlib")
    from baselines_tf2.results_plotter import plot_curves

    x = np.arange(150.0)
    figure = plot_curves([(x, np.sin(x)), (x[:50], x[:50])], "timesteps", "reward", "title")
    assert len(figure.axes[0].collections) == 2 and len(figure.axes[0].lines) == 1  # 50 points < window


def test_emas_resample_and_smooth() -> None:
    from baselines_tf2.common.plot_util import one_sided_ema, symmetric_ema

    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    grid, ys, counts = one_sided_ema(x, np.full(5, 7.0), n=9)
    np.testing.assert_allclose(grid, np.linspace(0, 4, 9))
    np.testing.assert_allclose(ys, 7.0)
    assert np.all(np.diff(counts) != 0)
    _, linear, _ = symmetric_ema(x, 2.0 * x, n=5, decay_steps=0.1)
    np.testing.assert_allclose(linear, 2.0 * x, atol=1e-3)  # a short decay follows the data on its own grid
    with pytest.raises(ValueError, match="extrapolation"):
        one_sided_ema(x, x, low=-1.0)


def test_regression_analysis_recovers_a_linear_law() -> None:
    import pandas

    from baselines_tf2.common.plot_util import regression_analysis

    rng = np.random.default_rng(0)
    df = pandas.DataFrame({"lr": rng.normal(size=50), "nsteps": rng.normal(size=50)})
    df["score"] = 1.0 + 2.0 * df["lr"] - 3.0 * df["nsteps"]
    np.testing.assert_allclose(regression_analysis(df)[["const", "lr", "nsteps"]], [1.0, 2.0, -3.0], atol=1e-9)


# ---- bench.benchmarks and logger ----------------------------------------------------------------------------


def test_benchmark_registry_lookups() -> None:
    from baselines_tf2.bench import benchmarks

    assert {"Atari10M", "Mujoco1M", "Atari50M", "Fetch1M"} <= set(benchmarks.list_benchmarks())
    atari = benchmarks.get_benchmark("Atari10M")
    assert len(atari["tasks"]) == 7 and {task["trials"] for task in atari["tasks"]} == {6}
    task = benchmarks.get_task(atari, "PongNoFrameskip-v4")
    assert task is not None and task["num_timesteps"] == int(10e6) and task["desc"] == "Pong"
    assert benchmarks.get_task(atari, "CartPole-v1") is None
    benchmark, task = benchmarks.find_task_for_env_id_in_any_benchmark("Hopper-v2")
    assert benchmark is not None and benchmark["name"] == "Mujoco1M" and task is not None and task["desc"] == "Hopper"
    assert benchmarks.find_task_for_env_id_in_any_benchmark("NoSuchEnv-v0") == (None, None)
    with pytest.raises(ValueError, match="Known benchmarks|known benchmarks"):
        benchmarks.get_benchmark("Nope")
    with pytest.raises(ValueError, match="already registered"):
        benchmarks.register_benchmark({"name": "Atari10M", "tasks": []})


def test_profile_and_read_tb(tmp_path: Path) -> None:
    from baselines_tf2 import logger

    @logger.profile("step")
    def step() -> int:
        return 3

    logger.configure(str(tmp_path), ["tensorboard"])
    try:
        for value in range(3):
            logger.logkv("reward", value)
            assert step() == 3
            with logger.profile_kv("env"):
                pass
            logger.dumpkvs()
    finally:
        logger.reset()
    frame = logger.read_tb(tmp_path / "tb")
    assert list(frame.columns) == ["reward", "wait_env", "wait_step"]
    np.testing.assert_array_equal(frame["reward"], [1.0, 2.0])  # step 0 is skipped, as in baselines
    assert (frame["wait_step"] >= 0).all()
    with pytest.raises(ValueError, match="event file"):
        logger.read_tb(tmp_path / "progress.csv")


# ---- deepq -----------------------------------------------------------------------------------------------


def test_deepq_names_work_on_cartpole(tmp_path: Path) -> None:
    from baselines_tf2 import deepq

    env = gymnasium.make("CartPole-v1")
    act = deepq.learn(env, network="mlp", total_timesteps=50, seed=0, hiddens=[16], num_hidden=16)
    act.save(str(tmp_path / "act.ckpt"))
    loaded = deepq.load_act(str(tmp_path / "act.ckpt"))
    obs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded(obs, stochastic=False), act(obs, stochastic=False))

    q_func = deepq.models.build_q_func("mlp", hiddens=[8], num_hidden=8)
    assert q_func(env.observation_space, 2)(obs).shape == (8, 2)
    assert deepq.models.mlp([8])((4,), 2)(obs).shape == (8, 2)
    buffer = deepq.ReplayBuffer(10)
    buffer.add(obs[0], 1, 1.0, obs[1], 0.0)
    assert len(buffer.sample(2)[0]) == 2
    assert isinstance(deepq.PrioritizedReplayBuffer(8, alpha=0.6), deepq.ReplayBuffer)


def test_wrap_atari_dqn_stacks_unscaled_frames() -> None:
    from baselines_tf2.common.atari_wrappers import make_atari
    from baselines_tf2.deepq import wrap_atari_dqn

    env = wrap_atari_dqn(make_atari("BreakoutNoFrameskip-v4"))
    obs, _ = env.reset(seed=0)
    assert np.asarray(obs).shape == (84, 84, 4) and np.asarray(obs).dtype == np.uint8
    env.close()


# ---- cmd_util --------------------------------------------------------------------------------------------


def test_make_env_seed_initializer_and_gamestate() -> None:
    from baselines_tf2.common.cmd_util import make_env

    calls = []
    first = make_env("CartPole-v1", "classic_control", 0, 2, 5, initializer=lambda **kw: calls.append(kw))
    second = make_env("CartPole-v1", "classic_control", subrank=2, seed=5)
    assert calls == [{"mpi_rank": 0, "subrank": 2}]
    np.testing.assert_array_equal(first.reset()[0], second.reset()[0])  # seeded with seed + subrank
    assert first.action_space.sample() == second.action_space.sample()
    with pytest.raises(ValueError, match="retro"):
        make_env("CartPole-v1", "classic_control", gamestate="Level1")


def initializer_marking_env_var(mpi_rank: int, subrank: int) -> None:
    os.environ[f"BASELINES_NAMES_INIT_{subrank}"] = str(mpi_rank)


def initializer_writing_pid(folder: Path, mpi_rank: int, subrank: int) -> None:
    (folder / str(subrank)).write_text(str(os.getpid()))


def test_make_vec_env_runs_the_initializer_in_workers_only_and_refuses_gamestate(tmp_path: Path) -> None:
    from baselines_tf2.common.cmd_util import make_vec_env

    venv = make_vec_env("CartPole-v1", "classic_control", 2, 0, None, None, 0, 1.0, True, None,
                        initializer_marking_env_var, True)
    try:
        assert type(venv).__name__ == "DummyVecEnv"  # force_dummy in baselines' 12th position
        # baselines gave its DummyVecEnv no initializer: the caller's process is left alone
        assert not any(name.startswith("BASELINES_NAMES_INIT_") for name in os.environ)
    finally:
        venv.close()
    folder = tmp_path / "marks"
    folder.mkdir()
    venv = make_vec_env("CartPole-v1", "classic_control", 2, 0,
                        initializer=functools.partial(initializer_writing_pid, folder))
    try:
        assert type(venv).__name__ == "SubprocVecEnv"
        pids = {int(mark.read_text()) for mark in folder.iterdir()}
        assert sorted(mark.name for mark in folder.iterdir()) == ["0", "1"]  # one per worker, by subrank
        assert len(pids) == 2 and os.getpid() not in pids
    finally:
        venv.close()
    with pytest.raises(ValueError, match="retro"):
        make_vec_env("CartPole-v1", "classic_control", 1, 0, gamestate="Level1")


def test_make_mujoco_env_and_robotics_env() -> None:
    from baselines_tf2.common import cmd_util

    pytest.importorskip("mujoco")
    env = cmd_util.make_mujoco_env("InvertedPendulum-v5", seed=1)
    again = cmd_util.make_mujoco_env("InvertedPendulum-v5", seed=1)
    np.testing.assert_array_equal(env.reset()[0], again.reset()[0])
    if importlib.util.find_spec("gymnasium_robotics") is None:
        with pytest.raises(ImportError, match=r"baselines_tf2\[robotics\]"):
            cmd_util.make_robotics_env("FetchReach-v4", seed=0)
    args = cmd_util.robotics_arg_parser().parse_args(["--seed", "3"])
    assert (args.env, args.seed, args.num_timesteps) == ("FetchReach-v4", 3, int(1e6))
    # the scripts' --num-timesteps, and run.py's --num_timesteps=1e6 spelling that later baselines parsers took
    for make in (cmd_util.atari_arg_parser, cmd_util.mujoco_arg_parser, cmd_util.robotics_arg_parser):
        assert make().parse_args(["--num-timesteps", "5000"]).num_timesteps == 5000
        assert make().parse_args(["--num_timesteps=2e6"]).num_timesteps == 2_000_000
        with pytest.raises(SystemExit):
            make().parse_args(["--num_timesteps=1.5"])


# ---- baselines' test envs --------------------------------------------------------------------------------


def test_identity_envs_reward_repeating_the_observation() -> None:
    from baselines_tf2.common.tests.envs.identity_env import (
        BoxIdentityEnv,
        DiscreteIdentityEnv,
        MultiDiscreteIdentityEnv,
    )

    env = DiscreteIdentityEnv(4, episode_len=3)
    obs, _ = env.reset(seed=0)
    rewards, truncated = [], False
    while not truncated:
        obs, reward, terminated, truncated, _ = env.step(obs)
        rewards.append(reward)
        assert not terminated
    assert rewards == [1.0, 1.0, 1.0]
    multi = MultiDiscreteIdentityEnv([2, 3])
    obs, _ = multi.reset(seed=0)
    assert multi.step(obs)[1] == 1.0
    box = BoxIdentityEnv((2,))
    obs, _ = box.reset(seed=0)
    assert box.step(obs)[1] == 0.0 and box.step(obs + 1.0)[1] < 0.0


def test_identity_env_with_delay_rewards_the_observation_shown_earlier() -> None:
    from baselines_tf2.common.tests.envs.identity_env import DiscreteIdentityEnv

    env = DiscreteIdentityEnv(3, delay=1)
    shown = [env.reset(seed=1)[0]]
    rewards = []
    for _ in range(4):
        target = shown[-2] if len(shown) > 1 else shown[-1]
        obs, reward, *_ = env.step(target)
        shown.append(obs)
        rewards.append(reward)
    assert rewards[0] == 0.0 and rewards[1:] == [1.0, 1.0, 1.0]  # first reward zeroed (zero_first_rewards)


def test_fixed_sequence_env_keeps_its_sequence() -> None:
    from baselines_tf2.common.tests.envs.fixed_sequence_env import FixedSequenceEnv

    env = FixedSequenceEnv(n_actions=3, episode_len=5)
    env.reset(seed=0)
    sequence = list(env.sequence or [])
    for _ in range(2):
        assert env.reset()[0] == 0 and env.sequence == sequence
        rewards = [env.step(action)[1] for action in sequence]
        assert rewards == [1.0, 1.0, 1.0, 1.0, 0.0]  # the last step earns 0, as in baselines
