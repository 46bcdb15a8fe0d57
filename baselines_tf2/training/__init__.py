"""The training core every algorithm runs on: one `TrainingRun` owns step counting, resume, checkpoints, stop
signals, env faults, the non-finite guard, progress and evaluation; the agent registry loads any checkpoint.

This package never imports TensorFlow: algorithms bring their networks.
"""
