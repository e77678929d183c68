"""The mmzoo version: one module, imported by the package and by what records it (presets)."""

__version__ = "0.1.0"
