"""Run loggers: TensorBoard, MLflow and ``wsolkit.loggers`` plugins, fed beside metrics.jsonl.

``check_loggers(settings.runtime.loggers)`` finds the classes (and fails on an unknown name or a
missing package before training); ``LoggingCallbacks.start(callbacks, classes, settings)`` wraps
the engine's callbacks so that every call also reaches each logger, a failing one being switched
off with one warning. See docs/loggers.md.
"""

from __future__ import annotations

from wsolkit.loggers.base import RunLogger, check_loggers
from wsolkit.loggers.fanout import LoggingCallbacks

__all__ = ["LoggingCallbacks", "RunLogger", "check_loggers"]
