"""``orbit-explorer export`` (a view as SVG/PNG/PDF, headless) and ``orbit-explorer report``
(the figures as JSON/CSV/Markdown). Importing this module imports neither Qt nor torch: the
export command starts Qt (offscreen) only when it runs, and report never does."""
from __future__ import annotations


from orbit_gui.cli import add_workload_flags

EXPORT_VIEWS = ("architecture", "orbit", "timeline", "benchmarks", "memory", "roofline",
                "latency", "quantization", "scaling", "thinking")   # == orbit_gui.export.VIEWS


def add_export_parser(subparsers) -> None:
    """Add the ``export`` and ``report`` commands to the CLI's subparsers."""
    ex = subparsers.add_parser(
        "export", help="export a view (architecture, orbit, charts) as SVG, PNG or PDF",
        description="Draw a view offscreen, exactly as the window does, and write it to a file. "
                    "The format follows the extension: .svg (vectors, text as text), .png "
                    "(rendered at --dpi), .pdf (vectors, one page the size of the diagram).")
    ex.add_argument("model", help="catalog id, spec file, or Hugging Face config.json / folder")
    ex.add_argument("--view", choices=EXPORT_VIEWS, default="architecture",
                    help="what to draw (default: architecture)")
    ex.add_argument("--out", required=True, metavar="FILE", help="output file: .svg, .png or .pdf")
    ex.add_argument("--theme", choices=("light", "dark"), default="light")
    ex.add_argument("--dpi", type=float, default=192,
                    help="PNG resolution; 96 is the on-screen size (default 192)")
    ex.add_argument("--unfold", action="store_true",
                    help="architecture: one box per layer instead of folded runs")
    add_workload_flags(ex)

    rp = subparsers.add_parser(
        "report", help="write the spec, edits and every figure as JSON, CSV or Markdown",
        description="The model's spec, the --set edits, the workload and every figure with the "
                    "formula and inputs behind it. The format follows the extension: .json "
                    "(round-trips), .csv (one row per figure and per operator), .md.")
    rp.add_argument("model", help="catalog id, spec file, or Hugging Face config.json / folder")
    rp.add_argument("--out", required=True, metavar="FILE", help="output file: .json, .csv or .md")
    add_workload_flags(rp)


def _workload(args):
    from orbit_gui.cli import workload_from_args
    return workload_from_args(args)


def cmd_export(args) -> int:
    from orbit_gui.export import render_headless
    wl = _workload(args)
    wl.validate()
    path = render_headless(args.model, args.view, args.out, overrides=args.set, theme=args.theme,
                           dpi=args.dpi, workload=wl, unfold=args.unfold)
    print(f"wrote {path}")
    return 0


def cmd_report(args) -> int:
    from models.overrides import apply_overrides, parse_assignments
    from orbit_gui.cli import resolve_model
    from orbit_gui.report_export import _format_of, build_report, write_report
    from pathlib import Path
    _format_of(Path(args.out))              # a bad extension fails before any work
    spec = resolve_model(args.model)
    edits = parse_assignments(args.set)
    if edits:
        spec = apply_overrides(spec, edits)
    data = build_report(spec, _workload(args), edits, source=args.model)
    path = write_report(data, args.out)
    print(f"wrote {path}")
    return 0
