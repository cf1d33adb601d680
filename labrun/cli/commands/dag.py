"""`labrun dag [target] [--dot|--mermaid|--md] [--full] [-o]`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dag`."""
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--dot", action="store_true", help="Print the graph in DOT format.")
    fmt.add_argument("--mermaid", action="store_true", help="Print the graph in Mermaid format.")
    fmt.add_argument(
        "--md", action="store_true", help="Print the graph as a Mermaid block in Markdown."
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="Show the whole pipeline containing the target, not only its upstream.",
    )
    parser.add_argument(
        "-o", "--outs", action="store_true", help="Print output files instead of stages."
    )
    parser.add_argument(
        "target", nargs="?", help="Stage or output to show the pipeline for (optional)."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Draw the graph in the chosen format."""
    from labrun import api
    from labrun.cli import render
    from labrun.cli.commands.stage import warn

    view = api.dag(None, args.target, full=args.full, outs=args.outs, on_warning=warn)
    if args.dot:
        print(render.dot(view))  # DVC's output ends with a blank line too
    elif args.mermaid or args.md:
        print(render.mermaid(view, markdown=args.md))
    else:
        print(render.ascii_graph(view))
    return 0
