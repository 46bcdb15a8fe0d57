"""docs/porting.md's "Every baselines name" table (issue 18): every name it calls *same* imports from its
baselines_tf2 path, the table is what docs/tools/porting_table.py renders now, and the small helpers added so
that names exist behave as baselines' did."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PORTING_MD = REPO / "docs" / "porting.md"
GENERATOR = REPO / "docs" / "tools" / "porting_table.py"
MODULE_HEADING = re.compile(r"^### `(baselines(?:\.\w+)*)`$")
ROW = re.compile(r"^\| `(\w+)` \| (same|changed|not available) \|")


def load_generator() -> ModuleType:
    """docs/tools/porting_table.py as a module (it lives beside the docs, not in the package)."""
    spec = importlib.util.spec_from_file_location("porting_table", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def same_names() -> dict[str, list[str]]:
    """baselines module -> the names docs/porting.md's table marks same."""
    text = PORTING_MD.read_text()
    table = text.split("<!-- names table start -->")[1].split("<!-- names table end -->")[0]
    found: dict[str, list[str]] = {}
    module = None
    for line in table.splitlines():
        heading = MODULE_HEADING.match(line)
        if heading:
            module = heading.group(1)
            continue
        row = ROW.match(line)
        if row and row.group(2) == "same":
            assert module is not None, f"row before any module heading: {line}"
            found.setdefault(module, []).append(row.group(1))
    return found


SAME = same_names()


def test_the_table_lists_same_names() -> None:
    assert sum(len(names) for names in SAME.values()) >= 150, "the table lost its rows"


@pytest.mark.parametrize("baselines_module", sorted(SAME))
def test_every_same_name_imports_from_its_baselines_tf2_path(baselines_module: str) -> None:
    path = "baselines_tf2" + baselines_module[len("baselines"):]
    module = importlib.import_module(path)
    missing = [name for name in SAME[baselines_module] if not hasattr(module, name)]
    assert not missing, f"docs/porting.md says these are the same, but {path} lacks them: {missing}"


def test_the_table_in_porting_md_is_up_to_date() -> None:
    generator = load_generator()
    assert generator.main(["--check"]) == 0, "run: python docs/tools/porting_table.py"


def test_compare_accepts_added_defaults_and_names_renames_and_missing_parameters() -> None:
    import inspect

    generator = load_generator()

    def ours(x: np.ndarray, gamma: float, *, rng: np.random.Generator | None = None) -> None:
        """A signature to compare; never called."""

    params = list(inspect.signature(ours).parameters.values())
    assert generator.compare(["x", "gamma"], params) == ([], ["rng"])
    assert generator.compare(["vector", "gamma"], params) == (["`vector` is called `x`"], ["rng"])
    assert generator.compare(["x", "gamma", "scale"], params) == (["no `scale`"], ["rng"])
    assert generator.compare(["x", "gamma", "**kwargs"], params) == (["no `**kwargs`"], ["rng"])


# ---- the helpers added at baselines' paths for this table ----------------------------------------------------


def test_vec_env_util_dict_helpers_round_trip() -> None:
    from baselines_tf2.common.vec_env.util import copy_obs_dict, dict_to_obs, obs_to_dict

    plain = np.arange(3)
    assert obs_to_dict(plain)[None] is plain and dict_to_obs(obs_to_dict(plain)) is plain
    nested = {"image": np.zeros(2), "speed": np.ones(1)}
    assert dict_to_obs(obs_to_dict(nested)) is nested
    copied = copy_obs_dict(nested)
    copied["image"][0] = 5.0
    assert nested["image"][0] == 0.0  # a copy, not a view


def test_update_mean_var_count_from_moments_matches_the_pooled_moments() -> None:
    from baselines_tf2.common.running_mean_std import update_mean_var_count_from_moments

    # samples (1, 3) and (5, 7, 9): pooled mean 5, pooled (population) variance (16 + 4 + 0 + 4 + 16) / 5 = 8
    mean, var, count = update_mean_var_count_from_moments(2.0, 1.0, 2, 7.0, 8.0 / 3.0, 3)
    assert (mean, count) == (5.0, 5) and var == pytest.approx(8.0)


def test_linear_interpolation_split_by_task_and_bench_registry() -> None:
    from baselines_tf2 import bench
    from baselines_tf2.common.schedules import linear_interpolation
    from baselines_tf2.results_plotter import split_by_task

    assert linear_interpolation(1.0, 3.0, 0.25) == 1.5
    assert split_by_task({"dirname": "/runs/BreakoutNoFrameskip-v4-seed0"}) == "BreakoutNoFrameskip"
    assert "Atari10M" in bench.list_benchmarks()
    assert bench.get_task(bench.get_benchmark("Atari10M"), "PongNoFrameskip-v4")["trials"] == 6
