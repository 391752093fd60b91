"""Drives the dashboard in headless Chromium (Debian chromium, chromium-driver,
python3-selenium) and asserts what a user sees; run by
tests/e2e/dashboard_e2e_test.cc. Prints a JSON summary; exits 1 with the
failed check on stderr.

  live: the login refusal, the campaigns list, the campaign page updating
        while trials finish, then (once completed) the table's rows,
        sorting and filtering, one chart point per finished trial, the
        Pareto front against `convrnn pareto`, and the trial's diagram
        against its spec.
  perf: load time of a finished campaign's page (cold and warm), from
        navigation start to the page fully drawn, and the API's times.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(driver, predicate, timeout, what):
    def attempt(d):
        try:
            return predicate(d)
        except Exception:  # an element replaced by a redraw: look again
            return False
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(attempt)
    except Exception:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def client(args, *command):
    out = subprocess.run([args.client, "--server", args.server, "--token-file", args.token_file,
                          "--json", *command], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def shot(driver, args, name):
    os.makedirs(args.screenshots, exist_ok=True)
    driver.save_screenshot(os.path.join(args.screenshots, name))


def login(driver, args):
    driver.get(args.url + "/")
    wait(driver, lambda d: d.find_elements(By.ID, "login"), 20, "the login form")
    driver.find_element(By.ID, "token").send_keys(args.token)
    driver.find_element(By.ID, "login-button").click()


def table_column(driver, key):
    headers = [h.get_attribute("data-key") for h in driver.find_elements(By.CSS_SELECTOR, "#trials th")]
    i = headers.index(key)
    return [r.find_elements(By.TAG_NAME, "td")[i].text
            for r in driver.find_elements(By.CSS_SELECTOR, "tr.trial-row")]


def live(args):
    out = {}
    # Refused without the token: the API answers 401 and the page asks for it.
    try:
        urllib.request.urlopen(args.url + f"/api/campaigns/{args.campaign}/points")
        check(False, "the API answered without a token")
    except urllib.error.HTTPError as e:
        check(e.code == 401, f"without a token the API answered {e.code}, not 401")
    driver = browser()
    try:
        driver.get(args.url + "/")
        wait(driver, lambda d: d.find_elements(By.ID, "login"), 20, "the login form")
        check(not driver.find_elements(By.CSS_SELECTOR, "tr.campaign-row"), "rows shown without token")
        shot(driver, args, "01-refused.png")
        login(driver, args)
        row = f'tr.campaign-row[data-id="{args.campaign}"]'
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row), 20, "the campaign's row")
        shot(driver, args, "02-campaigns.png")

        # Live: the counts change without a reload while trials finish.
        driver.get(args.url + f"/#/campaign/{args.campaign}")
        wait(driver, lambda d: d.find_elements(By.ID, "counts"), 20, "the campaign page")
        marker = driver.execute_script("window.__same_page = true; return 1")
        first = driver.find_element(By.ID, "counts").text
        wait(driver, lambda d: d.find_element(By.ID, "counts").text != first, 60,
             f"the counts to change from '{first}'")
        check(driver.execute_script("return window.__same_page === true"), "the page reloaded")
        out["live_update"] = True
        wait(driver, lambda d: "— completed" in d.find_element(By.CSS_SELECTOR, "h1").text, 180,
             "the campaign to complete on the page")
        time.sleep(1.5)  # one more poll: the charts redraw from the final snapshot

        status = client(args, "status", str(args.campaign))
        counts = status["counts"]
        total = counts["total"]
        check(driver.find_element(By.ID, "page-info").text == f"1–{min(50, total)} of {total}",
              "page info: " + driver.find_element(By.ID, "page-info").text)
        check(len(driver.find_elements(By.CSS_SELECTOR, "tr.trial-row")) == min(50, total),
              "one row per trial")
        # Sorting by the objective, best first.
        driver.find_element(By.CSS_SELECTOR, 'th[data-key="val_top1"]').click()
        time.sleep(0.5)
        driver.find_element(By.CSS_SELECTOR, 'th[data-key="val_top1"]').click()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'th.sorted.desc[data-key="val_top1"]'), 10, "sorted")
        values = [float(v) for v in table_column(driver, "val_top1") if v]
        check(values == sorted(values, reverse=True), f"not sorted descending: {values}")
        best = client(args, "best", str(args.campaign), "--top", "1")
        best_top1 = best["trials"][0]["final_metrics"]["val_top1"]
        check(abs(values[0] - best_top1) < 1e-3, f"first row {values[0]} is not the best {best_top1}")
        # Filtering by state.
        Select(driver.find_element(By.ID, "state-filter")).select_by_value("pruned")
        wait(driver, lambda d: d.find_element(By.ID, "page-info").text.endswith(f"of {counts['pruned']}"),
             10, "the pruned filter")
        Select(driver.find_element(By.ID, "state-filter")).select_by_value("")
        # Charts: one point per finished (completed) trial.
        js = driver.execute_script
        check(js("return dash.charts.history.data.datasets[0].data.length") == counts["completed"],
              "history points != completed trials")
        curves = js("return dash.charts.curves.data.datasets.map(d => d.data.filter(p => p.x === null).length)")
        check(curves[0] == counts["completed"] and curves[1] == counts["pruned"],
              f"learning curves {curves} != completed/pruned {counts}")
        cut = js("return Math.max(0, ...dash.charts.curves.data.datasets[1].data.map(p => p.x || 0))")
        check(counts["pruned"] == 0 or cut < 3, "a pruned curve is not cut short")
        check(js("return dash.parcoordsLines") == counts["completed"], "parallel coordinates lines")
        check(len(js("return dash.charts.importance.data.labels")) > 0, "no importance bars")
        # The Pareto front is what `convrnn pareto` prints.
        pareto = client(args, "pareto", str(args.campaign))
        expected = sorted(t["id"] for t in pareto["trials"])
        shown = sorted(js("return dash.charts.pareto.data.datasets[0].data.map(p => p.id)"))
        check(shown == expected, f"Pareto front {shown} != convrnn pareto {expected}")
        out.update(counts=counts, pareto=shown, sorted_top=values[0])
        shot(driver, args, "03-campaign.png")

        # The trial page: the diagram has the spec's layers and edges.
        trial = max((t for t in pareto["trials"]), key=lambda t: len(t["spec"].get("feedback", [])))
        driver.get(args.url + f"/#/trial/{trial['id']}")
        wait(driver, lambda d: d.find_elements(By.ID, "diagram"), 20, "the diagram")
        layers = driver.find_elements(By.CSS_SELECTOR, "#diagram g.layer")
        edges = sorted((int(e.get_attribute("data-from")), int(e.get_attribute("data-to")))
                       for e in driver.find_elements(By.CSS_SELECTOR, "#diagram path.feedback"))
        spec = trial["spec"]
        check(len(layers) == len(spec["layers"]), "diagram layers != spec layers")
        check(edges == sorted((e["from"], e["to"]) for e in spec.get("feedback", [])),
              f"diagram edges {edges} != spec")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#epochs tr.epoch-row")) > 0, "no epochs")
        out.update(trial=trial["id"], diagram_layers=len(layers), diagram_edges=edges)
        shot(driver, args, "04-trial.png")
    finally:
        driver.quit()
    return out


def perf(args):
    driver = browser()
    out = {}
    try:
        login(driver, args)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.campaign-row"), 30, "campaigns")
        for attempt in ("cold", "warm"):
            driver.get("about:blank")
            driver.get(args.url + f"/#/campaign/{args.campaign}")
            wait(driver, lambda d: d.execute_script("return !!(window.dash && dash.rendered && dash.charts.importance)"),
                 60, "the campaign page drawn")
            timing = driver.execute_script("""
              const nav = performance.getEntriesByType('navigation')[0];
              const api = performance.getEntriesByType('resource').filter(r => r.name.includes('/api/'));
              return {page_ms: dash.rendered - performance.timeOrigin,
                      api: api.map(r => [new URL(r.name).pathname, Math.round(r.responseEnd - r.requestStart)]),
                      rows: document.querySelectorAll('tr.trial-row').length,
                      points: dash.charts.history.data.datasets[0].data.length};""")
            out[attempt] = timing
            shot(driver, args, f"05-campaign-{attempt}.png")
    finally:
        driver.quit()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["live", "perf"])
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--campaign", type=int, required=True)
    p.add_argument("--screenshots", required=True)
    args = p.parse_args()
    try:
        out = live(args) if args.mode == "live" else perf(args)
    except AssertionError as e:
        print(f"dashboard check failed: {e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
