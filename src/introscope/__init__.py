"""introscope: controlled self-report experiments on open-weight language models.

The names below are the Python API; everything else lives in its module
(``introscope.vectors``, ``introscope.store``, ``introscope.runner`` ...).
"""

from __future__ import annotations

__version__ = "0.1.0"

from introscope.engine import Engine, Generation
from introscope.errors import IntroscopeError
from introscope.models import LoadedModel, ModelInfo, load_model
from introscope.steering import Injection, Window

__all__ = [
    "Engine",
    "Generation",
    "Injection",
    "IntroscopeError",
    "LoadedModel",
    "ModelInfo",
    "Window",
    "__version__",
    "load_model",
]
