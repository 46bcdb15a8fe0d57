"""Episode statistics for single envs (baselines' `bench`): Monitor writes monitor.csv, load_results reads it back."""

from __future__ import annotations

from baselines_tf2.bench.benchmarks import (
    find_task_for_env_id_in_any_benchmark,
    get_benchmark,
    get_task,
    list_benchmarks,
    register_benchmark,
)
from baselines_tf2.bench.monitor import LoadMonitorResultsError, Monitor, ResultsWriter, get_monitor_files, load_results

__all__ = ["LoadMonitorResultsError", "Monitor", "ResultsWriter", "get_monitor_files", "load_results",
           "register_benchmark", "list_benchmarks", "get_benchmark", "get_task",
           "find_task_for_env_id_in_any_benchmark"]  # baselines' bench re-exported its benchmark registry too
