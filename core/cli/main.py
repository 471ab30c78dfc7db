"""The command line over the same functions as the app: ``python -m core COMMAND KEY=VALUE ...``.

Commands
--------
shift   every divergence between source and target (``--json`` for one JSON object)
export  the generated points as CSV (``--out FILE.csv``)
train   train adaptation methods × seeds as one batch and score them on the target test split
bound   the terms of the Ben-David bound along a knob (``--vary rotation=0,15,30``)
sweep   one method over a grid of alignment weights lambda, as one batch
efficiency    fine-tuning strategies × labels per class × seeds: target and source accuracy
transfer-map  the same along a shift knob: where transfer beats or loses to scratch training
distill       a large teacher, students from soft targets and from hard labels
forgetting    the remedies for forgetting at several strengths: source kept against target given up
check         your own tables: how far TARGET.csv has shifted from SOURCE.csv (no scenario keys)
images        the image lab on digits: source-only, feature extraction, fine-tuning with frozen
              convolution blocks, MMD, DANN and self-training CNNs
warm          train the talk scenes' runs at the pages' defaults and keep them in the result store,
              so that a talk starts with every scene ready (``--scenes`` to choose, ``--list``)

Invalid input prints one line on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

from core import budget
from core.errors import InputError
from core.formatting import signed
from core.knobs import Knob, KnobSet
from core.labs.adaptation import AdaptationPageSettings
from core.labs.distillation import DistillationPageSettings
from core.labs.finetune_runs import FinetunePageSettings
from core.labs.forgetting import ForgettingPageSettings
from core.labs.image_lab import ImagePageSettings
from core.labs.negative_transfer import MAPS, TransferMapPageSettings
from core.labs.shift_matrix import ShiftMatrixPageSettings
from core.labs.sweeps import BoundPageSettings, LambdaSweepPageSettings
from core.labs.transfer_setting import setting_of
from core.metrics.paired import ALPHA, TransferVerdict, format_p
from core.scenario import KNOBS, Scenario

EXIT_BAD_INPUT = 2
MAX_VARY_VALUES = int(BoundPageSettings.knob_named("points").high)  # --vary: as many values as the pages sweep
EXIT_FAILED = 1  # the command ran but could not do what it says (warm could not store)


class CommandFailed(Exception):
    """A command that ran but could not deliver (exit status :data:`EXIT_FAILED`, one line on stderr)."""


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
    _budget_argument(shift)

    train = commands.add_parser("train", help="train adaptation methods and score them")
    _page_arguments(train, AdaptationPageSettings)

    bound = commands.add_parser("bound", help="the Ben-David bound's terms along a knob")
    _page_arguments(bound, BoundPageSettings)
    bound.add_argument("--vary", default=None, help="KEY=V1,V2,... (a numeric key): these values instead of "
                       "--knob and --points")

    sweep = commands.add_parser("sweep", help="one method over a grid of lambdas")
    _page_arguments(sweep, LambdaSweepPageSettings)
    sweep.add_argument("--lambdas", default=None, help="comma-separated weights, instead of --count's grid")

    efficiency = commands.add_parser("efficiency", help="fine-tuning strategies against labels per class")
    _page_arguments(efficiency, FinetunePageSettings)

    transfer_map = commands.add_parser("transfer-map", help="gain of transfer over scratch along a shift knob")
    _page_arguments(transfer_map, TransferMapPageSettings)
    knob, values = MAPS[0]
    transfer_map.add_argument("--vary", default=f"{knob}={','.join(f'{v:g}' for v in values)}",
                              help="KEY=V1,V2,...: the rows of the map")

    distill = commands.add_parser("distill", help="knowledge distillation to a small student")
    _page_arguments(distill, DistillationPageSettings)

    forgetting = commands.add_parser("forgetting", help="the remedies for forgetting: source kept, target given up")
    _page_arguments(forgetting, ForgettingPageSettings)

    images = commands.add_parser("images", help="CNNs on digits: the Image domains page's run")
    _page_arguments(images, ImagePageSettings)

    matrix = commands.add_parser("matrix", help="which method for which kind of shift: every method on each")
    ShiftMatrixPageSettings.add_arguments(matrix)
    matrix.add_argument("--json", action="store_true", help="print one JSON object")
    _budget_argument(matrix)

    check = commands.add_parser("check", help="how far a target table has shifted from a source table")
    check.add_argument("files", nargs="+", metavar="CSV", help="SOURCE.csv TARGET.csv, or one CSV with --domain")
    check.add_argument("--domain", default=None, help="the column that splits one CSV into source and target "
                       "(exactly two values; the first in the file is the source)")
    check.add_argument("--label", default=None, help="the label column (default: a column named y, label, target, "
                                                    "class, ... when both tables have one)")
    check.add_argument("--no-label", action="store_true", help="no label column, even one named like a label")
    check.add_argument("--features", default=None, help="comma-separated feature columns (default: every numeric "
                       "column in both tables but the label)")
    check.add_argument("--permutations", type=int, default=500, help="permutations of the MMD test")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    _budget_argument(check)

    warm = commands.add_parser("warm", help="precompute the talk scenes into the result store")
    warm.add_argument("--scenes", default=None, help="comma-separated scene names (default: all; see --list)")
    warm.add_argument("--list", action="store_true", help="list the scenes and whether each is stored, then stop")
    warm.add_argument("--json", action="store_true", help="print one JSON object")

    export = commands.add_parser("export", help="write the generated points as CSV")
    export.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    export.add_argument("--out", required=True, help="the CSV file to write (a new file, unless --force)")
    export.add_argument("--force", action="store_true", help="overwrite --out when it exists")
    return parser


def _page_arguments(parser: argparse.ArgumentParser, settings: type[KnobSet]) -> None:
    """A command that runs a page's run: scenario ``KEY=VALUE`` pairs, the page's settings as flags, ``--json``."""
    parser.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    settings.add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(page_settings=settings)  # its transfer setting is printed after its results
    _budget_argument(parser)


def _print_setting(args: argparse.Namespace, scenario: Scenario) -> None:
    """The transfer setting of a page's run on ``scenario`` (Pan & Yang 2010), after its table."""
    settings = getattr(args, "page_settings", None)
    if settings is None or settings.LEARNS is None or args.json:
        return
    strategies = getattr(settings.from_arguments(args), "strategies", ())
    print(setting_of(scenario, settings.LEARNS, strategies).text().replace("**", ""))


def _budget_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=float, default=budget.WORK_BUDGET_S, metavar="SECONDS",
                        help=f"refuse a run estimated to take longer on 2 CPU cores (default {budget.WORK_BUDGET_S:g}, "
                             f"the pages' limit; at most {budget.LARGEST_BUDGET_S:g})")


def _budget(args: argparse.Namespace) -> float:
    if not 0 < args.budget <= budget.LARGEST_BUDGET_S:
        raise InputError("--budget", f"expected seconds in (0, {budget.LARGEST_BUDGET_S:g}], got {args.budget:g}")
    return args.budget


def _within_budget(args: argparse.Namespace, settings: KnobSet, scenario: Scenario, work_of=None,
                   renamed: dict[str, str] | None = None) -> None:
    """Refuse, in one line naming the flag (or scenario key) to lower, a run over ``--budget``; ``renamed`` gives
    the flag that set a knob instead of its own (``--lambdas`` for ``count``)."""
    renamed = renamed or {}

    budget.Request(settings, scenario, work_of).check(lambda knob: renamed.get(knob.name) or _flag_or_key(knob),
                                                      _budget(args))


def _labels(settings: FinetunePageSettings | TransferMapPageSettings | ForgettingPageSettings,
            scenario: Scenario) -> tuple[int, ...]:
    """``--labels`` checked against what the scenario can draw (the default counts are capped there)."""
    try:
        return settings.labels_for(scenario)
    except InputError as error:
        raise InputError("--labels", str(error).split(": ", 1)[1]) from None


def _count(knob: Knob, value: int) -> int:
    """A count flag's value, in its knob's range; a one-line error names the flag otherwise."""
    if not knob.low <= value <= knob.high:
        raise InputError(knob.flag, f"expected an integer in [{knob.low:g}, {knob.high:g}], got {value}")
    return value


def _flag_or_key(knob: Knob) -> str:
    """How the command line names a knob in an error: ``--permutations`` for a flag, ``n_source`` for a key."""
    return knob.name if knob.name in Scenario.knob_names() else knob.flag


def _shift(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.metrics.shift_report import PAD_SEEDS_KNOB, PERMUTATIONS_KNOB, report_budget, shift_report

    permutations, pad_seeds = _count(PERMUTATIONS_KNOB, args.permutations), _count(PAD_SEEDS_KNOB, args.pad_seeds)
    report_budget(scenario, permutations, pad_seeds, _flag_or_key, _budget(args))
    report = shift_report(scenario, n_permutations=permutations, pad_seeds=pad_seeds)
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
        ("CORAL distance", f"{report.coral_distance:.4g}"),
        ("source rule on target (oracle)", f"{report.source_rule_accuracy:.3f} (one constant guess: "
                                           f"{report.chance_accuracy:.3f})"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    swap = report.label_swap()
    if swap is not None:
        print(f"warning: {swap}")


def _export(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.data.domains import generate

    if os.path.lexists(args.out) and not args.force:
        raise InputError("--out", f"{args.out!r} exists; give a new file name, or --force to overwrite it")
    frame = generate(scenario).to_frame()
    try:
        frame.to_csv(args.out, index=False)
    except OSError as error:
        raise InputError("--out", f"cannot write {args.out!r}: {error.strerror or error}") from None
    print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)


def _train(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs.adaptation import run_adaptation

    settings = AdaptationPageSettings.from_arguments(args)
    if not settings.methods:
        raise InputError("--methods", "give at least one method: " + ", ".join(settings.knob_named("methods").choices))
    _within_budget(args, settings, scenario)
    run = run_adaptation(scenario, settings.methods, n_seeds=settings.seeds, settings=settings.train_settings())
    if args.json:
        print(json.dumps(run.to_json()))
        return
    print(f"scenario {scenario.to_query() or '(defaults)'}; {len(run.rows)} models on {run.trained.device} "
          f"in {run.train_seconds:.2f} s")
    width = max(len("method"), *(len(m) for m in run.methods)) + 2
    print(f"{'method':<{width}}{'target acc':>18}{'source acc':>18}{'vs source-only':>16}")
    for row in run.summary():
        target = _mean_sd(row["target_acc_mean"], row["target_acc_sd"])
        source = _mean_sd(row["source_acc_mean"], row["source_acc_sd"])
        delta = "" if row["delta_vs_source_only"] is None else signed(row["delta_vs_source_only"], 3)
        flag = "" if row["transfer_test"] is None else "  " + TransferVerdict.from_json(row["transfer_test"]).text()
        print(f"{row['method']:<{width}}{target:>18}{source:>18}{delta:>16}{flag}")
    for row in run.rows:
        if row["diverged"]:
            print(f"warning: {row['diverged']}", file=sys.stderr)


def _bound(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs import sweeps

    settings = BoundPageSettings.from_arguments(args)
    knob, values = settings.knob, settings.values()
    if args.vary is not None:
        knob, _, text = args.vary.partition("=")
        knob, values = sweeps.check_vary_knob(knob.strip()), sweeps.parse_numbers(text, "--vary", MAX_VARY_VALUES)
    points_knob = settings.knob_named("points")
    _within_budget(args, settings.replace(points=min(max(len(values), int(points_knob.low)), int(points_knob.high))),
                   scenario, renamed={"points": "--vary"} if args.vary is not None else None)
    points = sweeps.ben_david_sweep(scenario, knob, values, n_seeds=settings.seeds,
                                    adapted=settings.adapted_method())
    answer = sweeps.bound_json(scenario, knob, points)
    if args.json:
        print(json.dumps(answer))
        return
    print(f"{knob:>12} {'eps_S':>8} {'d/2':>8} {'lambda*':>8} {'bound':>8} {'eps_T':>8}  flag")
    for row, point in zip(answer["points"], points):
        print(f"{row[knob]:>12g} {row['source_error']:>8.3f} {row['divergence']:>8.3f} "
              f"{row['ideal_joint_error']:>8.3f} {row['bound']:>8.3f} {row['target_error']:>8.3f}  "
              f"{point.below_measured_note}".rstrip())
    if any(point.bound_below_measured for point in points):
        print(f"flag: a seed's estimated bound is below that seed's eps_T; {sweeps.BELOW_MEASURED_WHY}")


def _sweep(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs import sweeps

    settings = LambdaSweepPageSettings.from_arguments(args)
    most = int(LambdaSweepPageSettings.knob_named("count").high)  # the page's largest grid
    lambdas = settings.lambdas() if args.lambdas is None else sweeps.parse_numbers(args.lambdas, "--lambdas", most)
    low = int(LambdaSweepPageSettings.knob_named("count").low)
    _within_budget(args, settings.replace(count=max(len(lambdas), low)), scenario,
                   renamed={"count": "--lambdas"} if args.lambdas is not None else None)
    answer = sweeps.lambda_sweep(scenario, settings.method, lambdas, n_seeds=settings.seeds,
                                 settings=settings.train_settings())
    if args.json:
        print(json.dumps(answer))
        return
    print(f"{settings.method}: {len(answer['points'])} models in {answer['train_seconds']:.2f} s")
    print(f"{'lambda':>8} {'seed':>5} {'target acc':>11} {'source acc':>11} {'feature MMD²':>13}")
    for p in answer["points"]:
        cells = ("diverged",) * 3 if p["diverged"] else (f"{p['target_acc']:.3f}", f"{p['source_acc']:.3f}",
                                                          f"{p['feature_mmd2']:.4f}")
        print(f"{p['align_weight']:>8g} {p['seed']:>5} {cells[0]:>11} {cells[1]:>11} {cells[2]:>13}")
    _print_lambda_selection(answer)


def _print_lambda_selection(answer: dict) -> None:
    """The oracle's λ and each label-free criterion's pick, with the target accuracy it costs (oracle)."""
    best, best_acc = answer["oracle_best_lambda"], answer["oracle_best_target_acc"]
    selection = answer["label_free_selection"]
    print(f"choosing λ ({selection['rule']}); held-out source points: "
          f"{selection['validation']['held_out_source_points']}")
    print(f"{'chosen by':<32} {'lambda':>8} {'target acc (oracle)':>20} {'cost (oracle)':>14}")
    if best is not None:
        print(f"{'ORACLE (target test labels)':<32} {best:>8g} {best_acc:>20.3f} {0.0:>14.3f}")
    for row in selection["criteria"]:
        if row["picked_lambda"] is None:
            print(f"{row['label']:<32} {'n/a':>8}")
            continue
        print(f"{row['label']:<32} {row['picked_lambda']:>8g} {row['oracle_target_acc_at_pick']:>20.3f} "
              f"{row['oracle_cost']:>14.3f}")


def _efficiency(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs.efficiency import efficiency_curves, labels_to_match
    from core.labs.finetune_runs import run_finetuning

    settings = FinetunePageSettings.from_arguments(args)
    _labels(settings, scenario)
    _within_budget(args, settings, scenario)
    run = run_finetuning(scenario, settings.strategies_to_train(), _labels(settings, scenario),
                         n_seeds=settings.seeds, settings=settings.finetune_settings())
    if args.json:
        print(json.dumps(run.to_json()))
        return
    curves = efficiency_curves(run)
    print(f"scenario {scenario.to_query() or '(defaults)'}; {len(run.points)} models on {run.device} in "
          f"{run.train_seconds:.2f} s; mean target test accuracy over {run.n_seeds} seeds")
    print(f"{'strategy':<20}{'trained':>9}" + "".join(f"{n:>8}" for n in run.labels)
          + "   (parameters trained per network; labels per class)")
    for i, strategy in enumerate(run.strategies):
        print(f"{strategy:<20}{run.trained_parameters[strategy]:>9,}"
              + "".join(_cell(v) for v in curves.mean["target_acc"][i]))
    for strategy in run.strategies:
        readout = labels_to_match(curves, strategy) if strategy != "scratch" else []
        if readout:
            print(f"scratch needs, to match {strategy}: "
                  + ", ".join(f"{r.text()} (vs {r.labels})" for r in readout))
    _warn_diverged(run.points)


def _transfer_map(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs import sweeps
    from core.labs.finetune_runs import run_finetuning
    from core.labs.negative_transfer import SIMILAR_DROP, SMALL_LABELS, gain_map, rule_checks

    settings = TransferMapPageSettings.from_arguments(args)
    knob, _, text = args.vary.partition("=")
    values = sweeps.parse_numbers(text, "--vary", MAX_VARY_VALUES)
    labels = _labels(settings, scenario)
    _within_budget(args, settings, scenario, work_of=lambda s, sc: s.work(sc, rows=(len(values),)))
    run = run_finetuning(scenario, settings.strategies_to_train(), labels, n_seeds=settings.seeds,
                         settings=settings.finetune_settings(), knob=knob.strip(), values=values)
    if args.json:
        print(json.dumps(run.to_json()))
        return
    grid = gain_map(run)
    for strategy in grid.transfer_strategies:
        print(f"{strategy} minus scratch ({run.trained_parameters[strategy]:,} against "
              f"{run.trained_parameters['scratch']:,} parameters trained; mean target test accuracy over {run.n_seeds} "
              f"seeds; * negative transfer: paired t-test p < {ALPHA:g}; ? a drop the test cannot tell from seed "
              "noise)")
        print(f"{run.knob:>12}" + "".join(f"{n:>9}" for n in run.labels))
        marks = np.where(grid.negative(strategy), "*", np.where(grid.inconclusive(strategy), "?", " "))
        for v, value in enumerate(grid.values):
            cells = "".join(f"{g:>+8.3f}{mark}" for g, mark in zip(grid.gain[strategy][v], marks[v]))
            print(f"{value:>12g}{cells}")
    print(f"rules of thumb (small: at most {SMALL_LABELS} labels per class; similar: the pretrained network loses at "
          f"most {100 * SIMILAR_DROP:g} points on the target; similar at {run.knob} = "
          f"{', '.join(f'{v:g}' for v in grid.values[grid.similar]) or 'none'}):")
    for check in rule_checks(grid):
        verdict = (f"holds in {check.holds} of {check.cells} cells" if check.checked and check.cells
                   else "no cells" if check.checked else "not checked: train " + " or ".join(check.recommended))
        print(f"  {check.quadrant}: {check.advice}: {verdict}")
    _warn_diverged(run.points)


def _distill(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs.distillation import run_distillation

    settings = DistillationPageSettings.from_arguments(args)
    _within_budget(args, settings, scenario)
    run = run_distillation(scenario, n_seeds=settings.seeds, settings=settings.distill_settings())
    if args.json:
        print(json.dumps(run.to_json()))
        return
    print(f"scenario {scenario.to_query() or '(defaults)'}; teacher {run.teacher_parameters} parameters, student "
          f"{run.student_parameters}; T = {run.settings.temperature:g}, alpha = {run.settings.alpha:g}")
    from core.figures.distillation import LABEL_NAMES, LABEL_SHORT
    from core.labs.distillation import STUDENT_LABELS

    rows = [("teacher", "teacher", "target")] + [
        (role, f"student from {kind} ({LABEL_SHORT[labels]})", labels) for labels in STUDENT_LABELS
        for role, kind in (("student_soft", "soft targets"), ("student_hard", "hard labels"))]
    print(f"{'':<46}{'target test':>18}{'source':>18}")
    for role, name, labels in rows:
        target, source = (run.statistics(role, metric, labels=labels) for metric in ("target_acc", "source_acc"))
        print(f"{name:<46}{_mean_sd(target.mean, target.sd):>18}{_mean_sd(source.mean, source.sd):>18}")
    for labels in STUDENT_LABELS:
        print(f"Students with {LABEL_NAMES[labels]}: {run.soft_versus_hard(labels=labels).text()}")


def _forgetting(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.figures.forgetting import trade_off_frame
    from core.labs.forgetting import run_forgetting, trade_off, verdict

    settings = ForgettingPageSettings.from_arguments(args)
    _labels(settings, scenario)
    _within_budget(args, settings, scenario)
    run = run_forgetting(scenario, settings)
    if args.json:
        print(json.dumps(run.to_json()))
        return
    summary = trade_off(run)
    print(f"scenario {scenario.to_query() or '(defaults)'}; {len(run.points)} models on {run.device} in "
          f"{run.train_seconds:.2f} s; {settings.labels} labels per class; means over {settings.seeds} seeds; "
          "kept and given up: against full fine-tuning, paired by seed")
    print(trade_off_frame(summary).to_string(index=False))
    print(verdict(summary).text)
    _warn_diverged(run.points)


def _matrix(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs.shift_matrix import CASES_BY_NAME, shift_matrix

    settings = ShiftMatrixPageSettings.from_arguments(args)
    _within_budget(args, settings, scenario)
    matrix = shift_matrix(settings.cases, settings.methods, settings.seeds, settings.train_settings())
    if args.json:
        print(json.dumps(matrix.to_json()))
        return
    print(f"{len(matrix.cases)} kinds of shift × {len(matrix.methods)} methods × {matrix.n_seeds} seeds in "
          f"{matrix.train_seconds:.1f} s; each cell: target accuracy, change against source only, paired verdict")
    width = max(len(m) for m in matrix.methods) + 2
    for case in matrix.cases:
        print(f"\n{CASES_BY_NAME[case].label}: {CASES_BY_NAME[case].what_changes}")
        for method in matrix.methods:
            cell = matrix.cells[case][method]
            accuracy = "diverged" if cell.accuracy is None else f"{cell.accuracy:.3f}"
            delta = "" if cell.delta is None or method == "source_only" else signed(cell.delta, 3)
            p_value = "" if cell.p_value is None or method == "source_only" else format_p(cell.p_value)
            verdict = "" if method == "source_only" else cell.verdict
            print(f"  {method:<{width}}{accuracy:>9}{delta:>9}  {verdict:<5} {p_value}")


def _images(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.labs.image_lab import run_image_lab

    settings = ImagePageSettings.from_arguments(args)
    if not scenario.is_image:
        raise InputError("dataset", f"the image lab needs an image dataset (digits), got {scenario.dataset}")
    _within_budget(args, settings, scenario)
    run = run_image_lab(scenario, settings.seeds, settings.lab_settings(), settings.methods_to_train())
    if args.json:
        print(json.dumps(run.to_json()))
        return
    print(f"scenario {scenario.to_query()}; {run.networks.n_models} CNNs "
          f"({run.networks.architecture.describe(run.networks.n_features, run.networks.n_classes)}) on "
          f"{run.device} in {run.train_seconds:.2f} s")
    print(f"{'method':<36}{'target':>18}{'source':>18}{'vs source only':>16}")
    for row in run.summary():
        delta = "" if row["delta_vs_source_only"] is None else signed(row["delta_vs_source_only"], 3)
        print(f"{row['label']:<36}{_mean_sd(row['target_acc_mean'], row['target_acc_sd']):>18}"
              f"{'diverged' if row['source_acc_mean'] is None else format(row['source_acc_mean'], '.3f'):>18}"
              f"{delta:>16}")
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)


def _check(args: argparse.Namespace, _scenario: Scenario) -> None:
    from core.data import tables
    from core.labs.check import check_budget, run_check
    from core.metrics.shift_report import PERMUTATIONS_KNOB

    if args.domain is None and len(args.files) != 2:
        raise InputError("check", "give SOURCE.csv and TARGET.csv, or one CSV with --domain COLUMN")
    if args.domain is not None and len(args.files) != 1:
        raise InputError("--domain", "splits ONE csv into source and target; give one file")
    if args.domain is not None:
        source, target, *_ = tables.split_by_domain(tables.read_path(args.files[0]), args.domain)
    else:
        source, target = (tables.read_path(path) for path in args.files)
    if args.no_label and args.label is not None:
        raise InputError("--no-label", "give --label COLUMN or --no-label, not both")
    label, notes = args.label, ()
    if label is None and not args.no_label:
        label = tables.detect_label(source, target)
        if label is not None:
            notes = (f"label column {label!r} detected by its name (not a feature); --label COLUMN chooses "
                     "another, --no-label none",)
    features = None if args.features is None else [f.strip() for f in args.features.split(",") if f.strip()]
    chosen = tables.select(source, target, features, label)
    permutations = _count(PERMUTATIONS_KNOB, args.permutations)
    check_budget(len(chosen.source_x), len(chosen.target_x), permutations, _flag_or_key, _budget(args))
    report = run_check(chosen.source_x, chosen.target_x, chosen.features, chosen.source_y, chosen.target_y,
                       chosen.classes, source.notes + target.notes + notes + chosen.notes, n_permutations=permutations)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report.to_markdown(), end="")


def _warm(args: argparse.Namespace, scenario: Scenario) -> None:
    from core.talk import scene_runs
    from core.talk.presets import PRESETS, PRESETS_BY_NAME
    from core.talk.result_store import default_store

    presets = PRESETS
    if args.scenes is not None:
        names = [name.strip() for name in args.scenes.split(",") if name.strip()]
        unknown = [name for name in names if name not in PRESETS_BY_NAME]
        if unknown or not names:
            raise InputError("scenes", f"unknown scene {', '.join(unknown) or '(none given)'}; scenes: "
                             + ", ".join(PRESETS_BY_NAME))
        presets = tuple(PRESETS_BY_NAME[name] for name in names)
    store = default_store()
    if store.directory is None:
        raise InputError("DSL_RESULT_STORE", "the result store is off; unset it or give a folder to warm")
    why = store.unwritable()
    if why and not args.list:
        raise InputError("DSL_RESULT_STORE", f"{why}; give a folder the app's user can write")
    if args.list:
        for preset in presets:
            state = "stored" if scene_runs.is_warm(preset) else "not stored"
            print(f"{preset.name:<38} {preset.page:<18} {state}")
        return
    report = None if args.json else lambda scene, run, seconds: print(f"{scene:<38} {run:<17} {seconds:7.1f} s",
                                                                      flush=True)
    rows = scene_runs.warm(presets, report)
    if args.json:
        print(json.dumps({"store": str(store.directory), "runs": rows}))
    else:
        trained = sum(row["state"] == "trained and stored" for row in rows)
        print(f"{len(rows)} runs of {len(presets)} scenes in {store.directory}: {trained} trained now, "
              f"{sum(row['state'] == 'already stored' for row in rows)} already stored; "
              f"{sum(row['seconds'] for row in rows):.1f} s in all.")
    lost = [f"{row['scene']} ({row['run']})" for row in rows if row["state"] == scene_runs.NOT_STORED]
    if lost:
        raise CommandFailed(f"{len(lost)} runs could not be stored in {store.directory} (the log says why): "
                            + ", ".join(lost))


def _cell(value: float) -> str:
    return f"{'diverged':>8}" if value != value else f"{value:>8.3f}"


def _warn_diverged(points) -> None:
    for point in points:
        if point["diverged"]:
            print(f"warning: {point['diverged']}", file=sys.stderr)


def _mean_sd(mean: float | None, sd: float | None) -> str:
    return "diverged" if mean is None else f"{mean:.3f} ± {sd:.3f}"


COMMANDS = {"shift": _shift, "export": _export, "train": _train, "bound": _bound, "sweep": _sweep,
            "efficiency": _efficiency, "transfer-map": _transfer_map, "distill": _distill, "forgetting": _forgetting,
            "images": _images,
            "matrix": _matrix, "check": _check, "warm": _warm}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        scenario = Scenario.from_args(getattr(args, "pairs", []))
        from core.device import configure_threads

        configure_threads()
        COMMANDS[args.command](args, scenario)
        _print_setting(args, scenario)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
