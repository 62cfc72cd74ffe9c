"""Where model files shipped inside installed wheels are (found without importing them).

Importing basic-pitch or tempocnn would import TensorFlow; only their model
files are used, so the package directory is located from its import spec.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def shipped_file(package: str, *parts: str) -> Path | None:
    """`parts` under the installed `package`'s directory, or None when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.exists() else None
