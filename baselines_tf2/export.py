"""`python -m baselines_tf2.export CHECKPOINT --format savedmodel|keras|tflite|onnx [--out PATH]`.

Writes the checkpoint's policy as a model that plain TensorFlow, Keras, TFLite or ONNX Runtime can run without this
library: raw observations in, greedy actions and values out (see `common/inference_model.py`). Before anything is
published it reloads the written file with that plain loader and checks it against the checkpoint's own policy on
seeded random observations: actions equal, values within the tolerances. The file is written in a temporary folder
beside the destination and renamed into place only after the check passes, so a failed export leaves nothing.

Exit status: 0 exported, 1 conversion or parity check failed (nothing written), 2 bad arguments or checkpoint.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from typing import Any, Sequence

import gymnasium
import numpy as np

from baselines_tf2.tools import export_formats
from baselines_tf2.training.checkpoint import CheckpointError, resolve_checkpoint_path

DEFAULT_SAMPLES = 64
DEFAULT_RTOL = 1e-4  # float32 kernels of TF, TFLite (XNNPACK) and ONNX Runtime differ in summation order only
DEFAULT_ATOL = 1e-4


def build_parser() -> argparse.ArgumentParser:
    """The command line; --help describes what the exported model takes and returns."""
    parser = argparse.ArgumentParser(
        prog="python -m baselines_tf2.export",
        description="Export a checkpoint's policy for plain TensorFlow, Keras, TFLite or ONNX Runtime. The model "
        "takes a batch of raw observations (as the env gives them, e.g. uint8 [batch, 84, 84, 4] for Atari; a goal "
        "env's Dict observations as one input per key, not for onnx) and returns 'actions' (the most likely "
        "action; Q-learners: argmax Q) and 'values' (actor-critics: V(s); Q-learners: Q-values).",
    )
    parser.add_argument("checkpoint", help="a checkpoint written by baselines_tf2 (any algorithm)")
    parser.add_argument("--format", required=True, choices=export_formats.FORMATS, help="artefact format")
    parser.add_argument("--out", help="destination (default: the checkpoint's path plus .savedmodel, .keras, "
                        ".tflite or .onnx)")
    parser.add_argument("--force", action="store_true", help="replace an existing destination")
    parser.add_argument("--float32", action="store_true",
                        help="compute in float32 even if the checkpoint computes in mixed_bfloat16 (TFLite has no "
                        "bfloat16 kernels); the parity check then runs the checkpoint's weights in float32 too")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"observations in the parity check (default {DEFAULT_SAMPLES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parity check's observations (default 0)")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"relative tolerance on values and continuous actions (default {DEFAULT_RTOL:g})")
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                        help=f"absolute tolerance on values and continuous actions (default {DEFAULT_ATOL:g})")
    return parser


def destination(checkpoint: str, fmt: str, out: str | None) -> str:
    """--out, or the checkpoint's path with the format's suffix appended (a run folder `runs/X/` gives
    `runs/X.keras` and `.` gives `../<this folder>.keras`: beside the folder, never a hidden file inside)."""
    return os.path.abspath(os.path.expanduser(out) if out else
                           os.path.abspath(os.path.expanduser(checkpoint)) + export_formats.SUFFIXES[fmt])


def load_for_export(path: str, *, float32: bool) -> tuple[Any, dict[str, Any]]:
    """(acting policy, metadata) of a checkpoint; with `float32`, rebuilt to compute in float32 (same weights)."""
    from baselines_tf2.training.agent import load_policy

    policy, metadata, _groups = load_policy(path, precision="float32" if float32 else None)
    return policy, metadata


def parity_problems(
    expected: dict[str, np.ndarray], got: dict[str, np.ndarray], *, rtol: float, atol: float
) -> list[str]:
    """What differs between the policy's outputs and the artefact's: missing outputs, shapes, actions, values."""
    problems = []
    for name, reference in expected.items():
        if name not in got:
            problems.append(f"the artefact has no output {name!r} (it has {sorted(got)})")
            continue
        actual = got[name]
        if actual.shape != reference.shape:
            problems.append(f"{name}: shape {actual.shape}, the policy gives {reference.shape}")
        elif np.issubdtype(reference.dtype, np.integer):
            wrong = np.flatnonzero(np.any((actual != reference).reshape(len(reference), -1), axis=1))
            if wrong.size:
                problems.append(f"{name} differ for {wrong.size} of {len(reference)} observations "
                                f"(first: #{wrong[0]}, {actual[wrong[0]]} instead of {reference[wrong[0]]})")
        elif not np.allclose(actual, reference, rtol=rtol, atol=atol):
            problems.append(f"{name} differ by up to {max_difference(actual, reference):.3g} "
                            f"(allowed: rtol={rtol:g}, atol={atol:g})")
    return problems


def max_difference(actual: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute elementwise difference."""
    return float(np.max(np.abs(actual.astype(np.float64) - reference.astype(np.float64)), initial=0.0))


def publish(staged: str, out: str, workdir: str) -> None:
    """Move the checked artefact into place; an existing destination is first moved into `workdir` (deleted later)."""
    if os.path.lexists(out):
        os.replace(out, os.path.join(workdir, "replaced"))
    os.replace(staged, out)


def _checked_destination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The output path after the checks that need no TensorFlow; usage errors exit 2."""
    if not os.path.exists(args.checkpoint):
        parser.error(f"no checkpoint at {args.checkpoint!r}")
    if args.samples < 1:
        parser.error(f"--samples must be >= 1, got {args.samples}")
    for name in ("rtol", "atol"):  # a negative or NaN tolerance fails every parity check, reported as a mismatch
        if not 0.0 <= getattr(args, name) < math.inf:
            parser.error(f"--{name} must be a finite number >= 0, got {getattr(args, name)}")
    try:
        export_formats.check_available(args.format)
    except export_formats.MissingDependencyError as err:
        parser.error(str(err))
    out = destination(args.checkpoint, args.format, args.out)
    if args.format == "keras" and not out.endswith(".keras"):
        parser.error(f"--out for --format keras must end with .keras (Keras refuses other names), got {out!r}")
    if os.path.lexists(out) and not args.force:
        parser.error(f"{out!r} already exists; remove it or pass --force to replace it")
    try:
        source = os.path.realpath(resolve_checkpoint_path(args.checkpoint))
    except CheckpointError as err:
        parser.error(str(err))
    if os.path.lexists(out) and (source == os.path.realpath(out) or source.startswith(os.path.realpath(out) + os.sep)):
        parser.error(f"--out {out!r} is, or holds, the checkpoint being exported, which --force would delete; "
                     "give another destination")
    if not os.path.isdir(os.path.dirname(out)):
        parser.error(f"the folder of --out, {os.path.dirname(out)!r}, does not exist")
    if not os.access(os.path.dirname(out), os.W_OK):
        parser.error(f"the folder of --out, {os.path.dirname(out)!r}, is not writable; give a destination elsewhere")
    return out


def _head(message: str, lines: int = 6) -> str:
    """The first lines of a long message (converters put whole MLIR dumps into theirs)."""
    parts = message.splitlines()
    return "\n".join(parts[:lines] + ([f"... ({len(parts) - lines} more lines)"] if len(parts) > lines else []))


def _describe(name: str, array: np.ndarray) -> str:
    return f"{name}: {array.dtype} [batch{''.join(f', {d}' for d in array.shape[1:])}]"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, export, check, publish; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = _checked_destination(parser, args)

    from baselines_tf2.tools.inference_model import UnsupportedPolicyError, inference_model, sample_observations

    try:
        policy, metadata = load_for_export(args.checkpoint, float32=args.float32)
        if args.format == "tflite" and metadata.get("precision") == "mixed_bfloat16":
            raise UnsupportedPolicyError("the checkpoint computes in mixed_bfloat16, for which TFLite has no "
                                         "kernels; add --float32 to export it computing in float32 (same weights)")
        if args.format == "onnx" and isinstance(policy.observation_space, gymnasium.spaces.Dict):
            raise UnsupportedPolicyError(
                f"--format onnx exports models of one observation array, and this {metadata['alg']} checkpoint "
                f"takes Dict observations ({', '.join(policy.observation_space.spaces)}); export it as savedmodel, "
                "keras or tflite, whose models take one named input per key")
        model = inference_model(policy, metadata["alg"])
    except (CheckpointError, UnsupportedPolicyError) as err:
        parser.error(str(err))
    obs = sample_observations(policy.observation_space, args.samples, args.seed)
    expected = policy.reference_outputs(obs)

    try:  # the folder the artefact is staged in, beside the destination (a rename publishes it)
        staging = tempfile.TemporaryDirectory(prefix=f".{os.path.basename(out)}.partial-", dir=os.path.dirname(out))
    except OSError as err:  # a read-only file system, or one that takes no folders (os.access passes root)
        parser.error(f"cannot write in the folder of --out, {os.path.dirname(out)!r} ({err.strerror}); "
                     "give a destination elsewhere")
    with staging as workdir:
        staged = os.path.join(workdir, os.path.basename(out))
        try:
            export_formats.write(args.format, model, staged, workdir)
            got = export_formats.run(args.format, staged, obs)
        except Exception as err:  # converters raise many types; report and write nothing
            print(f"export to {args.format} failed, nothing written: {type(err).__name__}: {_head(str(err))}",
                  file=sys.stderr)
            return 1
        problems = parity_problems(expected, got, rtol=args.rtol, atol=args.atol)
        if problems:
            print(f"the exported {args.format} model does not match the checkpoint's policy on {args.samples} "
                  f"observations (seed {args.seed}); nothing written:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        publish(staged, out, workdir)

    value_kind = policy.value_kind
    actions_match = "equal" if np.issubdtype(expected["actions"].dtype, np.integer) else "within tolerance"
    inputs = obs if isinstance(obs, dict) else {export_formats.INPUT_NAME: obs}
    print(f"wrote {out} ({args.format}, computing in {metadata.get('precision', 'float32')})\n"
          f"  input   {', '.join(_describe(name, value) for name, value in inputs.items())}\n"
          f"  outputs {_describe('actions', expected['actions'])} (most likely action), "
          f"{_describe('values', expected['values'])} ({value_kind})\n"
          f"  parity  {args.samples} observations (seed {args.seed}): actions {actions_match}, values within "
          f"{max_difference(got['values'], expected['values']):.2g} (rtol={args.rtol:g}, atol={args.atol:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
