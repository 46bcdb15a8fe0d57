"""OpenAI baselines on TensorFlow 2 / Keras 3. Importing the package stays light: no TensorFlow here."""

import os

# TensorFlow's C++ start-up banners (CPU features, missing CUDA) say nothing a user of this library can act on;
# an explicit TF_CPP_MIN_LOG_LEVEL in the environment still wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
