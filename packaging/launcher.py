"""The bundle's entry point (PyInstaller needs a script): the same as ``orbit-explorer``."""
import sys

from orbit_gui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
