"""Export formats: writing an inference model as SavedModel, .keras, TFLite or ONNX, and running what was written.

The runners load each artefact the way a user without this library would (tf.saved_model.load,
keras.models.load_model, a TFLite interpreter, ONNX Runtime), so the parity check exercises exactly that path.
TensorFlow and the converters are imported inside the functions that need them: checking the arguments stays fast.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from typing import Any

import numpy as np

FORMATS = ("savedmodel", "keras", "tflite", "onnx")
SUFFIXES = {"savedmodel": ".savedmodel", "keras": ".keras", "tflite": ".tflite", "onnx": ".onnx"}
INPUT_NAME = "observations"  # the signature's input, as inference_model names it
SIGNATURE = "serving_default"
ONNX_PACKAGES = ("tf2onnx", "onnxruntime")  # converter, and the runtime the parity check runs the file in


class MissingDependencyError(ValueError):
    """The format needs a package that is not installed."""


def check_available(fmt: str) -> None:
    """Raise MissingDependencyError naming the pip command if `fmt` needs packages that are not installed."""
    if fmt != "onnx":
        return
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"--format onnx needs {' and '.join(missing)} (converter and runtime for the parity check); "
            f"install with: pip install {' '.join(ONNX_PACKAGES)}"
        )


def write(fmt: str, model: Any, path: str, workdir: str) -> None:
    """Write `model` (a functional keras.Model) to `path` in `fmt`; `workdir` holds intermediate files."""
    if fmt == "keras":
        model.save(path)
    elif fmt == "savedmodel":
        model.export(path, format="tf_saved_model", verbose=False)
    elif fmt == "tflite":
        _write_tflite(model, path, workdir)
    elif fmt == "onnx":
        _write_onnx(model, path)
    else:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")


def _write_tflite(model: Any, path: str, workdir: str) -> None:
    import tensorflow as tf

    saved_model = os.path.join(workdir, "intermediate.savedmodel")
    model.export(saved_model, format="tf_saved_model", verbose=False)
    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(saved_model).convert()
    with open(path, "wb") as file:
        file.write(flatbuffer)


def _write_onnx(model: Any, path: str) -> None:
    import tensorflow as tf
    import tf2onnx

    observations = model.inputs[0]
    spec = [tf.TensorSpec(observations.shape, observations.dtype, name=INPUT_NAME)]
    function = tf.function(lambda obs: model(obs), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, output_path=path)


def run(fmt: str, path: str, obs: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Load the artefact at `path` with the format's plain loader and return its outputs for `obs` (one batch, or
    a goal env's batches by key, each the input of that name)."""
    inputs = obs if isinstance(obs, dict) else {INPUT_NAME: obs}
    if fmt == "keras":
        import keras

        outputs = keras.models.load_model(path)(obs)
    elif fmt == "savedmodel":
        import tensorflow as tf

        outputs = tf.saved_model.load(path).signatures[SIGNATURE](
            **{name: tf.constant(value) for name, value in inputs.items()})
    elif fmt == "tflite":
        outputs = _tflite_interpreter(path).get_signature_runner(SIGNATURE)(**inputs)
    elif fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, inputs)))
    else:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    return {name: np.asarray(value) for name, value in outputs.items()}


def _tflite_interpreter(path: str) -> Any:
    """LiteRT's interpreter (ai_edge_litert) if installed, else TensorFlow's own tf.lite.Interpreter."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():  # tf.lite.Interpreter warns that it moves to ai_edge_litert
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)
