"""The package's shape: no import cycles, shared code that never names an algorithm, one source of hyperparameters."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

import baselines_tf2
from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.training.run import RunOptions

PACKAGE_DIR = Path(baselines_tf2.__file__).parent
SHARED_PACKAGES = ("common", "training", "tools", "nn", "on_policy", "off_policy")  # code every algorithm uses
ALGORITHM_PACKAGES = {entry.module.split(".")[1] for entry in ALGORITHMS.values()}  # ppo2, a2c, deepq
CONFIG_THROUGH_KWARGS = {"her"}  # baselines' her.learn: hyperparameters as **kwargs or override_params
LEARN_ONLY = {"network", "env", "seed", "load_path", "callback", "eval_env", "network_kwargs", "param_noise",
              "policy_fn", "save_path"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every baselines_tf2 module `path` imports, at the top or inside a function (a deferred import still runs)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` imports the submodule; `from module import name` the module
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found


def test_the_package_has_no_import_cycle() -> None:
    graph = {name: imported_modules(path) - {name} for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_detector_sees_a_deferred_import(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("def late():\n    from baselines_tf2.deepq import act\n")
    assert imported_modules(source) == {"baselines_tf2.deepq.act"}


def names_an_algorithm(path: Path) -> list[str]:
    """Imports of an algorithm's package, and comparisons with an algorithm's name, in `path`."""
    findings = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "baselines_tf2":
                names = [f"baselines_tf2.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "baselines_tf2" and len(parts) > 1 and parts[1] in ALGORITHM_PACKAGES:
                    findings.append(f"line {node.lineno}: imports {name}")
        elif isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Constant) and operand.value in ALGORITHMS:
                    findings.append(f"line {node.lineno}: compares with {operand.value!r}")
    return findings


@pytest.mark.parametrize("package", SHARED_PACKAGES)
def test_shared_code_never_names_an_algorithm(package: str) -> None:
    findings = {str(path.relative_to(PACKAGE_DIR)): names_an_algorithm(path)
                for path in (PACKAGE_DIR / package).rglob("*.py")}
    assert not {path: found for path, found in findings.items() if found}


def test_the_algorithm_check_catches_a_branch_on_a_name(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("from baselines_tf2.deepq.act import load_act\n\ndef f(alg):\n    return alg == 'deepq'\n")
    assert len(names_an_algorithm(source)) == 2


# learn() defaults that differ from RunOptions' because baselines' learn() behaved so
RUN_OPTION_DEFAULTS_OF_BASELINES = {("ppo2", "keep_checkpoints"): 0}  # its save_interval kept every checkpoint


@pytest.mark.parametrize("alg", sorted(ALGORITHMS))
def test_learn_defaults_are_the_config_defaults(alg: str) -> None:
    """learn() keeps baselines' signature; its defaults must be the typed config's, the one source of truth."""
    module = importlib.import_module(ALGORITHMS[alg].module)
    config_class = getattr(module, ALGORITHMS[alg].config)
    parameters = inspect.signature(module.learn).parameters
    for field in dataclasses.fields(config_class):
        if alg in CONFIG_THROUGH_KWARGS and field.name not in parameters:
            # baselines' her.learn(**kwargs) takes every DEFAULT_PARAMS entry by name: each field must get there
            assert getattr(module.config_for(None, None, **{field.name: field.default}), field.name) == field.default
            continue
        assert field.name in parameters, f"{alg}.learn() lacks the config field {field.name!r}"
        no_default = parameters[field.name].default is inspect.Parameter.empty and field.default is dataclasses.MISSING
        assert no_default or parameters[field.name].default == field.default, (
            f"{alg}.learn({field.name}={parameters[field.name].default!r}) but {config_class.__name__}."
            f"{field.name} = {field.default!r}")
    run_options = {field.name: field.default for field in dataclasses.fields(RunOptions)}
    for name, parameter in parameters.items():
        if name in run_options and run_options[name] is not dataclasses.MISSING:
            expected = RUN_OPTION_DEFAULTS_OF_BASELINES.get((alg, name), run_options[name])
            assert parameter.default == expected, f"{alg}.learn({name}=...) differs from RunOptions"
    config_fields = {field.name for field in dataclasses.fields(config_class)}
    variadic = {name for name, parameter in parameters.items() if parameter.kind is inspect.Parameter.VAR_KEYWORD}
    stray = (set(parameters) - config_fields - set(run_options) - LEARN_ONLY - set(ALGORITHMS[alg].learn_options)
             - (variadic if alg in CONFIG_THROUGH_KWARGS else set()))
    assert not stray, f"{alg}.learn() takes {sorted(stray)}, which are neither config fields nor run options"


def test_every_algorithm_entry_resolves() -> None:
    for alg, entry in ALGORITHMS.items():
        module = importlib.import_module(entry.module)
        assert dataclasses.is_dataclass(getattr(module, entry.config)), alg
        loader_module, _, loader = entry.policy_loader.partition(":")
        assert callable(getattr(importlib.import_module(loader_module), loader)), alg
        if entry.defaults:
            importlib.import_module(entry.defaults)
