"""The load client through the proxy, with one replica killed mid-load (used by deploy/check_local.sh).

Runs ``benchmarks/bench_load.py``'s sessions (Streamlit's websocket protocol, no browser) against URL, kills
the replica VICTIM_PID with SIGKILL after ``--kill-after`` seconds and reports: sessions, reruns with their
p50 / p95, errors by kind, and what happened to the sessions that lost their replica (each must open its page
again through the proxy, on the other replica, with its URL's scenario, and run there); no other session may
see any error. nginx's access log says how many websockets each replica served.

    .venv/bin/python deploy/check_load.py URL ACCESS_LOG VICTIM_ADDRESS=VICTIM_PID [--sessions 8] [--insecure]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_load import Settings, load_test, percentile  # noqa: E402


async def load_with_a_kill(url: str, settings: Settings, victim_pid: int, kill_after: float) -> tuple[dict, float]:
    """The load test's report, and when (seconds into the test) the victim was killed."""
    test = asyncio.create_task(load_test(url, None, settings))
    started = asyncio.get_running_loop().time()
    await asyncio.sleep(kill_after)
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = asyncio.get_running_loop().time() - started
    return await test, killed_at


def websockets_by_replica(log_text: str) -> Counter:
    """Upgraded ``/_stcore/stream`` connections per upstream address (nginx logs one when it closes)."""
    return Counter(match.group(1) for line in log_text.splitlines() if "/_stcore/stream" in line and " 101 " in line
                   for match in [re.search(r"replica=(\S+)", line)] if match)


def verdict(result: dict, killed_at: float) -> tuple[bool, list[str]]:
    """Whether the test went as a failover should, and the lines that say so."""
    runs, errors = result["runs"], result["errors"]["details"]
    lost = sorted({e["session"] for e in errors if e["kind"] == "connection"})
    back = [s for s in lost if any(r["session"] == s and r["phase"] == "first" and r["at"] > killed_at for r in runs)]
    others = sorted({e["session"] for e in errors} - set(lost))
    bad_kinds = {kind: n for kind, n in result["errors"].items()
                 if kind not in ("connection", "total", "details", "server_traceback") and n}
    after = [r["seconds"] for r in runs if r["phase"] == "rerun" and r["at"] > killed_at]
    lines = [
        f"sessions {result['settings']['sessions']} on {', '.join(result['pages'])}; reruns {result['rerun']['n']}: "
        f"p50 {result['rerun']['p50']:.2f} s, p95 {result['rerun']['p95']:.2f} s, max {result['rerun']['max']:.2f} s"
        + (f"; after the kill p95 {percentile(after, 95):.2f} s over {len(after)}" if after else ""),
        f"replica killed at {killed_at:.1f} s: {len(lost)} session(s) lost their connection, {len(back)} opened "
        f"their page again through the proxy and ran there; errors elsewhere: {others or 'none'}; "
        f"other errors by kind: {bad_kinds or 'none'}",
    ]
    return len(back) == len(lost) and not others and not bad_kinds and result["rerun"]["n"] > 0, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("access_log", type=Path)
    parser.add_argument("victim", help="ADDRESS=PID of the replica to kill")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--duration", type=float, default=45.0)
    parser.add_argument("--kill-after", type=float, default=20.0)
    parser.add_argument("--pages", default="domain_shift,adaptation")
    parser.add_argument("--insecure", action="store_true", help="accept a self-signed certificate")
    parser.add_argument("--json", type=Path, help="also write the load test's report here")
    args = parser.parse_args()
    address, _, pid = args.victim.partition("=")
    log_start = args.access_log.stat().st_size if args.access_log.exists() else 0
    settings = Settings(sessions=args.sessions, duration=args.duration, pages=tuple(args.pages.split(",")),
                        warmup=False, insecure=args.insecure)
    result, killed_at = asyncio.run(load_with_a_kill(args.url, settings, int(pid), args.kill_after))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    ok, lines = verdict(result, killed_at)
    print("\n".join(lines))
    served = websockets_by_replica(args.access_log.read_text()[log_start:])
    print(f"websockets per replica (nginx's log): {dict(served)}; killed: {address}")
    print("as expected" if ok else "NOT as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
