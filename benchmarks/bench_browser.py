"""What a user waits for in a real browser: Chromium against the served app, timed from the action to the picture.

Run ``python benchmarks/bench_browser.py [--repeats 10] [--train-repeats 5] [--pages domain_shift adaptation]
[--json [FILE]]``. It starts
``streamlit run app.py`` on a free loopback port with ``DSL_RESULT_STORE=off`` (nothing is served from
disk: every move computes), as the browser tests do (``benchmarks/served_app.py``), and drives Debian's
Chromium with Playwright (``DSL_CHROMIUM`` names another binary; ``--cwd`` serves another copy of the
project, to time another version side by side).

The times are taken inside the page (``performance.now()``), from the event of the action itself (the
slider's ``keydown``, the button's ``click``) to the first moment a 5 ms poll sees the result:

1. Domain shift: ``--repeats`` moves of the sidebar's *Rotation* slider by one degree (focus the thumb,
   press ArrowRight; each move is a scenario the server has not seen, so every cache misses), after two
   moves to warm up. *scatter*: the plotly chart in ``.st-key-chart_domains`` shows new data; *cards*:
   the metric cards, greyed while the run computes, are fresh again; *settled*: the script has finished
   and nothing on the page is stale (the divergence sweep included). Goals: scatter <= 0.5 s, settled
   <= 1.5 s. *run start* is when Streamlit marks the script running: the slider's own debounce is in it.
2. Adaptation: ``--train-repeats`` runs of the form's *Train* button, each after one more press of
   ArrowRight on the form's *Steps* slider (10 more steps: a run not in the cache), after one run to
   warm up. *first live frame*: the first plotly chart in ``.st-key-adaptation_live`` (the live view of
   training; "no live frame seen" where the page has none); *final*: the decision-boundary chart in
   ``.st-key-chart_decision_boundaries`` shows the new models and the page has settled. The training
   seconds are read from the page's caption ("... models trained on cpu in X s."; one decimal), and
   final / training is set against the goal of 1.5x.

On both pages *last message handled* is when the page's script handled the run's last websocket message:
an upper bound of the server's part, since the page handles messages only between its drawing (a page busy
drawing live frames handles the last one late; ``benchmarks/streamlit_session.py`` times the server alone).

Prints every sample and the medians, and the ratio of each median to its goal (``--json`` adds every sample
as JSON). Exits 1 with a one-line message when Chromium or Playwright is missing, or when a page shows an
error instead of the chart or never settles; a median over its goal is reported, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # not _common: it imports torch, which the browser side does not need

from benchmarks.served_app import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, served_app  # noqa: E402

SERVER_LOG = ROOT / "artifacts" / "bench_browser_server.log"
SAMPLE_TIMEOUT_MS = 300_000  # for a page that never settles; a busy 2-core machine only makes samples slower
STUCK_MS = 5_000  # a run that finished without redrawing the watched chart: an error, not a slow run
SCATTER_GOAL, SETTLED_GOAL, TRAINING_RATIO_GOAL = 0.5, 1.5, 1.5
START_ROTATION, WARM_UP_MOVES = 10, 2

APP = "[data-testid='stApp']"
SIDEBAR = "[data-testid='stSidebar']"
SCATTER = ".st-key-chart_domains"
BOUNDARIES = ".st-key-chart_decision_boundaries"
LIVE = ".st-key-adaptation_live"
METRICS = "[data-testid='stMetric']"
EXCEPTION = "[data-testid='stException']"
ERROR = "[data-testid='stAlertContentError']"
TRAINED = re.compile(r"(\d+) models trained on (\S+) in ([\d.]+) s\.")

# Added to every page before Streamlit's own script: the time of the last websocket message received, so
# that a sample can tell the server's part (its last message of the run) from the browser's (drawing it).
MESSAGE_CLOCK = """(() => {
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', () => { window.__dslLastMessage = performance.now(); });
        }
    };
})();"""

SETTLED = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector("[data-stale='true']") === null
        && Array.from(document.querySelectorAll('.js-plotly-plot')).every(chart => chart._fullLayout !== undefined);
}"""

# Installed before each action; ``window.__dslTimes`` then fills in, in ms of performance.now():
# action (the event), running (the script state turns 'running'), changed[name] (the plotly chart in
# charts[name] shows data other than before the action), live (the first chart in ``live`` other than
# the one there before), cards (every element matching ``cards`` was stale since the action and is fresh
# again), settled (script finished, nothing stale, every chart drawn, every watched chart changed); stuck
# when the run has finished and a watched chart is still unchanged ``stuckMs`` later (an error shown instead);
# lastMessage, at settled, the last websocket message received (:data:`MESSAGE_CLOCK`).
RECORDER = """({event, charts, live, cards, stuckMs}) => {
    const app = document.querySelector("[data-testid='stApp']");
    const signatures = new WeakMap();  // a chart's data array -> its signature, computed once per array
    const hashText = (text) => {
        let hash = text.length;
        for (let i = 0; i < text.length; i += 1) hash = (hash * 31 + text.charCodeAt(i)) | 0;
        return hash;
    };
    const part = (value) => {
        if (value === undefined || value === null) return '';
        if (value.bdata !== undefined) return value.dtype + ':' + hashText(value.bdata);
        if (ArrayBuffer.isView(value)) return value.length + ':' + hashText(Array.from(value).join(','));
        return hashText(JSON.stringify(value));
    };
    const signature = (chart) => {
        if (!chart || chart._fullLayout === undefined || !Array.isArray(chart.data)) return null;
        let text = signatures.get(chart.data);
        if (text === undefined) {
            text = chart.data.map(t => [t.type, t.name, part(t.x), part(t.y), part(t.z), part(t.source)].join('|'))
                .join(';');
            signatures.set(chart.data, text);
        }
        return text;
    };
    const chartIn = (selector) => document.querySelector(selector + ' .js-plotly-plot');
    const stale = (element) => {
        const holder = element.closest('[data-stale]');
        return holder !== null && holder.getAttribute('data-stale') === 'true';
    };
    const settled = () => app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector("[data-stale='true']") === null
        && Array.from(document.querySelectorAll('.js-plotly-plot')).every(chart => chart._fullLayout !== undefined);

    if (window.__dslStop) window.__dslStop();
    const before = {};
    for (const [name, selector] of Object.entries(charts)) before[name] = signature(chartIn(selector));
    const liveBefore = live ? signature(chartIn(live)) : null;
    const times = {action: null, running: null, changed: {}, live: null, cards: null, settled: null, stuck: null};
    let cardsSeenStale = false;
    let finished = null;  // when the run had finished with a watched chart still unchanged
    window.__dslTimes = times;

    const onAction = () => { if (times.action === null) times.action = performance.now(); };
    document.addEventListener(event, onAction, true);
    const observer = new MutationObserver(() => {
        if (times.action !== null && times.running === null
            && app.getAttribute('data-test-script-state') === 'running') times.running = performance.now();
    });
    observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    const poll = () => {
        if (times.action === null) return;
        const now = performance.now();
        for (const [name, selector] of Object.entries(charts)) {
            if (times.changed[name] === undefined) {
                const now_signature = signature(chartIn(selector));
                if (now_signature !== null && now_signature !== before[name]) times.changed[name] = now;
            }
        }
        if (live && times.live === null) {
            const now_signature = signature(chartIn(live));
            if (now_signature !== null && now_signature !== liveBefore) times.live = now;
        }
        if (cards && times.cards === null) {
            const found = Array.from(document.querySelectorAll(cards));
            if (found.some(stale)) cardsSeenStale = true;
            else if (cardsSeenStale && found.length > 0) times.cards = now;
        }
        if (times.running === null || !settled()) {
            finished = null;
        } else if (Object.keys(times.changed).length === Object.keys(charts).length) {
            times.settled = now;
            times.lastMessage = window.__dslLastMessage === undefined ? null : window.__dslLastMessage;
            window.__dslStop();
        } else if (finished === null) {
            finished = now;
        } else if (now - finished > stuckMs) {  // an error instead of the chart: no use waiting longer
            times.stuck = now;
            window.__dslStop();
        }
    };
    const timer = setInterval(poll, 5);
    window.__dslStop = () => {
        clearInterval(timer);
        observer.disconnect();
        document.removeEventListener(event, onAction, true);
        window.__dslStop = null;
    };
}"""


def seconds_after(times: dict[str, Any], moment: float | None) -> float | None:
    """Seconds from the action to ``moment`` (ms of performance.now()); None when it never came."""
    return None if moment is None or times["action"] is None else round((moment - times["action"]) / 1000, 3)


def record(page, charts: dict[str, str], event: str, live: str | None = None, cards: str | None = None) -> None:
    """Install the in-page recorder (:data:`RECORDER`) before an action."""
    page.evaluate(RECORDER, {"event": event, "charts": charts, "live": live, "cards": cards, "stuckMs": STUCK_MS})


def recorded(page, what: str) -> dict[str, Any]:
    """Wait until the page has settled after the action; return the recorder's times. RuntimeError when it
    shows an exception or an error, or never settles."""
    try:
        page.wait_for_function("() => window.__dslTimes && (window.__dslTimes.settled !== null"
                               " || window.__dslTimes.stuck !== null)", timeout=SAMPLE_TIMEOUT_MS, polling=50)
    except Exception as error:
        times = page.evaluate("() => window.__dslTimes")
        raise RuntimeError(f"{what}: the page did not settle within {SAMPLE_TIMEOUT_MS / 1000:g} s "
                           f"(recorded so far: {times}; server log {SERVER_LOG})") from error
    shown = page.locator(f"{EXCEPTION}, {ERROR}").all_inner_texts()
    times = page.evaluate("() => window.__dslTimes")
    if shown or times["settled"] is None:
        problem = " / ".join(text.strip().splitlines()[0] for text in shown if text.strip()) or "no error shown"
        raise RuntimeError(f"{what}: the page finished without redrawing {', '.join(times['changed']) or 'its chart'}"
                           f" ({problem}; server log {SERVER_LOG})")
    return times


def open_page(browser, url: str):
    """A new tab (a new Streamlit session) on ``url``, once its script has finished and its charts are drawn."""
    page = browser.new_page(viewport=VIEWPORT)
    page.add_init_script(MESSAGE_CLOCK)
    page.set_default_timeout(SAMPLE_TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMain'] h1")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
    page.wait_for_function(SETTLED)
    return page


def domain_shift_moves(browser, url: str, repeats: int) -> list[dict[str, float | None]]:
    """Move the Rotation slider one degree at a time; one sample per move (the warm-up moves left out)."""
    page = open_page(browser, f"{url}/domain_shift?rotation={START_ROTATION}")
    thumb = page.locator(f"{SIDEBAR} input[type='range'][aria-label='Rotation (°)']")
    samples = []
    for move in range(WARM_UP_MOVES + repeats):
        rotation = START_ROTATION + move + 1
        record(page, {"scatter": SCATTER}, "keydown", cards=METRICS)
        thumb.focus()
        thumb.press("ArrowRight")
        times = recorded(page, f"domain shift, rotation {rotation}")
        shown = thumb.get_attribute("aria-valuetext")
        if shown != str(rotation):
            raise RuntimeError(f"the Rotation slider shows {shown}, expected {rotation}")
        if move >= WARM_UP_MOVES:
            samples.append({"rotation": rotation, "run_start": seconds_after(times, times["running"]),
                            "scatter": seconds_after(times, times["changed"].get("scatter")),
                            "cards": seconds_after(times, times["cards"]),
                            "last_message": seconds_after(times, times["lastMessage"]),
                            "settled": seconds_after(times, times["settled"])})
    page.close()
    return samples


def adaptation_runs(browser, url: str, repeats: int) -> list[dict[str, Any]]:
    """Add 10 steps on the form's Steps slider and click Train; one sample per run (the warm-up left out)."""
    page = open_page(browser, f"{url}/adaptation")
    form = page.get_by_test_id("stForm")
    steps = form.locator("input[type='range'][aria-label='Steps']")
    train = form.get_by_role("button", name="Train", exact=True)
    samples = []
    for run in range(1 + repeats):
        steps.focus()
        steps.press("ArrowRight")
        chosen = steps.get_attribute("aria-valuetext")
        record(page, {"boundaries": BOUNDARIES}, "click", live=LIVE)
        train.click()
        times = recorded(page, f"adaptation, {chosen} steps")
        if f"steps={chosen}" not in urlsplit(page.url).query.split("&"):  # the run's settings are in the address
            raise RuntimeError(f"the run after choosing {chosen} steps left the address at {page.url}")
        caption = TRAINED.search(page.locator("[data-testid='stMain']").inner_text())
        training = float(caption.group(3)) if caption else None
        final = seconds_after(times, times["settled"])
        if run >= 1:
            samples.append({"steps": int(chosen), "run_start": seconds_after(times, times["running"]),
                            "first_live_frame": seconds_after(times, times["live"]),
                            "boundaries": seconds_after(times, times["changed"].get("boundaries")),
                            "last_message": seconds_after(times, times["lastMessage"]),
                            "final": final, "training": training,
                            "device": caption.group(2) if caption else None,
                            "final_over_training": round(final / training, 2) if training else None})
    page.close()
    return samples


def median(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [sample[key] for sample in samples if sample[key] is not None]
    return round(statistics.median(values), 3) if values else None


def row(name: str, samples: list[dict[str, Any]], key: str, goal: float | None = None, unit: str = "s",
        missing: str = "never seen") -> str:
    """One line of the table: the median, its goal and ratio, every sample."""
    value = median(samples, key)
    shown = f"{value:.3f} {unit}" if value is not None else missing
    against = f"goal <= {goal:g} {unit}: {value / goal:.2f}x" if goal and value is not None else ""
    every = ", ".join("-" if s[key] is None else f"{s[key]:g}" for s in samples)
    return f"  {name:<34} {shown:>16}  {against:<24} [{every}]"


def check_browser() -> None:
    """Exit 1 with one line when Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        sys.exit("bench_browser: Playwright is not installed (pip install -r requirements-test.txt)")
    if not Path(CHROMIUM).exists():
        sys.exit(f"bench_browser: no Chromium at {CHROMIUM} (apt-get install chromium, or set DSL_CHROMIUM)")


def print_domain_shift(moves: list[dict[str, Any]]) -> None:
    print(f"Domain shift: {len(moves)} moves of the Rotation slider by 1° "
          f"(rotation {moves[0]['rotation']}..{moves[-1]['rotation']}), seconds from the keydown; medians, samples")
    print(row("run start (slider debounce)", moves, "run_start"))
    print(row("scatter redrawn", moves, "scatter", SCATTER_GOAL))
    print(row("metric cards fresh", moves, "cards"))
    print(row("last message handled", moves, "last_message"))
    print(row("settled (everything)", moves, "settled", SETTLED_GOAL))


def print_adaptation(runs: list[dict[str, Any]]) -> None:
    print(f"Adaptation: {len(runs)} Train clicks (steps {runs[0]['steps']}..{runs[-1]['steps']}), "
          "seconds from the click; medians, samples")
    print(row("run start", runs, "run_start"))
    print(row("first live frame", runs, "first_live_frame", missing="no live frame seen"))
    print(row("last message handled", runs, "last_message"))
    print(row("decision boundaries redrawn", runs, "boundaries"))
    print(row("final (settled)", runs, "final"))
    print(row(f"training (caption, on {runs[0]['device']})", runs, "training"))
    print(row("final / training", runs, "final_over_training", TRAINING_RATIO_GOAL, unit="x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="moves of the Rotation slider (after 2 to warm up)")
    parser.add_argument("--train-repeats", type=int, default=5, help="Train clicks (after 1 to warm up)")
    parser.add_argument("--pages", nargs="+", choices=("domain_shift", "adaptation"),
                        default=["domain_shift", "adaptation"], help="the pages to time (default: both)")
    parser.add_argument("--cwd", type=Path, default=ROOT, help="serve app.py from this copy of the project")
    parser.add_argument("--json", nargs="?", const="-", help="also write every sample as JSON (to FILE, or stdout)")
    args = parser.parse_args()
    if min(args.repeats, args.train_repeats) < 1:
        parser.error("--repeats and --train-repeats must be at least 1")
    check_browser()
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    moves, runs = [], []
    try:
        with (served_app(SERVER_LOG, cwd=args.cwd, env={"DSL_RESULT_STORE": "off"}) as (url, _),
              sync_playwright() as playwright):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                if "domain_shift" in args.pages:
                    moves = domain_shift_moves(browser, url, args.repeats)
                if "adaptation" in args.pages:
                    runs = adaptation_runs(browser, url, args.train_repeats)
            finally:
                browser.close()
    except RuntimeError as error:
        sys.exit(f"bench_browser: {error}")
    print(f"served app: {args.cwd}, DSL_RESULT_STORE=off, torch threads as the app sets them "
          f"(DSL_TORCH_THREADS={os.environ.get('DSL_TORCH_THREADS', 'unset')}); Chromium {CHROMIUM}; "
          f"{time.perf_counter() - started:.0f} s in all")
    if moves:
        print_domain_shift(moves)
    if runs:
        print_adaptation(runs)
    if args.json:
        text = json.dumps({"domain_shift": moves, "adaptation": runs}, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
