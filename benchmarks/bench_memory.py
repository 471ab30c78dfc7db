"""Does the server's memory level off? 100 distinct scenarios across the pages, the server's RSS every 10.

Starts ``streamlit run app.py`` (one torch thread, the result store in a temporary folder), then opens
one headless session per scenario (:mod:`streamlit_session`): rotation 0°, 1°, 2°, ... on each page of
:data:`PAGES` in turn, at the page's defaults, so that every visit computes a new result and adds to
every cache on its way. After every ``--every`` scenarios it prints the server's resident memory (VmRSS).
The caches have explicit sizes (``max_entries`` in ``ui/cached*.py``), closed sessions release their state,
so the resident memory should stop growing once the caches are full::

    .venv/bin/python benchmarks/bench_memory.py [--scenarios 100] [--every 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from _common import ROOT
from bench_load import rss_kb
from served_app import served_app
from streamlit_session import StreamlitSession

PAGES = ("domain_shift", "adaptation", "lambda_sweep", "distillation", "finetune")
SERVER_LOG = ROOT / "benchmarks" / "results" / "bench_memory_server.log"


async def visit(url: str, page: str, rotation: int, timeout: float) -> tuple[float, list[str]]:
    """Open ``page`` at ``rotation`` in a new session, wait for its first run to finish, close it."""
    async with StreamlitSession(url, page, f"rotation={rotation}", timeout=timeout) as session:
        run = session.first_run
        return run.seconds, run.problems + [f"st.error {text}" for text in run.error_alerts]


async def measure(url: str, pid: int, scenarios: int, every: int, timeout: float) -> list[dict]:
    rows = [{"scenarios": 0, "rss_mb": rss_kb(pid) / 1024, "seconds": 0.0, "problems": []}]
    print(f"{'scenarios':>9} {'RSS MB':>8} {'minutes':>8}  problems", flush=True)
    print(f"{0:>9} {rows[0]['rss_mb']:>8.0f} {0:>8.1f}", flush=True)
    started, problems = time.monotonic(), []
    for index in range(scenarios):
        _, found = await visit(url, PAGES[index % len(PAGES)], index, timeout)
        problems += [f"{PAGES[index % len(PAGES)]} rotation={index}: {p}" for p in found]
        if (index + 1) % every == 0:
            await asyncio.sleep(2)  # closed sessions are released on the server's next tick
            row = {"scenarios": index + 1, "rss_mb": rss_kb(pid) / 1024, "seconds": time.monotonic() - started,
                   "problems": problems}
            rows.append(row)
            print(f"{row['scenarios']:>9} {row['rss_mb']:>8.0f} {row['seconds'] / 60:>8.1f}  {len(problems)}",
                  flush=True)
            problems = []
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a first run may take")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store, served_app(
            SERVER_LOG, env={"DSL_TORCH_THREADS": "1", "DSL_RESULT_STORE": store}) as (url, pid):
        rows = asyncio.run(measure(url, pid, args.scenarios, args.every, args.timeout))
    half = [row["rss_mb"] for row in rows if row["scenarios"] >= args.scenarios // 2]
    print(f"peak {max(r['rss_mb'] for r in rows):.0f} MB; over the second half it moved {max(half) - min(half):.0f} MB "
          f"({min(half):.0f} to {max(half):.0f}); problems: {sum(len(r['problems']) for r in rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
