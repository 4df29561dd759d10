"""Starting the desktop application. torch and onnxruntime are not imported here: the window
opens without them, and profiling imports them on first use."""
from __future__ import annotations

import os
import sys


def create_window(model: str | None = None, settings=None):
    """The main window, opened on ``model`` (catalog id or path), the last model, or Llama 3 8B."""
    from orbit_gui.main_window import MainWindow
    from orbit_gui.settings import load_settings
    from orbit_gui.theme import apply_theme

    settings = settings or load_settings()
    apply_theme(settings.theme)
    window = MainWindow(settings)
    opened = False
    if model:
        opened = window.open_model(model)
    elif settings.last_model:
        kind, _, ref = settings.last_model.partition(":")
        opened = window.open_path(ref) if kind == "file" else window.open_catalog(ref)
    if not opened and window.doc.spec is None:
        why = window.statusBar().currentMessage()      # opening the fallback clears it
        window.open_catalog("llama-3-8b")
        if why:
            window.statusBar().showMessage(f"{why}; showing {window.doc.source.label} instead", 15000)
    window.set_theme(settings.theme)
    return window


def install_error_handler(window) -> None:
    """Last line of defence: an unexpected exception in a Qt slot becomes a dialog naming the
    problem (the traceback goes to errors.log in the config folder), never a dead window."""
    import traceback

    from orbit_gui.settings import config_dir

    def handler(kind, value, tb) -> None:
        try:
            log = config_dir() / "errors.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as fh:
                fh.write("".join(traceback.format_exception(kind, value, tb)) + "\n")
            where = f"\n\nDetails were written to {log}."
        except OSError:
            where = ""
        window.show_error("Something went wrong",
                          f"{kind.__name__}: {value}{where}\n\nYour model and edits are unchanged.")

    sys.excepthook = handler


def no_display_reason(environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why a window cannot open here, or None. Checked before Qt starts: without a display Qt's
    xcb plugin aborts the process (exit 134) after several lines about plugins."""
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); run it in a "
            "desktop session, with ssh -X, under xvfb-run, or use the command line (orbit-explorer --help)")


def launch(model: str | None = None) -> int:
    reason = no_display_reason()
    if reason:
        print(f"orbit-explorer: error: {reason}", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from orbit_gui import __version__
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Orbit Explorer")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("orbit-explorer")
    from PySide6.QtGui import QIcon
    from resources import RESOURCES_DIR
    app.setWindowIcon(QIcon(str(RESOURCES_DIR / "icons" / "orbit-explorer.svg")))
    window = create_window(model)
    install_error_handler(window)
    window.show()
    return app.exec()
