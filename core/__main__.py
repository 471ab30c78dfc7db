"""The command line over the same functions as the app: ``python -m core COMMAND KEY=VALUE ...``.

Commands
--------
shift   every divergence between source and target (``--json`` for one JSON object)
export  the generated points as CSV (``--out FILE.csv``)

Invalid input prints one line on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from core.errors import InputError
from core.scenario import KNOBS, Scenario

EXIT_BAD_INPUT = 2
PROG = "python -m core"


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix(PROG).strip()
        raise InputError(command or "command", message)


def _build_parser() -> argparse.ArgumentParser:
    keys = ", ".join(k.name for k in KNOBS)
    parser = _OneLineParser(prog=PROG, description=__doc__.split("\n")[0],
                            epilog=f"Scenario keys: {keys}.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    shift = commands.add_parser("shift", help="divergences between source and target")
    shift.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    shift.add_argument("--json", action="store_true", help="print one JSON object")
    shift.add_argument("--permutations", type=int, default=500, help="permutations of the MMD test")
    shift.add_argument("--pad-seeds", type=int, default=3, help="seeds of the proxy A-distance")

    export = commands.add_parser("export", help="write the generated points as CSV")
    export.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    export.add_argument("--out", required=True, help="the CSV file to write")
    return parser


def _check_count(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InputError(name, f"expected an integer in [{low}, {high}], got {value}")
    return value


def _shift(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.shift_report import shift_report

    report = shift_report(scenario,
                          n_permutations=_check_count("--permutations", args.permutations, 1, 100_000),
                          pad_seeds=_check_count("--pad-seeds", args.pad_seeds, 1, 20))
    if args.json:
        print(json.dumps(report.to_json()))
        return
    rows = [
        ("scenario", scenario.to_query() or "(defaults)"),
        ("points", f"{report.n_source} source, {report.n_target} target"),
        ("MMD² biased (V)", f"{report.mmd2:.5f}"),
        ("MMD² unbiased (U)", f"{report.mmd2_unbiased:.5f}"),
        ("MMD² multi-bandwidth", f"{report.mmd2_multi_bandwidth:.5f}"),
        ("MMD² linear-time", f"{report.mmd2_linear:.5f}"),
        ("bandwidth σ", f"{report.mmd_bandwidth:.4f}"),
        ("permutation p-value", f"{report.mmd_pvalue:.4f} ({report.mmd_permutations} permutations)"),
        ("proxy A-distance (MLP)", f"{report.proxy_a_distance:.3f} ± {report.proxy_a_distance_std:.3f}"),
        ("proxy A-distance (linear)",
         f"{report.proxy_a_distance_linear:.3f} ± {report.proxy_a_distance_linear_std:.3f}"),
        ("CORAL distance", f"{report.coral_distance:.5f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _export(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.domains import generate

    frame = generate(scenario).to_frame()
    try:
        frame.to_csv(args.out, index=False)
    except OSError as error:
        raise InputError("--out", f"cannot write {args.out!r}: {error.strerror or error}") from None
    print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)


COMMANDS = {"shift": _shift, "export": _export}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        scenario = Scenario.from_args(args.pairs)
        from core.device import configure_threads

        configure_threads()
        COMMANDS[args.command](args, scenario)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
