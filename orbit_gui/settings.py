"""Persistent settings: a small schema-versioned JSON file in the platform's config directory
(platformdirs), written atomically. ORBIT_EXPLORER_CONFIG_DIR overrides the folder (tests)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from models.spec_io import atomic_write_text

SCHEMA_VERSION = 1
MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get("ORBIT_EXPLORER_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir
    return Path(user_config_dir("orbit-explorer", appauthor=False))


@dataclass
class Settings:
    version: int = SCHEMA_VERSION
    geometry: str = ""            # base64 of QMainWindow.saveGeometry()
    window_state: str = ""        # base64 of QMainWindow.saveState()
    last_model: str = ""          # "catalog:<id>" or "file:<path>"
    recent_files: list[str] = field(default_factory=list)
    theme: str = "system"         # system | light | dark
    hardware: str = "h100-sxm"

    def add_recent(self, path: str) -> None:
        self.recent_files = [path] + [p for p in self.recent_files if p != path]
        del self.recent_files[MAX_RECENT:]


def load_settings() -> Settings:
    """Unknown, old or damaged files give defaults (the app must always start)."""
    path = config_dir() / "settings.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict) or data.get("version") != SCHEMA_VERSION:
        return Settings()
    defaults = asdict(Settings())
    clean = {k: data[k] for k in defaults if k in data and isinstance(data[k], type(defaults[k]))}
    if "recent_files" in clean:               # a hand-edited list may hold anything
        clean["recent_files"] = [p for p in clean["recent_files"] if isinstance(p, str) and p][:MAX_RECENT]
    return Settings(**clean)


def save_settings(settings: Settings) -> None:
    try:
        atomic_write_text(config_dir() / "settings.json", json.dumps(asdict(settings), indent=2))
    except OSError:
        pass   # a read-only config folder must not stop the app
