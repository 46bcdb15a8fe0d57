"""OpenAI baselines on TensorFlow 2 / Keras 3. Importing the package stays light: no TensorFlow here."""

__version__ = "0.1.0"
