"""baselines' benchmark registry (data only): named sets of tasks, each an env id with trials and a step budget.

The registered benchmarks and their env ids are baselines' own, unchanged (so lookups by a baselines id keep
working); MuJoCo ids are the old `-v1`/`-v2` ones, whose gymnasium counterparts are `-v4`/`-v5`.
"""

from __future__ import annotations

import re
from typing import Any

Benchmark = dict[str, Any]  # {'name', 'description', 'tasks': [{'env_id', 'trials', 'num_timesteps' | ..., 'desc'}]}

_BENCHMARKS: list[Benchmark] = []
_VERSION_SUFFIX = re.compile(r"-v\d+$")
_ATARI_SUFFIX = "NoFrameskip-v4"


def register_benchmark(benchmark: Benchmark) -> None:
    """Add `benchmark`; a task without 'desc' gets its env id without the version. ValueError if the name is taken."""
    if benchmark["name"] in list_benchmarks():
        raise ValueError(f"benchmark {benchmark['name']!r} is already registered")
    for task in benchmark.get("tasks", []):
        task.setdefault("desc", _VERSION_SUFFIX.sub("", task.get("env_id", task.get("id", ""))))
    _BENCHMARKS.append(benchmark)


def list_benchmarks() -> list[str]:
    """Names of the registered benchmarks, in registration order."""
    return [benchmark["name"] for benchmark in _BENCHMARKS]


def get_benchmark(benchmark_name: str) -> Benchmark:
    """The benchmark registered as `benchmark_name`; ValueError listing the known names otherwise."""
    for benchmark in _BENCHMARKS:
        if benchmark["name"] == benchmark_name:
            return benchmark
    raise ValueError(f"benchmark {benchmark_name!r} not found; known benchmarks: {', '.join(list_benchmarks())}")


def get_task(benchmark: Benchmark, env_id: str) -> dict[str, Any] | None:
    """The task of `benchmark` for `env_id`, or None if it has none."""
    return next((task for task in benchmark["tasks"] if task["env_id"] == env_id), None)


def find_task_for_env_id_in_any_benchmark(env_id: str) -> tuple[Benchmark | None, dict[str, Any] | None]:
    """(benchmark, task) of the first registered benchmark with a task for `env_id`, else (None, None)."""
    for benchmark in _BENCHMARKS:
        task = get_task(benchmark, env_id)
        if task is not None:
            return benchmark, task
    return None, None


def _atari_tasks(games: list[str], trials: int, **budget: int) -> list[dict[str, Any]]:
    return [{"desc": game, "env_id": game + _ATARI_SUFFIX, "trials": trials, **budget} for game in games]


def _tasks(env_ids: list[str], trials: int, num_timesteps: int) -> list[dict[str, Any]]:
    return [{"env_id": env_id, "trials": trials, "num_timesteps": num_timesteps} for env_id in env_ids]


_ATARI_7 = ["BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders"]
_ATARI_EXPLORATION_7 = ["Freeway", "Gravitar", "MontezumaRevenge", "Pitfall", "PrivateEye", "Solaris", "Venture"]
_ATARI_47 = [
    "Alien", "Amidar", "Assault", "Asterix", "Asteroids", "Atlantis", "BankHeist", "BattleZone", "BeamRider",
    "Bowling", "Breakout", "Centipede", "ChopperCommand", "CrazyClimber", "DemonAttack", "DoubleDunk", "Enduro",
    "FishingDerby", "Freeway", "Frostbite", "Gopher", "Gravitar", "IceHockey", "Jamesbond", "Kangaroo", "Krull",
    "KungFuMaster", "MontezumaRevenge", "MsPacman", "NameThisGame", "Pitfall", "Pong", "PrivateEye", "Qbert",
    "RoadRunner", "Robotank", "Seaquest", "SpaceInvaders", "StarGunner", "Tennis", "TimePilot", "Tutankham",
    "UpNDown", "Venture", "VideoPinball", "WizardOfWor", "Zaxxon",
]
_MUJOCO_SMALL = ["InvertedDoublePendulum-v2", "InvertedPendulum-v2", "HalfCheetah-v2", "Hopper-v2", "Walker2d-v2",
                 "Reacher-v2", "Swimmer-v2"]
_BULLET_SMALL = [name + "BulletEnv-v0" for name in ("InvertedDoublePendulum", "InvertedPendulum", "HalfCheetah",
                                                     "Reacher", "Walker2D", "Hopper", "Ant")]

register_benchmark({
    "name": "Atari50M",
    "description": "7 Atari games from Mnih et al. (2013), with pixel observations, 50M timesteps",
    "tasks": _atari_tasks(_ATARI_7, trials=2, num_timesteps=int(50e6)),
})
register_benchmark({
    "name": "Atari10M",
    "description": "7 Atari games from Mnih et al. (2013), with pixel observations, 10M timesteps",
    "tasks": _atari_tasks(_ATARI_7, trials=6, num_timesteps=int(10e6)),
})
register_benchmark({
    "name": "Atari1Hr",
    "description": "7 Atari games from Mnih et al. (2013), with pixel observations, 1 hour of walltime",
    "tasks": _atari_tasks(_ATARI_7, trials=2, num_seconds=60 * 60),
})
register_benchmark({
    "name": "AtariExploration10M",
    "description": "7 Atari games emphasizing exploration, with pixel observations, 10M timesteps",
    "tasks": _atari_tasks(_ATARI_EXPLORATION_7, trials=2, num_timesteps=int(10e6)),
})
register_benchmark({
    "name": "Mujoco1M",
    "description": "Some small 2D MuJoCo tasks, run for 1M timesteps",
    "tasks": _tasks(_MUJOCO_SMALL, trials=6, num_timesteps=int(1e6)),
})
register_benchmark({
    "name": "MujocoWalkers",
    "description": "MuJoCo forward walkers, run for 8M, humanoid 100M",
    "tasks": _tasks(["Hopper-v1", "Walker2d-v1"], trials=4, num_timesteps=8_000_000)
    + _tasks(["Humanoid-v1"], trials=4, num_timesteps=100_000_000),
})
register_benchmark({
    "name": "Bullet1M",
    "description": "6 mujoco-like tasks from bullet, 1M steps",
    "tasks": _tasks(_BULLET_SMALL, trials=6, num_timesteps=int(1e6)),
})
register_benchmark({
    "name": "Roboschool8M",
    "description": "Small 2D tasks, up to 30 minutes to complete on 8 cores",
    "tasks": _tasks(["RoboschoolReacher-v1"], trials=4, num_timesteps=2_000_000)
    + _tasks(["RoboschoolAnt-v1", "RoboschoolHalfCheetah-v1", "RoboschoolHopper-v1", "RoboschoolWalker2d-v1"],
             trials=4, num_timesteps=8_000_000),
})
register_benchmark({
    "name": "RoboschoolHarder",
    "description": "Test your might!!! Up to 12 hours on 32 cores",
    "tasks": _tasks(["RoboschoolHumanoid-v1"], trials=4, num_timesteps=100_000_000)
    + _tasks(["RoboschoolHumanoidFlagrun-v1"], trials=4, num_timesteps=200_000_000)
    + _tasks(["RoboschoolHumanoidFlagrunHarder-v1"], trials=4, num_timesteps=400_000_000),
})
register_benchmark({
    "name": "Atari50_10M",
    "description": "47 Atari games from Mnih et al. (2013), with pixel observations, 10M timesteps",
    "tasks": _atari_tasks(_ATARI_47, trials=2, num_timesteps=int(10e6)),
})
register_benchmark({
    "name": "Fetch1M",
    "description": "Fetch* benchmarks for 1M timesteps",
    "tasks": _tasks(["FetchReach-v1", "FetchPush-v1", "FetchSlide-v1"], trials=6, num_timesteps=int(1e6)),
})
