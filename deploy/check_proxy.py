"""Drive Chromium through a proxy in front of Domain Shift Lab replicas (used by deploy/check_local.sh).

For each of CONTEXTS fresh browsers: open Home and Your data, upload a source and a target CSV into the
page's two file uploaders and press Check. Then read nginx's access log (deploy/nginx.conf's "replica"
format) and say which replicas served each browser's dsl_replica cookie.

    .venv/bin/python deploy/check_proxy.py URL ACCESS_LOG --contexts 3 --expect verdict
    .venv/bin/python deploy/check_proxy.py URL ACCESS_LOG --contexts 2 --expect upload-error

Exit status 0 when every browser got what --expect says: the verdict (and one replica per browser), or an
upload answered 400 (what a proxy without sticky sessions gives).
"""

from __future__ import annotations

import argparse
import os
import re
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


def one_browser(browser, base: str, source: Path, target: Path, shot: Path) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    uploads: list[int] = []
    page.on("response", lambda r: uploads.append(r.status) if "/_stcore/upload_file" in r.url else None)
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
        warnings = page.locator("[data-testid='stAlertContentWarning']").all_inner_texts()
        verdict = next((w for w in warnings if "shifted" in w), None)
    except Exception:  # noqa: BLE001 - a missing verdict is reported below, with what the page shows
        pass
    shown = page.locator("[data-testid='stFileUploader'] [role='alert'], "
                         "[data-testid='stFileUploaderFileErrorMessage'], "
                         "[data-testid='stAlertContentError']").all_inner_texts()
    result = {"cookie": next((c["value"] for c in context.cookies() if c["name"] == "dsl_replica"), None),
              "home_ok": home_ok, "uploads": uploads, "verdict": verdict, "errors": shown,
              "exceptions": page.locator("[data-testid='stException']").count()}
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    return result


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
    parser.add_argument("--expect", choices=("verdict", "upload-error"), default="verdict")
    parser.add_argument("--out", type=Path, default=None, help="folder for the CSV files and screenshots")
    parser.add_argument("--chromium", default=os.environ.get("DSL_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dsl-proxy-"))
    out.mkdir(parents=True, exist_ok=True)
    source, target = sample_tables(out)

    with urllib.request.urlopen(f"{args.url}/_stcore/health", timeout=10) as answer:
        print(f"health through the proxy: HTTP {answer.status} {answer.read().decode()!r}")
    log_start = args.access_log.stat().st_size if args.access_log.exists() else 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        results = []
        for index in range(args.contexts):
            started = time.monotonic()
            result = one_browser(browser, args.url, source, target, out / f"{args.expect}_{index}.png")
            result["seconds"] = time.monotonic() - started
            results.append(result)
        browser.close()
    time.sleep(0.5)  # nginx logs a websocket when it closes
    served = replicas_by_cookie(args.access_log.read_text()[log_start:])

    ok = True
    for index, result in enumerate(results):
        replicas = dict(served.get(result["cookie"], {}))
        print(f"browser {index}: uploads answered {result['uploads']}, exceptions {result['exceptions']}, "
              f"home ok {result['home_ok']}, requests per replica {replicas} ({result['seconds']:.1f} s)")
        print(f"    verdict: {result['verdict']!r}" if result["verdict"]
              else f"    no verdict; page shows {result['errors']}")
        if args.expect == "verdict":
            ok &= (result["verdict"] is not None and result["home_ok"] and result["exceptions"] == 0
                   and all(status < 300 for status in result["uploads"]) and len(replicas) == 1)
        else:
            ok &= 400 in result["uploads"] and result["verdict"] is None
    print(f"screenshots in {out}")
    print("as expected" if ok else "NOT as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
