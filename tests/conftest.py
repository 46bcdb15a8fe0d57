"""Shared pytest set-up: keep TensorFlow quiet and small in the test process."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
