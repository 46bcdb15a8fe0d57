"""baselines' `her.experiment` modules that baselines_tf2 keeps: `config` (parameter dicts), `play` (playing a
checkpoint) and `data_generation` (recording demonstrations)."""
