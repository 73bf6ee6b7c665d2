"""streamwatch: watch live cameras for faces and deliver the events people act on."""

__version__ = "0.1.0"
