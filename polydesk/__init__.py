"""polydesk: shared base (settings, errors, offline guard) that every package imports first."""

from polydesk.offline import enforce_offline

__version__ = "0.1.0"

enforce_offline()
