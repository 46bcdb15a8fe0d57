"""TRPO (baselines' trpo_mpi): `trpo_mpi.learn`, defaults per env type in `defaults`."""
