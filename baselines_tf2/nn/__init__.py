"""The TensorFlow side: networks, distributions, actor-critic policies, optimizers and TF setup.

Everything that imports TensorFlow or Keras lives here or in an algorithm's model module; the env side
(`baselines_tf2.common`, `baselines_tf2.bench`) never imports this package.
"""
