"""Episode statistics for single envs (baselines' `bench`): Monitor writes monitor.csv, load_results reads it back."""

from __future__ import annotations

from baselines_tf2.bench.monitor import LoadMonitorResultsError, Monitor, ResultsWriter, get_monitor_files, load_results

__all__ = ["LoadMonitorResultsError", "Monitor", "ResultsWriter", "get_monitor_files", "load_results"]
