"""Orbit Explorer: the application (entry point, CLI, main window, document, workers, export)."""
__version__ = "0.1.0"
