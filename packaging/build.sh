#!/usr/bin/env bash
# Build the Orbit Explorer desktop bundle with PyInstaller (a development tool, not a dependency:
# `pip install pyinstaller`).
#
#   bash packaging/build.sh [full|lite]
#
# full (default): with torch, ONNX Runtime and Triton, so live profiling works (large);
# lite: without them; everything else (diagrams, orbit, charts, export, CLI) works.
# Output: dist/orbit-explorer/ (run dist/orbit-explorer/orbit-explorer), plus share/ with the
# .desktop file, AppStream metadata and icons laid out for /usr or ~/.local.
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT="${1:-full}"
PY="${PYTHON:-python3}"

"$PY" -m PyInstaller --version >/dev/null 2>&1 || {
    echo "PyInstaller is missing: pip install pyinstaller" >&2; exit 1; }
NAME=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["name"])')
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
APP_ID=io.github.orbit_explorer.OrbitExplorer

[ -f resources/icons/orbit-explorer-512.png ] || QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py

start=$(date +%s)
ORBIT_BUNDLE="$VARIANT" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/orbit-explorer.spec
DEST="dist/$NAME"

# freedesktop integration files, in the layout of a prefix (share/applications, ...)
install -Dm644 "packaging/$APP_ID.desktop" "$DEST/share/applications/$APP_ID.desktop"
install -Dm644 "packaging/$APP_ID.metainfo.xml" "$DEST/share/metainfo/$APP_ID.metainfo.xml"
install -Dm644 resources/icons/orbit-explorer.svg "$DEST/share/icons/hicolor/scalable/apps/$APP_ID.svg"
for s in 16 24 32 48 64 128 256 512; do
    install -Dm644 "resources/icons/orbit-explorer-$s.png" "$DEST/share/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done

# smoke test: the CLI through the bundle, headless
QT_QPA_PLATFORM=offscreen "$DEST/$NAME" --version
QT_QPA_PLATFORM=offscreen "$DEST/$NAME" estimate llama-3-8b >/dev/null
echo "built $NAME $VERSION ($VARIANT) in $(( $(date +%s) - start )) s: $(du -sh "$DEST" | cut -f1) in $DEST"
