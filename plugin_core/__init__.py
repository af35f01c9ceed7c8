"""countertrack runtime: everything needed to render B from A with a bundle, without torch."""

from plugin_core.errors import CountertrackError

__version__ = "0.1.0"
__all__ = ["CountertrackError", "__version__"]
