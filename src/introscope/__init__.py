"""introscope: controlled self-report experiments on open-weight language models.

The names below are the Python API; everything else lives in its module
(``introscope.core.vectors``, ``introscope.store``, ``introscope.runner`` ...).

The engine names are resolved on first use (PEP 562), so importing a torch-free part of the
package (``introscope.experiments``, ``introscope.report``, ``introscope.stats``) does not
import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from introscope.errors import IntroscopeError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from introscope.core.engine import Engine, Generation
    from introscope.core.models import LoadedModel, ModelInfo, load_model
    from introscope.core.steering import Injection, Window

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


def __getattr__(name: str) -> Any:
    if name in ("Engine", "Generation"):
        from introscope.core import engine

        return getattr(engine, name)
    if name in ("LoadedModel", "ModelInfo", "load_model"):
        from introscope.core import models

        return getattr(models, name)
    if name in ("Injection", "Window"):
        from introscope.core import steering

        return getattr(steering, name)
    raise AttributeError(f"module 'introscope' has no attribute {name!r}")
