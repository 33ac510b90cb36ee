"""shipahead: demand forecasts, anticipatory inventory placement and delivery routes.

One import package. The repository keeps one top-level folder per part, each installed under
this name (see docs/architecture.md):

- ``shipahead.forecasting`` (folder ``forecasting/``): per-region × SKU demand forecasts;
- ``shipahead.placement`` (``placement/``): anticipatory inventory placement;
- ``shipahead.routing`` (``routing/``): vehicle routes over a road network;
- ``shipahead.cli`` (``cli/``): the ``shipahead`` command;
- this folder (``shipahead/``): the shared core every part may import — errors, table checks,
  time of day, hashing and compute backends.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shipahead")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
