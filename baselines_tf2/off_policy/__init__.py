"""What DDPG, TD3 and SAC share: the replay memory and the collection loop (TF-free), the actor and critic networks,
target updates, observation normalization and the agent's save/load/act (TF side)."""
