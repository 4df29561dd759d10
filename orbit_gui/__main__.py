"""`orbit-explorer` and `python -m orbit_gui`."""
import sys


def main(argv=None) -> int:
    from .cli import run
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
