"""Ours beside stable-baselines3 on the same machine, in one invocation: a Markdown table of medians and ratios.

Every measurement runs as its own subprocess: ours with this interpreter (`ours.py`), the peer with the python of
a separate virtualenv (`peer_sb3.py`), so stable-baselines3 and torch never become our dependencies. Ours and the
peer alternate run by run (the order flips on every other repeat), `--repeats` times each; the table shows
medians and the speed ratio ours/peer against the peer's fastest configuration (> 1: ours is faster).

    python benchmarks/compare_peers.py --repeats 3 [--only act] [--json results.json] [--also_bf16]
                                       [--peer_venv /path/to/sb3-venv] [--torch_threads 1]

Measurements: ppo_breakout (PPO end to end, 8 envs), dqn_breakout (DQN while learning), learner (PPO minibatch
step, 256 frames), act (one acting call on 8 frames), env (8 Breakout envs, random actions). The peer venv is
built on first use: `python -m venv PATH`, then pip installs torch==2.13.0 (the CPU build shipped on these
machines) and stable-baselines3, sb3-contrib, gymnasium[mujoco], ale-py, opencv-python-headless with that torch
pinned; an existing venv that cannot import them gets the missing ones installed the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OURS_SCRIPT = BENCH_DIR / "ours.py"
PEER_SCRIPT = BENCH_DIR / "peer_sb3.py"
PEER_TORCH = "torch==2.13.0"  # the CPU build these machines ship; pip must never pick another torch
# gymnasium[mujoco] brings the MuJoCo wheel (runs offline) for continuous_control.py's HalfCheetah and Hopper runs;
# sb3-contrib holds the peer's TRPO.
PEER_PACKAGES = ("stable-baselines3", "sb3-contrib", "gymnasium[mujoco]", "ale-py", "opencv-python-headless")
PEER_IMPORT_CHECK = "import ale_py, cv2, gymnasium, sb3_contrib, stable_baselines3, torch"
MEASUREMENTS = ("ppo_breakout", "dqn_breakout", "learner", "act", "env")
BF16_MEASUREMENTS = ("ppo_breakout", "dqn_breakout", "learner", "act")  # where ours takes precision=mixed_bfloat16
# Per-measurement figures besides the headline value that the detail table shows (medians over runs).
DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "ppo_breakout": ("wall_s", "steady_rollout_s", "steady_train_s", "train_ms_per_minibatch"),
    "dqn_breakout": ("sps_before_learning",),
    "learner": ("ms_per_step",),
    "act": ("p90_ms",),
    "env": (),
}
# What differs between the two sides beyond the framework, printed under the tables.
NOTES: dict[str, str] = {
    "ppo_breakout": "steady = from the end of the first update to the end; both use constant lr and clip range; "
                    "ours clips the value loss (baselines), SB3 does not (its default).",
    "dqn_breakout": "'SB3's Q-network' is ours configured as SB3 DQN (Nature CNN with VALID padding and one "
                    "512-unit layer, ~1.7M parameters, no dueling, no double Q: 2 network passes per train step); "
                    "atari() defaults are baselines' (SAME-padded convs, dueling 256-unit streams, double Q: ~4.0M "
                    "parameters, 3 passes). Both sides skip the network on exploratory steps.",
    "learner": "one prebuilt minibatch (256 x 84x84x4 uint8) per step on both sides: loss, backward, clip to norm "
               "0.5, Adam; the peer is SB3's ActorCriticCnnPolicy with PPO.train's minibatch arithmetic.",
    "act": "NumPy in, NumPy out; the peer's forward is what SB3 PPO's rollout calls, predict its user-facing API.",
    "env": "both stack 4 frames with VecFrameStack; ours is make_atari_env's default (ShmemVecEnv, one worker per "
           "core, 4 envs each), the peer runs its DummyVecEnv and its SubprocVecEnv (one process per env) and the "
           "faster is compared, as for ppo_breakout.",
}
TAIL_LINES = 25  # of a failed run's stderr, shown on our stderr


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One configuration of one measurement: which side runs it and with which script arguments."""

    measurement: str
    side: str  # "ours" or "peer"
    label: str  # the configuration's name in the tables
    script_args: tuple[str, ...]


@dataclasses.dataclass
class ConfigResults:
    """Every run of one configuration: the headline values and the full JSON each run printed."""

    spec: RunSpec
    unit: str = ""
    values: list[float] = dataclasses.field(default_factory=list)
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failures: int = 0

    def median(self) -> float | None:
        """Median headline value, or None when every run failed."""
        return statistics.median(self.values) if self.values else None

    def detail_median(self, key: str) -> float | None:
        """Median of `key` over the successful runs that reported it."""
        found = [record[key] for record in self.records if isinstance(record.get(key), (int, float))]
        return statistics.median(found) if found else None


def lower_is_better(unit: str) -> bool:
    """Latencies (ms) improve downwards; rates (steps/s, samples/s) upwards."""
    return unit == "ms"


def speed_ratio(ours: float, peer: float, unit: str) -> float:
    """How many times faster ours is: ours/peer for rates, peer/ours for latencies."""
    return peer / ours if lower_is_better(unit) else ours / peer


def plan(args: argparse.Namespace) -> dict[str, tuple[list[RunSpec], list[RunSpec]]]:
    """(our configurations, the peer's configurations) of each selected measurement."""
    seed = ("--seed", str(args.seed))
    threads = ("--torch_threads", str(args.torch_threads)) if args.torch_threads is not None else ()
    ppo = ("ppo_breakout", "--timesteps", str(args.ppo_timesteps), *seed)
    dqn = ("dqn_breakout", "--timesteps", str(args.dqn_timesteps), "--measure_after", str(args.dqn_measure_after),
           *seed)
    learner = ("learner", "--seconds", str(args.learner_seconds), *seed)
    act = ("act", "--calls", str(args.act_calls), *seed)
    env = ("env", "--steps", str(args.env_steps), *seed)
    everything = {
        "ppo_breakout": (
            [RunSpec("ppo_breakout", "ours", "ppo2.learn, ShmemVecEnv", ppo)],
            [RunSpec("ppo_breakout", "peer", "PPO, DummyVecEnv", (*ppo, "--vec", "dummy", *threads)),
             RunSpec("ppo_breakout", "peer", "PPO, SubprocVecEnv", (*ppo, "--vec", "subproc", *threads))],
        ),
        "dqn_breakout": (
            [RunSpec("dqn_breakout", "ours", "deepq.learn, SB3's Q-network, uniform replay",
                     (*dqn, "--prioritized", "0", "--q_network", "sb3")),
             RunSpec("dqn_breakout", "ours", "deepq.learn, SB3's Q-network, uniform replay, training in background",
                     (*dqn, "--prioritized", "0", "--q_network", "sb3", "--train_in_background", "1")),
             RunSpec("dqn_breakout", "ours", "deepq.learn, atari() defaults (prioritized replay)",
                     (*dqn, "--prioritized", "1"))],
            [RunSpec("dqn_breakout", "peer", "DQN, uniform replay", (*dqn, *threads))],
        ),
        "learner": (
            [RunSpec("learner", "ours", "PPO2Model.train_step", learner)],
            [RunSpec("learner", "peer", "ActorCriticCnnPolicy + PPO.train step", (*learner, *threads))],
        ),
        "act": (
            [RunSpec("act", "ours", "PolicyWithValue.step", act)],
            [RunSpec("act", "peer", "policy.forward, no_grad", (*act, "--api", "forward", *threads)),
             RunSpec("act", "peer", "policy.predict", (*act, "--api", "predict", *threads))],
        ),
        "env": (
            [RunSpec("env", "ours", "make_atari_env, ShmemVecEnv", env)],
            [RunSpec("env", "peer", "make_atari_env, DummyVecEnv", (*env, "--vec", "dummy")),
             RunSpec("env", "peer", "make_atari_env, SubprocVecEnv", (*env, "--vec", "subproc"))],
        ),
    }
    if args.also_bf16:
        for name in BF16_MEASUREMENTS:
            ours = everything[name][0]
            ours.extend([dataclasses.replace(spec, label=f"{spec.label}, mixed_bfloat16",
                                             script_args=(*spec.script_args, "--precision", "mixed_bfloat16"))
                         for spec in list(ours)])
    return {name: everything[name] for name in dict.fromkeys(args.only or MEASUREMENTS)}


def alternating(ours: list[RunSpec], peer: list[RunSpec], repeat: int) -> list[RunSpec]:
    """Ours and the peer interleaved (o, p, o, p, ...); every other repeat runs the same list backwards."""
    order: list[RunSpec] = []
    for index in range(max(len(ours), len(peer))):
        order.extend(ours[index : index + 1])
        order.extend(peer[index : index + 1])
    return order[::-1] if repeat % 2 else order


def peer_python(venv: Path) -> Path:
    """The venv's interpreter."""
    return venv / "bin" / "python"


def run_or_exit(commands: list[list[str]], what: str) -> None:
    """Run `commands` in order, echoing each; SystemExit naming the first that fails."""
    for command in commands:
        print("  $ " + shlex.join(command), file=sys.stderr, flush=True)
        if subprocess.run(command).returncode != 0:
            raise SystemExit(f"{what} failed at: {shlex.join(command)}")


def ensure_peer_venv(venv: Path) -> Path:
    """The peer venv's python, building the venv first if it does not exist, or installing PEER_PACKAGES (torch
    pinned; pip leaves installed ones as they are) into one that cannot import them; SystemExit if it still cannot."""
    python = peer_python(venv)
    pip = [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check"]
    if not python.exists():
        print(f"building the peer virtualenv at {venv} (once; a few minutes)", file=sys.stderr, flush=True)
        run_or_exit([[sys.executable, "-m", "venv", str(venv)], [*pip, PEER_TORCH], [*pip, *PEER_PACKAGES, PEER_TORCH]],
                    "building the peer venv")
    check = subprocess.run([str(python), "-c", PEER_IMPORT_CHECK], capture_output=True, text=True)
    if check.returncode != 0:
        missing = (check.stderr.strip().splitlines() or ["no error output"])[-1]
        print(f"the peer virtualenv at {venv} cannot import its packages ({missing}); installing them",
              file=sys.stderr, flush=True)
        run_or_exit([[*pip, *PEER_PACKAGES, PEER_TORCH]], "upgrading the peer venv")
        check = subprocess.run([str(python), "-c", PEER_IMPORT_CHECK], capture_output=True, text=True)
    if check.returncode != 0:
        last_line = (check.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SystemExit(
            f"the peer venv {venv} cannot import its packages ({last_line}); "
            f"delete it to have it rebuilt, or pass --peer_venv with a working one"
        )
    return python


def last_json_object(stdout: str) -> dict[str, Any] | None:
    """The last stdout line that parses as a JSON object (the measurement's result), or None."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def run_once(command: list[str], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Run one measurement subprocess; (its JSON result or None, an error description or '')."""
    try:
        completed = subprocess.run(command, cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    result = last_json_object(completed.stdout)
    if completed.returncode != 0 or result is None:
        tail = "\n".join(completed.stderr.strip().splitlines()[-TAIL_LINES:])
        return None, f"exit status {completed.returncode}, no result line; stderr ends:\n{tail}"
    return result, ""


def run_all(args: argparse.Namespace, python_of: dict[str, str]) -> dict[str, list[ConfigResults]]:
    """Every selected measurement, repeats alternating ours and the peer; results per configuration."""
    planned = plan(args)
    results = {name: [ConfigResults(spec) for spec in ours + peer] for name, (ours, peer) in planned.items()}
    total = sum(len(configs) for configs in results.values()) * args.repeats
    done = 0
    for name, (ours, peer) in planned.items():
        by_spec = {config.spec: config for config in results[name]}
        for repeat in range(args.repeats):
            for spec in alternating(ours, peer, repeat):
                script = OURS_SCRIPT if spec.side == "ours" else PEER_SCRIPT
                command = [python_of[spec.side], str(script), *spec.script_args]
                started = time.perf_counter()
                result, error = run_once(command, args.timeout)
                elapsed = time.perf_counter() - started
                done += 1
                config = by_spec[spec]
                if result is None:
                    config.failures += 1
                    print(f"[{done}/{total}] {name} {spec.side} {spec.label}: FAILED ({error})", file=sys.stderr)
                    continue
                config.unit = result["unit"]
                config.values.append(float(result["value"]))
                config.records.append({**result, "label": spec.label, "repeat": repeat, "run_wall_s": elapsed,
                                       "command": command})
                print(f"[{done}/{total}] {name} {spec.side} {spec.label}: {result['value']:.4g} {result['unit']} "
                      f"({elapsed:.0f} s)", file=sys.stderr, flush=True)
    return results


def fmt(value: float | None) -> str:
    """A figure for the tables: 1,234 / 123.4 / 1.23, or 'n/a'."""
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def fastest(configs: list[ConfigResults]) -> ConfigResults | None:
    """The configuration with the best median (highest rate, lowest latency), ignoring ones that all failed."""
    measured = [config for config in configs if config.median() is not None]
    if not measured:
        return None
    if lower_is_better(measured[0].unit):
        return min(measured, key=lambda config: config.median())
    return max(measured, key=lambda config: config.median())


def runs_text(config: ConfigResults) -> str:
    """Every run's value, in run order, plus a failure count if any."""
    text = ", ".join(fmt(value) for value in config.values) or "-"
    return text + (f" ({config.failures} failed)" if config.failures else "")


def summary_rows(results: dict[str, list[ConfigResults]]) -> list[dict[str, Any]]:
    """One row per our configuration, against the peer's fastest configuration of the same measurement."""
    rows = []
    for name, configs in results.items():
        peer = fastest([config for config in configs if config.spec.side == "peer"])
        for ours in (config for config in configs if config.spec.side == "ours"):
            ours_median, peer_median = ours.median(), peer.median() if peer else None
            unit = ours.unit or (peer.unit if peer else "")
            ratio = speed_ratio(ours_median, peer_median, unit) if ours_median and peer_median else None
            rows.append({
                "measurement": name, "unit": unit, "ours_config": ours.spec.label, "ours_median": ours_median,
                "peer_config": peer.spec.label if peer else None, "peer_median": peer_median,
                "speed_ratio": ratio, "ours_runs": ours.values, "peer_runs": peer.values if peer else [],
            })
    return rows


def markdown_report(args: argparse.Namespace, results: dict[str, list[ConfigResults]], header: dict[str, Any]) -> str:
    """The command line, the machine, the summary table and every configuration's figures."""
    lines = [
        f"`{header['command']}`", "",
        f"{header['date']}; {header['machine']}; load average {header['load_before']} before, "
        f"{header['load_after']} after. Medians of {args.repeats} alternating runs per configuration; "
        "ours/peer is a speed ratio against the peer's fastest configuration (> 1: ours faster).", "",
        "| measurement | ours median (config) | peer median (config) | ours/peer | runs: ours; peer |",
        "|---|---|---|---|---|",
    ]
    for row in summary_rows(results):
        ratio = f"{row['speed_ratio']:.2f}x" if row["speed_ratio"] else "n/a"
        ours_runs = ", ".join(fmt(value) for value in row["ours_runs"]) or "-"
        peer_runs = ", ".join(fmt(value) for value in row["peer_runs"]) or "-"
        lines.append(
            f"| {row['measurement']} ({row['unit']}) | {fmt(row['ours_median'])} ({row['ours_config']}) | "
            f"{fmt(row['peer_median'])} ({row['peer_config']}) | {ratio} | {ours_runs}; {peer_runs} |"
        )
    lines += ["", "Every configuration (medians; details as each side reports them):", "",
              "| measurement | side | config | median | unit | runs | details |", "|---|---|---|---|---|---|---|"]
    for name, configs in results.items():
        for config in configs:
            details = ", ".join(f"{key} {fmt(config.detail_median(key))}" for key in DETAIL_KEYS[name]
                                if config.detail_median(key) is not None)
            lines.append(f"| {name} | {config.spec.side} | {config.spec.label} | {fmt(config.median())} | "
                         f"{config.unit} | {runs_text(config)} | {details} |")
    notes = [f"- {name}: {NOTES[name]}" for name in results]
    lines += ["", "Notes:", *notes]
    versions = header.get("versions")
    if versions:
        lines += ["", "Versions: " + ", ".join(f"{key} {value}" for key, value in versions.items())]
    return "\n".join(lines)


def machine_description() -> str:
    """CPU model and core count, for the report header."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def load_average() -> str:
    """The 1/5/15-minute load averages as text (the machine is shared: high values mean noisy figures)."""
    return "/".join(f"{load:.2f}" for load in os.getloadavg())


def versions_seen(results: dict[str, list[ConfigResults]]) -> dict[str, str]:
    """Library versions the runs reported (TensorFlow, Keras, torch, stable-baselines3)."""
    found: dict[str, str] = {}
    for configs in results.values():
        for config in configs:
            for record in config.records:
                for key in ("tensorflow", "keras", "torch", "stable_baselines3"):
                    if key in record:
                        found.setdefault(key, str(record[key]))
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The harness's flags; bad values are usage errors (exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=MEASUREMENTS,
                        help="run only this measurement (repeatable); default: all")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration, alternating ours/peer")
    parser.add_argument("--peer_venv", type=Path, default=BENCH_DIR / ".peer_venv",
                        help="virtualenv with stable-baselines3 and torch; built here if missing")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also save every run's raw results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ppo_timesteps", type=int, default=20480, help="env steps per PPO run (1024 per update)")
    parser.add_argument("--dqn_timesteps", type=int, default=6000,
                        help="env steps per DQN run (learning starts at 1000)")
    parser.add_argument("--dqn_measure_after", type=int, default=250,
                        help="DQN steps after learning starts before the clock starts")
    parser.add_argument("--learner_seconds", type=float, default=10.0, help="timed seconds of training steps per run")
    parser.add_argument("--act_calls", type=int, default=300, help="timed acting calls per run")
    parser.add_argument("--env_steps", type=int, default=1000, help="timed batched env steps per run (x 8 envs)")
    parser.add_argument("--torch_threads", type=int, default=None,
                        help="torch.set_num_threads in the peer's runs; default: torch's own (one per core)")
    parser.add_argument("--also_bf16", action="store_true",
                        help="also run each of our configurations with precision='mixed_bfloat16' "
                             "(ppo_breakout, dqn_breakout, learner, act)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is abandoned")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.ppo_timesteps < 2048:
        parser.error(f"--ppo_timesteps must cover two updates (>= 2048), got {args.ppo_timesteps}")
    if args.dqn_timesteps <= 1000 + args.dqn_measure_after:
        parser.error(f"--dqn_timesteps must exceed 1000 + --dqn_measure_after, got {args.dqn_timesteps}")
    return args


def main() -> None:
    args = parse_args()
    header: dict[str, Any] = {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine_description(),
        "load_before": load_average(),
    }
    python_of = {"ours": sys.executable, "peer": str(ensure_peer_venv(args.peer_venv.resolve()))}
    results = run_all(args, python_of)
    header["load_after"] = load_average()
    header["versions"] = versions_seen(results)
    print(markdown_report(args, results, header))
    if args.json is not None:
        raw = {
            **header, "arguments": {key: str(value) for key, value in vars(args).items()},
            "summary": summary_rows(results),
            "runs": [record for configs in results.values() for config in configs for record in config.records],
            "failures": {f"{config.spec.measurement}: {config.spec.label}": config.failures
                         for configs in results.values() for config in configs if config.failures},
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
