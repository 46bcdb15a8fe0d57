"""What PPO2 and A2C share on top of the training core: the rollout runner (NumPy), the minibatch learner (TF)
and the rollout-then-update iteration the core repeats."""
