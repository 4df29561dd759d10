"""Reading and writing spec files (JSON or TOML) and loading any model source by name.

Loading never executes anything from a file: JSON and TOML are parsed as data, nothing is
unpickled, and a Hugging Face config's ``auto_map`` (remote code) is ignored.
Saving is atomic: the file is written beside its target and renamed over it, so a crash
leaves either the old file or the new one, never half of either.
"""
from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .spec import ModelSpec, SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_FILE_BYTES = 16 * 1024 * 1024   # configs are a few kB; refuse anything absurd before parsing


def read_data(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a JSON or TOML file (by extension; JSON otherwise) into a dict."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise SpecError("", f"cannot read {p}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise SpecError("", f"{p} is {size} bytes; a spec or config is at most {MAX_FILE_BYTES}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError("", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError("", f"{p} is not UTF-8 text") from None
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError("", f"{p} is not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("", f"{p} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                f"column {exc.colno}") from None
        except RecursionError:
            raise SpecError("", f"{p} is nested too deeply") from None
    if not isinstance(data, dict):
        raise SpecError("", f"{p} must hold an object at the top level")
    return data


def _default_mode() -> int:
    """Permissions a plain open() would give a new file (mkstemp's 0600 would hide it from others)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path``: readers see the old file or
    the new one, never half of either."""
    target = Path(os.path.realpath(path))     # through a symbolic link, as an editor saves
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    if target.exists() and not target.is_file():     # a device or a pipe: never replaced by a file
        raise OSError(errno.EINVAL, "is not a regular file", str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def spec_to_text(spec: ModelSpec, fmt: str) -> str:
    data = spec.to_dict()
    if fmt == "toml":
        import tomli_w
        if data.get("vision") is None:
            data.pop("vision", None)
        return tomli_w.dumps(data)
    return json.dumps(data, indent=2) + "\n"


def save_spec(spec: ModelSpec, path: str | os.PathLike) -> None:
    """Write ``spec`` as TOML if the path ends in .toml, else JSON; atomically."""
    fmt = "toml" if str(path).lower().endswith(".toml") else "json"
    atomic_write_text(path, spec_to_text(spec, fmt))


def config_name(p: Path) -> str:
    """What a model file is called: a config.json by its folder, or in the Hugging Face cache
    (models--org--name/snapshots/<commit>/config.json) by its repo id, org/name; any other file
    by its stem."""
    if p.name != "config.json":
        return p.stem
    snapshots, repo = p.parent.parent, p.parent.parent.parent
    if snapshots.name == "snapshots" and repo.name.startswith("models--"):
        return repo.name[len("models--"):].replace("--", "/")
    return p.parent.name


def load_spec_file(path: str | os.PathLike) -> ModelSpec:
    """Load an Orbit spec file or a Hugging Face config.json (or a folder holding one)."""
    return load_source(path)[0]


def load_source(path: str | os.PathLike) -> tuple[ModelSpec, dict[str, Any] | None]:
    """``load_spec_file``'s spec, and the Hugging Face config it came from (None for a spec file),
    which also says how the checkpoint is stored (models.hf.checkpoint)."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
        if not p.exists():
            raise SpecError("", f"{path} is a folder without a config.json")
    data = read_data(p)
    fmt = data.get("format")
    if fmt == "orbit-spec":
        return ModelSpec.from_dict(data), None
    if isinstance(fmt, str) and ("orbit" in fmt.lower() or "blocks" in data):   # a typo, not a config
        raise SpecError("format", f"must be 'orbit-spec' for an Orbit spec, got {fmt!r}")
    if "model_type" in data:
        from .hf import spec_from_hf_config
        return spec_from_hf_config(data, name=config_name(p)), data
    if "blocks" in data:
        return ModelSpec.from_dict(data), None
    raise SpecError("", f"{p} is neither an Orbit spec (format: orbit-spec) nor a Hugging Face "
                        "config (no model_type)")
