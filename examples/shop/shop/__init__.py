"""Reference shop application deployed by the opsforge.webstack collection."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opsforge-shop")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
