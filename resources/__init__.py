"""Data shipped with Orbit Explorer: catalog, hardware database, taxonomy, icons, styles."""
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
