"""Tools used after training: playing and scoring checkpoints, export formats, the TF1-model importer's helpers."""
