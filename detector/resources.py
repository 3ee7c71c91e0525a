"""Files shipped inside the package: the default classifier heads, the demo's config and its data.

They live at the repository's top level (``models/``, ``examples/``, ``data/``) and are reached through
``detector/bundled/``, whose entries point there in a checkout and are real folders in an installed wheel
(``pyproject.toml`` lists what the wheel carries). Found with ``importlib.resources``, so the same code works
from a checkout, an editable install and a plain ``pip install``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled(*parts: str) -> Path:
    """The path of a shipped file or folder, e.g. ``bundled("models", "default")``.

    A real path, not a traversable: the model loaders and the config reader open folders by path, and the
    package is installed unzipped (a wheel always is).
    """
    resource = files("detector").joinpath("bundled", *parts)
    if not isinstance(resource, Path):
        raise RuntimeError(f"detector is installed zipped ({resource}); install it from a wheel or a checkout")
    return resource
