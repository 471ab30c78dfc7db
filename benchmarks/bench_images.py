"""Timings and quality of the image lab (digits, small CNNs).

Run ``python benchmarks/bench_images.py [--repeats 3] [--no-pages]``. Prints medians, side by side in
one run: (1) generating the digit domains, unshifted and with every shift on; (2) the Image domains
page's default run (rotation 45: 6 methods × 3 seeds = 18 CNNs) against the issue's 20 s budget, and
its adaptation batch (12 CNNs) trained as one program against one model at a time with the same
code; (3) the t-SNE of two CNNs' features; (4) the quality goal at rotation 45 on data seeds 0-2;
(5) the page's first run and cached rerun under AppTest. Set ``DSL_TORCH_THREADS=1`` for the served
app's thread count and ``DSL_DEVICE=cuda`` (or let it pick) on a GPU machine.
"""

from __future__ import annotations

import argparse

from _common import median_seconds, page_seconds, setup

from core.data.domains import generate
from core.labs.adaptation import run_adaptation
from core.labs.image_lab import run_image_lab
from core.scenario import Scenario
from core.training.methods import IMAGE_ADAPTATION_METHODS as UNSUPERVISED

SCENARIO = Scenario(dataset="digits", rotation=45)
EVERY_SHIFT = Scenario(dataset="digits", rotation=45, scale=1.2, shift_x=1, blur=1, invert=0.5, background=0.5,
                       target_noise=0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pages", action="store_true", help="skip the AppTest page timings")
    args = parser.parse_args()
    print(setup())

    for name, scenario in (("unshifted", Scenario(dataset="digits")), ("every shift on", EVERY_SHIFT)):
        seconds, data = median_seconds(lambda s=scenario: generate(s), args.repeats)
        print(f"generate digits, {name}: {seconds * 1000:.0f} ms ({len(data.source_x)} source, "
              f"{len(data.target_pool_x)} pool, {len(data.target_test_x)} test images)")

    seconds, run = median_seconds(lambda: run_image_lab(SCENARIO, 3), args.repeats)
    print(f"page default run, {run.networks.n_models} CNNs: {seconds:.2f} s (budget 20 s, {20 / seconds:.1f}x "
          f"under) on {run.device}")
    batched, _ = median_seconds(lambda: run_adaptation(SCENARIO, UNSUPERVISED, 3), args.repeats)

    def one_at_a_time() -> None:
        for method in UNSUPERVISED:
            for _ in range(3):
                run_adaptation(SCENARIO, (method,), 1)

    alone, _ = median_seconds(one_at_a_time, max(1, args.repeats // 2))
    print(f"adaptation batch, {len(UNSUPERVISED) * 3} CNNs x 300 steps: batched {batched:.2f} s, one at a time "
          f"{alone:.2f} s ({alone / batched:.1f}x)")
    data = generate(SCENARIO)
    seconds, _ = median_seconds(lambda: run.feature_embedding(data, ("source_only", "mmd"), "tsne"), args.repeats)
    print(f"t-SNE of 2 CNNs' features (500 images each): {seconds:.2f} s")

    print("quality at rotation 45 (mean target accuracy over 3 model seeds):")
    for seed in range(3):
        summary = {r["method"]: r for r in run_image_lab(SCENARIO.replace(seed=seed), 3).summary()}
        cells = ", ".join(f"{m} {r['target_acc_mean']:.3f}" for m, r in summary.items())
        best = max((m for m in summary if m != "source_only"), key=lambda m: summary[m]["target_acc_mean"])
        print(f"  data seed {seed}: {cells}; best {best} {summary[best]['delta_vs_source_only']:+.3f}")

    if not args.no_pages:
        first, cached = page_seconds("image_domains", args.repeats, {"dataset": "digits", "rotation": "45"})
        print(f"Image domains page (AppTest): first run {first:.2f} s, cached rerun {cached:.3f} s")


if __name__ == "__main__":
    main()
