"""baselines' `her.experiment` scripts that baselines_tf2 keeps: `data_generation` (recording demonstrations)."""
