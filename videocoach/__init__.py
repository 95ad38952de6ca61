"""videocoach: offline, private video review of lesson recordings for teacher coaching."""

__version__ = "0.1.0"
