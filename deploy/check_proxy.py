"""Drive Chromium through a proxy in front of Domain Shift Lab replicas (used by deploy/check_local.sh).

For each of CONTEXTS fresh browsers: open Home and Your data, upload a source and a target CSV into the
page's two file uploaders and press Check. Then read nginx's access log (deploy/nginx.conf's "replica"
format) and say which replicas served each browser's dsl_replica cookie.

    .venv/bin/python deploy/check_proxy.py URL ACCESS_LOG --contexts 3 --expect verdict
    .venv/bin/python deploy/check_proxy.py URL ACCESS_LOG --contexts 2 --expect upload-error
    .venv/bin/python deploy/check_proxy.py URL ACCESS_LOG --contexts 4 --expect failover --replicas A=PID,B=PID

Exit status 0 when every browser got what --expect says: the verdict (and one replica per browser), an
upload answered 400 (what a proxy without sticky sessions gives), or, after one replica is killed, each of its
sessions back on the other replica with its URL's scenario while the other sessions carry on.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import ssl
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from playwright.sync_api import sync_playwright
from sklearn.datasets import load_wine

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def sample_tables(folder: Path) -> tuple[Path, Path]:
    """Wine, split at the median alcohol: the target has shifted (as in tests/test_your_data_page.py)."""
    frame = load_wine(as_frame=True).frame
    high = frame["alcohol"] > frame["alcohol"].median()
    source, target = folder / "old.csv", folder / "new.csv"
    source.write_text(frame[~high].to_csv(index=False))
    target.write_text(frame[high].to_csv(index=False, sep=";"))
    return source, target


SECURITY_HEADERS = {"content-security-policy": "frame-ancestors 'none'", "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def one_browser(browser, base: str, source: Path, target: Path, shot: Path, insecure: bool = False) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, ignore_https_errors=insecure)
    page = context.new_page()
    uploads: list[int] = []
    blocked: list[str] = []  # what the Content-Security-Policy refused: it must refuse nothing of the app's
    page.on("response", lambda r: uploads.append(r.status) if "/_stcore/upload_file" in r.url else None)
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    home_ok = page.locator("[data-testid='stException']").count() == 0
    page.goto(f"{base}/your_data", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    inputs = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    inputs.nth(0).set_input_files(str(source))
    page.wait_for_timeout(1500)
    page.wait_for_selector(IDLE, timeout=120_000)
    inputs.nth(1).set_input_files(str(target))
    verdict = None
    try:
        check = page.get_by_role("button", name=re.compile(r"Check$"))
        check.wait_for(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        check.click()
        page.get_by_text("Verdict", exact=True).wait_for(timeout=180_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        shown = page.locator("[data-testid='stAlertContentWarning'], [data-testid='stAlertContentInfo']")
        verdict = next((w for w in shown.all_inner_texts() if "Measured on the target" in w or "shifted" in w), None)
    except Exception:  # noqa: BLE001 - a missing verdict is reported below, with what the page shows
        pass
    shown = page.locator("[data-testid='stFileUploader'] [role='alert'], "
                         "[data-testid='stFileUploaderFileErrorMessage'], "
                         "[data-testid='stAlertContentError']").all_inner_texts()
    result = {"cookie": next((c["value"] for c in context.cookies() if c["name"] == "dsl_replica"), None),
              "home_ok": home_ok, "uploads": uploads, "verdict": verdict, "errors": shown, "blocked": blocked,
              "exceptions": page.locator("[data-testid='stException']").count()}
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    return result


ROTATION = "[data-testid='stSidebar'] input[type='range'][aria-label='Rotation (°)']"


def shown_rotation(page) -> str | None:
    """The sidebar's rotation, as the page shows it (the sidebar is drawn even while collapsed)."""
    thumb = page.locator(ROTATION)
    return thumb.get_attribute("aria-valuetext") if thumb.count() else None


def open_scene(browser, base: str, rotation: int, insecure: bool):
    """A fresh browser on Domain shift at ``rotation``, once its script has finished; (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600}, ignore_https_errors=insecure)
    page = context.new_page()
    page.goto(f"{base}/domain_shift?rotation={rotation}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=180_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    return context, page


def failover(browser, args, replicas: dict[str, int]) -> bool:
    """Open ``args.contexts`` sessions, each at its own rotation; kill the replica that serves the first; the
    killed replica's sessions must come back on the other with their URL's scenario, the others must carry on
    (a slider move still reruns them) on the replica they had."""
    log_start = args.access_log.stat().st_size if args.access_log.exists() else 0
    sessions = [(20 + 7 * i, *open_scene(browser, args.url, 20 + 7 * i, args.insecure)) for i in range(args.contexts)]
    time.sleep(0.5)
    served = replicas_by_cookie(args.access_log.read_text()[log_start:])
    home = {}  # rotation -> the replica that served most of that session's requests
    for rotation, context, _ in sessions:
        requests = served[next(c["value"] for c in context.cookies() if c["name"] == "dsl_replica")]
        home[rotation] = max(requests, key=requests.get)
    victim = home[sessions[0][0]]
    print(f"sessions per replica before: { {r: list(home.values()).count(r) for r in sorted(set(home.values()))} }; "
          f"killing {victim} (pid {replicas[victim]})")
    os.kill(replicas[victim], signal.SIGKILL)
    killed_at, ok, log_kill = time.monotonic(), True, args.access_log.stat().st_size
    for rotation, _, page in sessions:
        fate = "its replica was killed" if home[rotation] == victim else "untouched"
        moved, seconds, last = slider_moves(page, rotation, limit=120.0)
        good = moved and page.locator("[data-testid='stException']").count() == 0
        print(f"session at rotation {rotation} on {home[rotation]}: {fate}; scenario from its URL kept and a "
              f"slider move reran it: {'yes' if good else f'NO (last shown rotation {last})'} "
              f"({seconds:.1f} s; {time.monotonic() - killed_at:.1f} s after the kill)")
        ok &= good
    after = replicas_by_cookie(args.access_log.read_text()[log_kill:])
    for rotation, context, _ in sessions:
        requests = dict(after[next(c["value"] for c in context.cookies() if c["name"] == "dsl_replica")])
        where = set(requests) - {victim}
        print(f"session at rotation {rotation}: HTTP requests after the kill "
              f"{requests or 'none (its websocket stayed open)'}")
        if home[rotation] != victim:  # the others stay where they were (a websocket is logged when it closes)
            ok &= where <= {home[rotation]}
        context.close()
    return ok


def slider_moves(page, rotation: int, limit: float) -> tuple[bool, float, str | None]:
    """Whether, within ``limit`` seconds, the page shows ``rotation`` and one ArrowRight on its rotation slider
    reruns it to ``rotation + 1`` (a page whose server went away reconnects first, so this retries); the
    seconds it took, and the rotation it last showed."""
    started, shown = time.monotonic(), None
    while time.monotonic() - started < limit:
        try:
            page.wait_for_selector(IDLE, timeout=20_000)
            shown = shown_rotation(page)
            if shown != str(rotation):  # reconnecting: the sidebar is not back yet
                page.wait_for_timeout(2_000)
                continue
            page.locator(ROTATION).focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_url(re.compile(rf"rotation={rotation + 1}(&|$)"), timeout=15_000)
            page.wait_for_function(f"() => document.querySelector(\"{ROTATION}\")"
                                   f".getAttribute('aria-valuetext') === '{rotation + 1}'", timeout=15_000)
            page.wait_for_selector(IDLE, timeout=60_000)
            return True, time.monotonic() - started, shown_rotation(page)
        except Exception:  # noqa: BLE001 - disconnected, reconnecting: try again until the limit
            page.wait_for_timeout(2_000)
            if shown_rotation(page) == str(rotation + 1):  # the slider moved, but the rerun did not land: undo
                page.keyboard.press("ArrowLeft")
    return False, time.monotonic() - started, shown


def replicas_by_cookie(log_text: str) -> dict[str, dict[str, int]]:
    """{cookie: {replica: number of requests}} from the lines of deploy/nginx.conf's log format."""
    served: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in log_text.splitlines():
        match = re.search(r"replica=(.+) key=(\S+)$", line)
        if match:
            served[match.group(2)][match.group(1)] += 1
    return served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("access_log", type=Path)
    parser.add_argument("--contexts", type=int, default=3)
    parser.add_argument("--expect", choices=("verdict", "upload-error", "failover"), default="verdict")
    parser.add_argument("--replicas", default="", help="failover: ADDRESS=PID,... of the replicas behind the proxy")
    parser.add_argument("--out", type=Path, default=None, help="folder for the CSV files and screenshots")
    parser.add_argument("--chromium", default=os.environ.get("DSL_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--insecure", action="store_true", help="accept a self-signed certificate")
    parser.add_argument("--headers", action="store_true", help="require the security headers on a page")
    args = parser.parse_args()
    tls = ssl._create_unverified_context() if args.insecure else None  # noqa: S323 - the test's own certificate
    out = args.out or Path(tempfile.mkdtemp(prefix="dsl-proxy-"))
    out.mkdir(parents=True, exist_ok=True)
    source, target = sample_tables(out)

    with urllib.request.urlopen(f"{args.url}/_stcore/health", timeout=10, context=tls) as answer:
        print(f"health through the proxy: HTTP {answer.status} {answer.read().decode()!r}")
    with urllib.request.urlopen(f"{args.url}/your_data", timeout=10, context=tls) as answer:
        headers = {name.lower(): value for name, value in answer.headers.items()}
    missing = [name for name, part in SECURITY_HEADERS.items() if part not in headers.get(name, "")]
    print(f"security headers of a page: {'all there' if not missing else 'MISSING ' + ', '.join(missing)}")
    if args.expect == "failover":
        replicas = {address: int(pid) for address, _, pid in (item.partition("=") for item in args.replicas.split(","))}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            ok = failover(browser, args, replicas) and not (args.headers and missing)
            browser.close()
        print("as expected" if ok else "NOT as expected")
        return 0 if ok else 1
    log_start = args.access_log.stat().st_size if args.access_log.exists() else 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        results = []
        for index in range(args.contexts):
            started = time.monotonic()
            result = one_browser(browser, args.url, source, target, out / f"{args.expect}_{index}.png",
                                 args.insecure)
            result["seconds"] = time.monotonic() - started
            results.append(result)
        browser.close()
    time.sleep(0.5)  # nginx logs a websocket when it closes
    served = replicas_by_cookie(args.access_log.read_text()[log_start:])

    ok = not (args.headers and missing)
    for index, result in enumerate(results):
        replicas = dict(served.get(result["cookie"], {}))
        print(f"browser {index}: uploads answered {result['uploads']}, exceptions {result['exceptions']}, "
              f"home ok {result['home_ok']}, requests per replica {replicas} ({result['seconds']:.1f} s)")
        print(f"    verdict: {result['verdict']!r}" if result["verdict"]
              else f"    no verdict; page shows {result['errors']}")
        if result["blocked"]:
            print(f"    refused by the Content-Security-Policy: {result['blocked'][:3]}")
        if args.expect == "verdict":
            ok &= (result["verdict"] is not None and result["home_ok"] and result["exceptions"] == 0
                   and not result["blocked"]
                   and all(status < 300 for status in result["uploads"]) and len(replicas) == 1)
        else:
            ok &= 400 in result["uploads"] and result["verdict"] is None
    print(f"screenshots in {out}")
    print("as expected" if ok else "NOT as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
