"""One line per block result of an `orbit-explorer profile --json` file, and the whole-model figures.

    python3 benchmarks/profile_summary.py PROFILE.json [...]
"""
from __future__ import annotations

import json
import sys


def us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.1f} us"


def summarise(path: str) -> None:
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"{path}: no profile ({exc})")
        return
    print(f"== {d['request']['model']} on {d['device']}: {d['status']}, {d['elapsed_s']:.0f} s")
    for b in d["blocks"]:
        print(f"  {b['block']:<20} {b['phase']:<8} {b['backend']:<12} {b['status']:<8} "
              f"p50 {us(b['p50_s']):>14}  predicted {us(b['predicted_s']):>14}  "
              f"{(b.get('roofline_pct') or 0):5.1f}% of floor  {b['message'][:70]}")
    for name, w in (d.get("whole_by_backend") or {}).items():
        print(f"  whole model, {name}: decode {us(w['decode_s'])} per step "
              f"(predicted {us(w['predicted_decode_s'])}), prefill {w['prefill_s']} s")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        summarise(arg)
