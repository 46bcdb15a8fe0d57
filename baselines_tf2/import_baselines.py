"""`python -m baselines_tf2.import_baselines OLD_MODEL --alg ppo2|a2c --network cnn|cnn_small|mlp --env ID --out CKPT`.

Turns a model saved by TF1 OpenAI baselines (`model.save(path)`, i.e. `tf_util.save_variables`: a joblib file of
{variable name: array}) into a baselines_tf2 checkpoint: it builds our policy for the env's spaces with the given
network, puts every saved variable into the layer with the same role (`common/baselines_variables.py`), checks that
each variable is used and each weight set, and saves with `saving.save_policy`. The file is read by a restricted
unpickler (`common/safe_unpickle.py`) that accepts numeric arrays only: a file that asks for anything else is
refused, and nothing from it runs. Optimizer state in the file is left out (training resumes with a fresh optimizer).

Exit status: 0 imported, 2 bad arguments or a file that is refused, corrupt, or does not fit the network and env.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import sys
from typing import Any, Sequence

import numpy as np

from baselines_tf2.tools.safe_unpickle import (
    READ_CHUNK,
    CorruptPickleError,
    UnsafePickleError,
    load_joblib_arrays,
    short_repr,
)

ALGORITHMS = ("a2c", "ppo2")  # the scopes baselines_variables.SCOPES knows; TensorFlow is not imported for --help
NETWORKS = ("cnn", "cnn_small", "mlp")
ATARI_FRAME_STACK = 4  # run.py stacks 4 frames for ppo2/a2c on Atari, as baselines' run.py did


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m baselines_tf2.import_baselines",
        description="Convert a TF1 baselines ppo2/a2c model file (joblib, from model.save) into a baselines_tf2 "
        "checkpoint for the same env. The file is read without unpickling arbitrary objects.",
    )
    parser.add_argument("old_model", help="the file baselines' model.save(path) wrote")
    parser.add_argument("--alg", required=True, choices=ALGORITHMS, help="the algorithm that trained it")
    parser.add_argument("--network", required=True, choices=NETWORKS,
                        help="its network; mlp's num_layers and num_hidden are read from the file (activation: "
                        "baselines' default tanh)")
    parser.add_argument("--env", required=True, help="the env id it was trained on, e.g. BreakoutNoFrameskip-v4")
    parser.add_argument("--out", required=True, help="where to write the baselines_tf2 checkpoint")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    return parser


def read_variables(path: str) -> dict[str, np.ndarray]:
    """{variable name: array} from a baselines model file, through the restricted unpickler."""
    loaded = load_joblib_arrays(path)
    if not isinstance(loaded, dict) or not loaded:
        raise CorruptPickleError(f"{path!r} holds a {type(loaded).__name__}, not baselines' {{name: array}} dict")
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise CorruptPickleError(f"{path!r}: entry {short_repr(name)} is not a variable name with an array")
    return loaded


def network_kwargs(network: str, variables: dict[str, np.ndarray]) -> dict[str, Any]:
    """The network's keyword arguments the file implies, leaving out those equal to our builder's defaults."""
    from baselines_tf2.nn.models import get_network_builder
    from baselines_tf2.tools.baselines_variables import mlp_kwargs

    if network != "mlp":
        return {}
    defaults = inspect.signature(inspect.unwrap(get_network_builder(network))).parameters
    return {key: value for key, value in mlp_kwargs(variables).items() if value != defaults[key].default}


def build_env(env_id: str, env_type: str) -> Any:
    """One copy of the env as run.py builds it for ppo2/a2c (Atari: DeepMind wrappers and 4 stacked frames)."""
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.common.vec_env import VecFrameStack

    venv = make_vec_env(env_id, env_type, 1, seed=None, vec_env_kind="dummy")
    return VecFrameStack(venv, ATARI_FRAME_STACK) if env_type == "atari" else venv


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The env type, after the checks that need no TensorFlow; usage errors exit 2."""
    from baselines_tf2.common.cmd_util import get_env_type

    if not os.path.isfile(args.old_model):
        parser.error(f"no file at {args.old_model!r}")
    out = os.path.expanduser(args.out)
    if os.path.isdir(out):
        parser.error(f"--out {args.out!r} is a folder; give a file name")
    if os.path.lexists(out) and not args.force:
        parser.error(f"--out {args.out!r} already exists; remove it or pass --force to replace it")
    try:
        env_type = get_env_type(args.env)
    except ValueError as err:
        parser.error(str(err))
    if env_type == "mujoco":
        parser.error("mujoco models were trained behind baselines' VecNormalize, whose statistics (ob_rms/, "
                     "ret_rms/ in the file) this importer does not carry over")
    return env_type


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, read, map, save; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    env_type = _check_arguments(parser, args)
    try:
        variables = read_variables(args.old_model)
    except (UnsafePickleError, CorruptPickleError) as err:
        parser.error(str(err))

    from baselines_tf2.common.cmd_util import describe_vec_env
    from baselines_tf2.nn.policies import PolicyWithValue
    from baselines_tf2.on_policy.saving import save_policy
    from baselines_tf2.tools.baselines_variables import (
        VariableMismatchError,
        assign_from_baselines,
        is_optimizer_state,
        policy_variables,
        uses_value_copy,
    )

    env = build_env(args.env, env_type)
    try:
        policy_vars = policy_variables(variables, args.alg)
        kwargs = network_kwargs(args.network, policy_vars)
        policy = PolicyWithValue(env.observation_space, env.action_space, args.network, kwargs,
                                 value_network="copy" if uses_value_copy(policy_vars) else None)
        assign_from_baselines(policy, policy_vars, args.alg)
        env_description = describe_vec_env(env)
    except (VariableMismatchError, TypeError, ValueError) as err:
        parser.error(f"{args.old_model!r} does not fit --network={args.network} on {args.env}: {err}")
    finally:
        env.close()
    source = {"file": os.path.basename(args.old_model), "sha256": _sha256(args.old_model),
              "format": "baselines TF1 save_variables"}
    save_policy(os.path.expanduser(args.out), policy, alg=args.alg,
                extra_metadata={"env": env_description, "timesteps": 0, "imported_from": source})
    skipped = sum(is_optimizer_state(name) for name in variables)
    network = f"{args.network} {kwargs}" if kwargs else args.network
    print(f"wrote {args.out}: {args.alg} {network} on {args.env}, {len(policy_vars)} variables imported, "
          f"{skipped} optimizer variables left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
