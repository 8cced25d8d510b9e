"""fabqueue: the local service that runs a café numérique's fab machines."""

__version__ = "0.1.0"
