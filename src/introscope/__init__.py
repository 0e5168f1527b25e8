"""introscope: controlled self-report experiments on open-weight language models."""

from __future__ import annotations

__version__ = "0.1.0"
