"""The package version, in its own module so that nothing below the package root has to import the root."""

__version__ = "0.1.0"
