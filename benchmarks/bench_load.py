"""Load test for live talks: concurrent headless sessions move the sliders of the served app.

Run ``python benchmarks/bench_load.py [--sessions 20] [--duration 60 | --soak] [--random]``. It
starts ``streamlit run app.py`` on a free loopback port (``DSL_TORCH_THREADS=1``, plus any
``--option runner.postScriptGC=false``), or tests a running server (``--url``). A warm-up tab per
page first visits every scene that page's sessions will visit, so caches are warm. Then the
sessions open, browser tabs without a browser (``streamlit_session.py`` speaks Streamlit's
websocket protocol): session i takes the i-th page of the presets' pages (``--pages``) and opens
it by a link with one of that page's preset scenes. Until the time is up, each moves the
sidebar's knobs to another preset scene in one rerun, as the sidebar's *Preset scene* choice does
(the presets shown on its page; every preset when the page has fewer than two), waits for the
run to finish and thinks for 0.5-2 s; with ``--random`` it moves one slider to a random in-range
value instead (cold caches: training in the reruns).

Prints the median, 95th percentile and maximum latency (send to ``script_finished``) of the
reruns, per page and overall, against the goal (p95 <= 3 s with 20 sessions on 2 cores), and of
the first loads apart; the errors (exception elements, runs that finished with an error, pages
not found, connection failures and timeouts, tracebacks in the server's log, and apart,
``st.error`` alerts); the server's memory (VmRSS each second: start, peak, end, the peak of each
minute) and the CPU used by the server, this script and other processes. ``--json`` prints it all
as JSON, every run included (``--json FILE`` writes it there). Exits 1 when there was any error,
0 otherwise: a p95 over the goal is reported, not a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # not _common: it imports torch, which the load generator does not need

from benchmarks.served_app import served_app, wait_healthy  # noqa: E402
from benchmarks.streamlit_session import RunResult, SessionError, StreamlitSession  # noqa: E402
from core.errors import InputError  # noqa: E402
from core.scenario import KNOBS, Scenario  # noqa: E402
from core.talk.presets import PRESETS  # noqa: E402
from ui.state import widget_key  # noqa: E402

GOAL_P95_SECONDS = 3.0
SOAK_SECONDS = 600
SERVER_LOG = ROOT / "artifacts" / "bench_load_server.log"
MB = 1024  # VmRSS is in kB


@dataclass(frozen=True)
class Scene:
    """A preset's scenario under the preset's name."""

    name: str
    scenario: Scenario


def preset_page(preset: Any) -> str:
    """The url path of the page a preset is shown on."""
    return getattr(preset, "page", "domain_shift")


def preset_scenes() -> list[Scene]:
    """The preset scenes, one per distinct scenario (under the first preset's name)."""
    scenes: dict[Scenario, Scene] = {}
    for preset in PRESETS:
        scenes.setdefault(preset.scenario, Scene(preset.name, preset.scenario))
    return list(scenes.values())


@dataclass
class Settings:
    """What the load test does; see ``--help``."""

    sessions: int = 20
    duration: float = 60.0
    pages: tuple[str, ...] = ()
    random_values: bool = False
    think: tuple[float, float] = (0.5, 2.0)
    ramp: float = 5.0
    timeout: float = 60.0
    seed: int = 0
    warmup: bool = True
    insecure: bool = False  # accept a self-signed certificate (an https --url)

    def session_pages(self) -> list[str]:
        """The pages under test: ``pages``, else those the presets are shown on, in preset order."""
        return list(self.pages) or list(dict.fromkeys(map(preset_page, PRESETS)))


def own_scenes(page: str) -> list[Scene]:
    """The presets shown on ``page``."""
    return [Scene(p.name, p.scenario) for p in PRESETS if preset_page(p) == page]


def scene_pool(page: str) -> list[Scene]:
    """The scenes a session on ``page`` moves among: the presets shown on that page, or every preset
    scene when the page has fewer than two (a speaker can pick any of them in the sidebar)."""
    own = own_scenes(page)
    return own if len(own) >= 2 else preset_scenes()


def start_scene(page: str, index: int) -> Scene:
    """The scene session ``index`` opens ``page`` with: the page's own presets in turn, else the pool's."""
    scenes = own_scenes(page) or scene_pool(page)
    return scenes[index % len(scenes)]


# --- what one session does ---------------------------------------------------------------
@dataclass
class Recorder:
    """Every run and every error of the test, with the time since the test started."""

    start: float = field(default_factory=time.perf_counter)
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return round(time.perf_counter() - self.start, 3)

    def run(self, phase: str, session: int, page: str, change: str, result: RunResult) -> None:
        self.runs.append({"phase": phase, "session": session, "page": page, "change": change, "at": self.now(),
                          "seconds": round(result.seconds, 4), "kb": round(result.bytes_received / 1024, 1),
                          "error_alerts": len(result.error_alerts)})
        for exception in result.exceptions:
            self.error("exception", session, page, f"{change}: {exception}")
        if result.status != "ok" or result.page_not_found:
            what = "page not found" if result.page_not_found else f"script finished with {result.status}"
            self.error("finished_with_error", session, page, f"{change}: {what}")
        for alert in result.error_alerts:
            self.error("error_alert", session, page, f"{change}: {alert}")

    def error(self, kind: str, session: int, page: str, detail: str) -> None:
        self.errors.append({"kind": kind, "session": session, "page": page, "at": self.now(), "detail": detail})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, abs_tol=1e-9)
    return a == b


def knob_widgets(session: StreamlitSession) -> dict[str, str]:
    """Knob name -> widget id, for the knobs the sidebar draws now."""
    ids = {}
    for knob in KNOBS:
        with contextlib.suppress(KeyError):
            ids[knob.name] = session.widget_id(widget_key(knob.name))
    return ids


def changes_towards(session: StreamlitSession, target: Scenario) -> dict[str, Any]:
    """Widget values that move the drawn knob widgets to ``target`` (a knob without a widget waits)."""
    return {wid: getattr(target, name) for name, wid in knob_widgets(session).items()
            if not _same(session.value(wid), getattr(target, name))}


def random_change(session: StreamlitSession, rng: random.Random) -> tuple[dict[str, Any], str]:
    """One drawn slider knob to a random value on its grid, such that the scenario stays valid."""
    drawn = knob_widgets(session)
    values = {name: session.value(wid) for name, wid in drawn.items()}
    sliders = [knob for knob in KNOBS if knob.name in drawn and session.widgets[drawn[knob.name]].kind == "slider"]
    for _ in range(100 if sliders else 0):
        knob = rng.choice(sliders)
        value = knob.parse(knob.low + knob.step * rng.randint(0, round((knob.high - knob.low) / knob.step)))
        try:
            Scenario.from_mapping({**values, knob.name: value})
        except InputError:  # e.g. more labels per class than digits hold
            continue
        return {drawn[knob.name]: value}, f"{knob.name}={value}"
    return {}, "plain rerun"


def next_change(session: StreamlitSession, settings: Settings, rng: random.Random,
                todo: list[Scene] | None) -> tuple[dict[str, Any], str, Scenario | None]:
    """The widgets to change next, a description, and the preset scenario they lead to (None: random)."""
    if settings.random_values and todo is None:
        return (*random_change(session, rng), None)
    if todo is not None:
        target = todo.pop(0)
    else:
        scenes = scene_pool(session.page)
        target = rng.choice([s for s in scenes if changes_towards(session, s.scenario)] or scenes)
    return changes_towards(session, target.scenario), f"→ {target.name}", target.scenario


async def run_session(url: str, index: int, page: str, settings: Settings, recorder: Recorder, deadline: float,
                      visit: list[Scene] | None = None) -> None:
    """One tab on ``page``: open it with a preset scene, then change knobs and think until ``deadline``;
    with ``visit`` (the warm-up), move to each of those scenes once instead, without thinking.
    After a connection failure or a timeout the tab opens the page again."""
    rng = random.Random(settings.seed * 100_003 + index)
    todo = None if visit is None else list(visit)
    opening, moving = ("warmup", "warmup") if visit is not None else ("first", "rerun")
    query = start_scene(page, index).scenario.to_query()
    while True:
        session = StreamlitSession(url, page, query, timeout=settings.timeout, insecure=settings.insecure)
        try:
            recorder.run(opening, index, page, f"open ?{query}", await session.open())
            while time.perf_counter() < deadline and todo != []:
                changes, what, target = next_change(session, settings, rng, todo)
                recorder.run(moving, index, page, what, await session.rerun(changes))
                more = {} if target is None else changes_towards(session, target)
                if more:  # a new dataset draws other knobs (or brings back parked values): set them too
                    recorder.run(moving, index, page, f"{what} (2nd step)", await session.rerun(more))
                query = session.query
                if todo is None:
                    await asyncio.sleep(rng.uniform(*settings.think))
            return
        except SessionError as error:
            recorder.error("connection", index, page, str(error))
            if time.perf_counter() >= deadline:
                return
            await asyncio.sleep(1.0)
        finally:
            await session.close()


# --- the server: starting it, finding it, measuring it -----------------------------------
def listening_pid(url: str) -> int | None:
    """Pid of the local process listening on ``url``'s port (Linux /proc; None when not found or not ours)."""
    port = f"{urllib.parse.urlsplit(url).port or 80:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[1].endswith(f":{port}") and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
    return None


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in kB (None once it is gone)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, over all cores, since boot."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


@dataclass
class Usage:
    """The server's memory each second, and CPU counters at marked moments."""

    pid: int | None
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, VmRSS kB)
    marks: dict[str, dict[str, float]] = field(default_factory=dict)

    def mark(self, name: str, recorder: Recorder) -> None:
        self.marks[name] = {"at": recorder.now(), "server": cpu_seconds(self.pid) if self.pid else math.nan,
                            "machine": machine_busy_seconds(), "generator": time.process_time()}

    async def sample(self, recorder: Recorder, every: float = 1.0) -> None:
        while self.pid:
            rss = rss_kb(self.pid)
            if rss is not None:
                self.samples.append((recorder.now(), rss))
            await asyncio.sleep(every)

    def cores(self, start: str, end: str) -> dict[str, float] | None:
        """Average cores used between two marks by the server, the load generator and the whole machine."""
        a, b = self.marks[start], self.marks[end]
        wall = b["at"] - a["at"]
        if wall <= 0:
            return None
        return {who: round((b[who] - a[who]) / wall, 2) for who in ("server", "generator", "machine")}


# --- the test ------------------------------------------------------------------------------
async def load_test(url: str, server_pid: int | None, settings: Settings,
                    server_log: Path | None = None) -> dict[str, Any]:
    """Warm up, run the sessions and return the report (:func:`report`); ``server_pid`` (None: no memory and
    CPU figures) is the server's local process, ``server_log`` its output, searched for tracebacks."""
    recorder, usage = Recorder(), Usage(server_pid)
    sampler = asyncio.create_task(usage.sample(recorder))
    usage.mark("start", recorder)
    pages = settings.session_pages()
    if settings.warmup:  # one tab per page, one page after another, through every scene once
        for page in pages:
            first = start_scene(page, 0)
            visit = [] if settings.random_values else [scene for scene in scene_pool(page) if scene != first]
            await run_session(url, 0, page, settings, recorder, math.inf, visit)
    usage.mark("load", recorder)
    load_start = time.perf_counter()
    deadline = load_start + settings.duration
    sessions = []
    for index in range(settings.sessions):
        await asyncio.sleep(max(0.0, load_start + index * settings.ramp / settings.sessions - time.perf_counter()))
        sessions.append(asyncio.create_task(
            run_session(url, index, pages[index % len(pages)], settings, recorder, deadline)))
    await asyncio.gather(*sessions)
    usage.mark("end", recorder)
    sampler.cancel()
    return report(url, server_pid, settings, recorder, usage, server_log)


# --- the report ----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated linearly between order statistics."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(seconds: list[float]) -> dict[str, Any]:
    """Count, median, 95th percentile and maximum (None when there is nothing)."""
    if not seconds:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {"n": len(seconds), "p50": round(percentile(seconds, 50), 3), "p95": round(percentile(seconds, 95), 3),
            "max": round(max(seconds), 3)}


def server_tracebacks(log: Path | None) -> int | None:
    """Tracebacks in the server's log (errors a user never sees in full); None without a log."""
    if log is None or not log.exists():
        return None
    return len(re.findall(r"^Traceback \(most recent call last\)", log.read_text(errors="replace"), re.MULTILINE))


def memory_report(usage: Usage) -> dict[str, Any] | None:
    """VmRSS in MB: at start-up, when the load starts (after the warm-up), its peak and end, and each minute's peak."""
    if not usage.samples:
        return None
    load_at = usage.marks["load"]["at"]
    load = [(at - load_at, kb) for at, kb in usage.samples if at >= load_at] or usage.samples[-1:]
    minutes: dict[int, int] = {}
    for at, kb in load:
        minutes[int(at // 60)] = max(minutes.get(int(at // 60), 0), kb)
    return {"at_start": round(usage.samples[0][1] / MB), "load_start": round(load[0][1] / MB),
            "peak": round(max(kb for _, kb in load) / MB), "end": round(load[-1][1] / MB),
            "peak_per_minute": [round(kb / MB) for _, kb in sorted(minutes.items())],
            "samples": [(round(at, 1), kb) for at, kb in usage.samples]}


def report(url: str, server_pid: int | None, settings: Settings, recorder: Recorder, usage: Usage,
           server_log: Path | None) -> dict[str, Any]:
    """Everything the test measured, as plain data (what ``--json`` prints)."""
    runs = recorder.runs

    def seconds(phase: str, page: str | None = None) -> list[float]:
        return [r["seconds"] for r in runs if r["phase"] == phase and page in (None, r["page"])]

    pages = settings.session_pages()
    reruns = seconds("rerun")
    errors = {kind: sum(e["kind"] == kind for e in recorder.errors)
              for kind in ("exception", "error_alert", "connection", "finished_with_error")}
    errors["server_traceback"] = server_tracebacks(server_log)
    warmup = [r for r in runs if r["phase"] == "warmup"]
    return {
        "url": url, "server_pid": server_pid, "server_log": str(server_log) if server_log else None,
        "settings": asdict(settings), "pages": pages, "cpus": os.cpu_count(),
        "warmup": {**summary([r["seconds"] for r in warmup]),
                   "wall": round(usage.marks["load"]["at"] - usage.marks["start"]["at"], 1),
                   "slowest": max(warmup, key=lambda r: r["seconds"], default=None)},
        "first_load": summary(seconds("first")),
        "rerun": {**summary(reruns), "over_goal": sum(s > GOAL_P95_SECONDS for s in reruns),
                  "goal_p95": GOAL_P95_SECONDS,
                  "goal_met": bool(reruns) and percentile(reruns, 95) <= GOAL_P95_SECONDS,
                  "per_page": {page: summary(seconds("rerun", page)) for page in pages}},
        "slowest": sorted((r for r in runs if r["phase"] == "rerun"), key=lambda r: -r["seconds"])[:5],
        "errors": {**errors, "total": sum(n or 0 for n in errors.values()), "details": recorder.errors[:50]},
        "memory_mb": memory_report(usage),
        "cpu_cores": {"warmup": usage.cores("start", "load"), "load": usage.cores("load", "end")},
        "load_seconds": round(usage.marks["end"]["at"] - usage.marks["load"]["at"], 1),
        "runs": runs,
    }


def _row(name: str, stats: dict[str, Any], note: str = "") -> str:
    figures = "".join(f"{stats[q]:>7.2f}" if stats["n"] else f"{'–':>7}" for q in ("p50", "p95", "max"))
    return f"  {name:<30}{stats['n']:>6}{figures}  {note}".rstrip()


def _where(run: dict[str, Any]) -> str:
    return f'{run["seconds"]:.2f} s on {run["page"] or "home"} "{run["change"]}"'


def print_report(result: dict[str, Any]) -> None:
    """The report as a table, with every figure explained in place."""
    settings, rerun, errors, memory = result["settings"], result["rerun"], result["errors"], result["memory_mb"]
    options = "".join(f", {option}" for option in result.get("server_options", []))
    log = result["server_log"]
    server = f"own server (DSL_TORCH_THREADS=1{options}; log {log})" if log else "a given server"
    mode = ("random in-range values, one slider per rerun" if settings["random_values"] else
            "preset scenes: each move sets the sidebar's knobs to another preset's scenario in one rerun")
    print(f"Load test of {result['url']}, {server}, on {result['cpus']} CPU cores")
    print(f"  {settings['sessions']} sessions for {settings['duration']:g} s (all done after "
          f"{result['load_seconds']:g} s); {mode}; think {settings['think'][0]:g}-{settings['think'][1]:g} s; "
          f"sessions open over {settings['ramp']:g} s; seed {settings['seed']}")
    print(f"  pages: {', '.join(page or 'home' for page in result['pages'])} (sessions take them in turn)")
    warmup = result["warmup"]
    if warmup["n"]:
        print(f"  warm-up before the load, one tab per page through every scene once: {warmup['n']} runs in "
              f"{warmup['wall']:.0f} s, median {warmup['p50']:.2f} s, slowest {_where(warmup['slowest'])}")

    print(f"\nLatency in seconds, from sending the change to script_finished:\n  {'':<30}{'runs':>6}"
          f"{'p50':>7}{'p95':>7}{'max':>7}")
    print(_row("first load (open the link)", result["first_load"]))
    verdict = "met" if rerun["goal_met"] else "MISSED"
    print(_row("rerun, all pages", rerun, f"goal: p95 ≤ {rerun['goal_p95']:g} s, {verdict}"))
    for page, stats in rerun["per_page"].items():
        print(_row(f"  {page or 'home'}", stats))
    if rerun["n"]:
        print(f"  reruns over {rerun['goal_p95']:g} s: {rerun['over_goal']} of {rerun['n']}; the slowest:")
        for run in result["slowest"][:3]:
            print(f"    {_where(run)} (session {run['session']}, {run['at']:.0f} s after the start, "
                  f"{run['kb']:.0f} kB received)")

    logged = errors["server_traceback"]
    tracebacks = "" if logged is None else f", tracebacks in the server log {logged}"
    print(f"\nErrors: {errors['total']} (exceptions {errors['exception']}, runs finished with an error or page not "
          f"found {errors['finished_with_error']}, connection failures and timeouts {errors['connection']}"
          f"{tracebacks}; st.error alerts {errors['error_alert']})")
    for detail in errors["details"][:5]:
        print(f"  {detail['kind']} {detail['at']:.0f} s after the start, session {detail['session']} on "
              f"{detail['page'] or 'home'}: {detail['detail'][:150]}")
    if errors["total"] > 5:
        print(f"  … and {errors['total'] - 5} more (the first {len(errors['details'])} in the --json report)")

    if memory:
        minutes = memory["peak_per_minute"]
        print(f"\nServer memory (VmRSS, MB): {memory['at_start']} at the start of the test, {memory['load_start']} "
              f"when the load starts, peak {memory['peak']}, end {memory['end']}")
        print(f"  peak of each minute of load: {' '.join(map(str, minutes))}"
              + (f" (last minute {minutes[-1] - minutes[0]:+d} MB against the first)" if len(minutes) > 1 else ""))
    else:
        print("\nServer memory: not sampled (no local pid for the server: give --server-pid)")
    phase = "load" if result["cpu_cores"]["load"] else "warmup"
    cores = result["cpu_cores"][phase]
    other = cores["machine"] - cores["server"] - cores["generator"]
    print(f"CPU during the {phase.replace('warmup', 'warm-up')}, average cores busy: server {cores['server']:.2f}, "
          f"load generator {cores['generator']:.2f}, other processes {other:.2f}"
          + (" (the machine was shared: latencies are inflated)" if other > 0.25 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load after the warm-up (default 60)")
    parser.add_argument("--soak", action="store_true",
                        help=f"a {SOAK_SECONDS // 60}-minute soak (--duration {SOAK_SECONDS})")
    parser.add_argument("--random", action="store_true", help="random in-range slider values instead of preset scenes")
    parser.add_argument("--pages", default="", help="comma-separated url paths (default: the presets' pages)")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"),
                        help="pause between a run's end and the next change, uniform in seconds (default 0.5 2)")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the sessions open (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a run may take before it is an error")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sessions' choices")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the warm-up visits")
    parser.add_argument("--url", help="test this running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server (default: the local listener)")
    parser.add_argument("--insecure", action="store_true", help="accept a self-signed certificate (an https --url)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a Streamlit config option for the server this script starts, e.g. "
                        "runner.postScriptGC=false (repeatable)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="JSON report to FILE, or alone: to stdout")
    args = parser.parse_args()
    if args.url and args.option:
        parser.error("--option configures the server this script starts; it cannot change a --url server")
    settings = Settings(sessions=args.sessions, duration=SOAK_SECONDS if args.soak else args.duration,
                        pages=tuple(page.strip() for page in args.pages.split(",") if args.pages),
                        random_values=args.random, think=tuple(args.think), ramp=args.ramp, timeout=args.timeout,
                        seed=args.seed, warmup=args.warmup, insecure=args.insecure)
    if args.url:
        wait_healthy(args.url, None, limit=10)
        server = contextlib.nullcontext((args.url.rstrip("/"), args.server_pid or listening_pid(args.url)))
    else:
        server = served_app(SERVER_LOG, options=tuple(args.option), env={"DSL_TORCH_THREADS": "1"})
    with server as (url, pid):
        result = asyncio.run(load_test(url, pid, settings, None if args.url else SERVER_LOG))
    result["server_options"] = [] if args.url else args.option
    if args.json != "-":
        print_report(result)
    if args.json:
        text = json.dumps(result, indent=1, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    sys.exit(1 if result["errors"]["total"] else 0)


if __name__ == "__main__":
    main()
