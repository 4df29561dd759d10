"""``orbit-explorer sweep``: one model costed over every combination of workload values.

Sizing a deployment means asking the same question many times: does it fit, and how fast is it,
on which device, at what bit-width, for which context and batch. Each row is exactly what
``estimate`` prints for that combination (the same ``cost_report``); the table only saves running
it once per row.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import re
import sys

from models.spec import SpecError

# the swept flags, outermost first: rows group by device, then format, then shape
SWEPT = ("hardware", "gpus", "weights", "kv", "context", "batch")
_COUNTS = ("gpus", "context", "batch")
MAX_ROWS = 10_000
_SUFFIX = {"": 1, "k": 1024, "m": 1024 ** 2}


def token_count(key: str, text: str) -> int:
    """'4096', '32k' (32,768: a "32K context" counts in binary thousands) or '1M' (1,048,576)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", text)
    if match is None:
        raise SpecError(key, f"{text!r} is not a count (write 4096, 32k or 1M)")
    return int(match.group(1)) * _SUFFIX[match.group(2).lower()]


def parse_values(key: str, text: str) -> list:
    """A comma-separated list of the flag's values, in order, without repeats."""
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise SpecError(key, f"{text!r} has an empty item: separate values with single commas")
    values = [token_count(key, t) for t in items] if key in _COUNTS else items
    return list(dict.fromkeys(values))


def sweep_rows(spec, base, values: dict[str, list], fits_only: bool = False) -> list[dict]:
    """One row per combination of ``values`` (flag -> list), over the Workload ``base``. Every
    value is checked before anything is costed, so a typo fails at once, naming the value."""
    from models.cost import cost_report
    from models.economics import serving_usd_per_million_tokens
    from models.hardware import get_hardware
    names = {"gpus": "devices"}             # the flag's name on the Workload
    combos = 1
    for key in SWEPT:
        combos *= len(values[key])
        for v in values[key]:               # each value alone, for a message naming it (by its flag)
            try:
                dataclasses.replace(base, **{names.get(key, key): v}).validate()
            except SpecError as exc:
                if exc.field != names.get(key, key):
                    raise
                raise SpecError(key, exc.rule) from None
        if key == "hardware":
            for v in values[key]:
                get_hardware(v)
    if combos > MAX_ROWS:
        raise SpecError("sweep", f"{combos:,} combinations; at most {MAX_ROWS:,}: sweep fewer values at once")
    rows = []
    for combo in itertools.product(*(values[k] for k in SWEPT)):
        chosen = dict(zip(SWEPT, combo))
        wl = dataclasses.replace(base, **{names.get(k, k): v for k, v in chosen.items()})
        r = cost_report(spec, wl)
        if fits_only and not r.memory.fits:
            continue
        rows.append({**chosen, "memory_per_device_bytes": r.memory.per_device,
                     "capacity_bytes": r.hardware.memory_bytes, "fits": r.memory.fits,
                     "ttft_s": r.ttft_s, "tpot_s": r.tpot_s, "tokens_per_s": r.tokens_per_s,
                     "serving_usd_per_million_tokens": serving_usd_per_million_tokens(r),
                     "max_batch": r.max_batch, "max_context": r.max_context, "notes": list(r.notes)})
    return rows


def _text_table(rows: list[dict], shown: list[str], notes: list[str]) -> list[str]:
    """The rows under a header; a row's notes as footnote numbers into ``notes``."""
    from orbit_gui.cli import _fmt_bytes, _fmt_time
    head = shown + ["per device", "fits", "TTFT", "per token", "tokens/s", "$/M tokens", "max batch", "notes"]
    body = [[str(r[k]) for k in shown]
            + [_fmt_bytes(r["memory_per_device_bytes"]), "yes" if r["fits"] else "NO",
               _fmt_time(r["ttft_s"]), _fmt_time(r["tpot_s"]), f"{r['tokens_per_s']:,.1f}",
               "-" if r["serving_usd_per_million_tokens"] is None else f"{r['serving_usd_per_million_tokens']:.2f}",
               f"{r['max_batch']:,}", ",".join(str(notes.index(n) + 1) for n in r["notes"])] for r in rows]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    # names left, figures right, as a spreadsheet would
    left = {"hardware", "weights", "kv", "fits", "notes"}

    def line(cells):
        return "  ".join(c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(cells, widths, head)).rstrip()
    return [line(head)] + [line(b) for b in body]


def cmd_sweep(args) -> int:
    from orbit_gui.cli import resolve_source, workload_from_args
    from models.overrides import apply_assignments, parse_assignments
    spec, config = resolve_source(args.model)
    if args.set:
        spec = apply_assignments(spec, parse_assignments(args.set))
    values = {k: parse_values(k, getattr(args, k)) for k in SWEPT}
    single = argparse.Namespace(**{**vars(args), **{k: v[0] for k, v in values.items()}, "position": None})
    base = workload_from_args(single, config)        # --as-shipped sets the weights: one value then
    if args.as_shipped:
        if len(values["weights"]) > 1:
            raise SpecError("weights", "--as-shipped takes the weight format from config.json: sweep "
                                       "--weights without it")
        values["weights"] = [base.weights]
    rows = sweep_rows(spec, base, values, args.fits_only)
    fixed = {k: v[0] for k, v in values.items() if len(v) == 1}
    if args.json:
        json.dump({"model": spec.name, "model_type": spec.model_type, "fixed": fixed,
                   "workload": dataclasses.asdict(base), "rows": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.csv:
        columns = list(SWEPT) + [k for k in (rows[0] if rows else {}) if k not in SWEPT]
        out = csv.DictWriter(sys.stdout, columns, lineterminator="\n")
        out.writeheader()
        out.writerows({**r, "notes": "; ".join(r["notes"])} for r in rows)
        return 0
    shown = [k for k in SWEPT if len(values[k]) > 1] or ["context", "batch"]
    held = [f"{k} {v}" for k, v in fixed.items() if k not in shown]
    if base.expert_weights:
        held.append(f"experts {base.expert_weights}")
    print(f"{spec.name}  ({spec.num_layers} layers); " + ", ".join(held)
          + (" (as shipped)" if args.as_shipped else ""))
    if not rows:
        print("  no combination fits" if args.fits_only else "  nothing to cost")
        return 0
    notes = list(dict.fromkeys(n for r in rows for n in r["notes"]))
    for text in _text_table(rows, shown, notes):
        print("  " + text)
    for i, note in enumerate(notes, 1):
        print(f"  {i}: {note}")
    return 0


def add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="a model costed over every combination of devices, formats, "
                                     "contexts and batches")
    p.add_argument("model", help="catalog id, spec file, or Hugging Face config.json / folder")
    p.add_argument("--hardware", default="h100-sxm", help="device ids, comma-separated (see list --hardware)")
    p.add_argument("--gpus", default="1", help="device counts (tensor parallel), e.g. 1,2,4,8")
    p.add_argument("--weights", default="bf16", help="weight formats, e.g. bf16,fp8,int4")
    p.add_argument("--kv", default="bf16", help="KV-cache formats, e.g. bf16,fp8")
    p.add_argument("--context", default="4096", help="prompt tokens per sequence, e.g. 4k,32k,128k")
    p.add_argument("--batch", default="1", help="sequences, e.g. 1,8,64")
    p.add_argument("--expert-weights", default="", metavar="FORMAT",
                   help="routed experts' own weight format (gpt-oss: fp4); default: the weights'")
    p.add_argument("--as-shipped", action="store_true",
                   help="the weight formats the model's config.json states, in place of --weights")
    p.add_argument("--activations", default="bf16", help="activation/compute format")
    p.add_argument("--group-size", type=int, default=128, help="quantization group size")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="edit the spec like the GUI knobs (kv_heads, attention, experts, ...)")
    p.add_argument("--fits-only", action="store_true", help="only the combinations that fit in memory")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--csv", action="store_true", help="one CSV row per combination on stdout")
