#!/usr/bin/python3
"""map_browser.py - drives headless Chromium over the DevTools protocol (Debian's python3-websocket)
to check spate's live map against the region.hourly topic.

  map_browser.py open DEVTOOLS_PORT MAP_URL
  map_browser.py check DEVTOOLS_PORT REGION_HOURLY_JSONL SCREENSHOT_PNG

open: navigates the browser's page to MAP_URL and waits until its event stream is open (the page
stays open in the browser after this exits). check: waits until the page shows live data (dots and
region rows from the event stream), then until the numbers it shows for every region equal the
latest hour of that region in REGION_HOURLY_JSONL (kafka_tool.py consume output), hovers a region
and reads its tooltip, and saves a screenshot. Both print TAP-like "ok ..." / "not ok ..." lines.
"""
import base64
import json
from decimal import ROUND_HALF_UP, Decimal
import sys
import time
import urllib.request

import websocket


class Page:
    def __init__(self, port):
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.n = 0

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr[:60], r["exceptionDetails"]))
        return r["result"].get("value")


SHOWN = """JSON.stringify({points: +(document.body.dataset.points || 0),
  status: document.getElementById('status').textContent,
  rows: [...document.querySelectorAll('#rows tr')].map(tr => ({region: tr.dataset.region,
    window_start: +tr.dataset.windowStart, rain: tr.querySelector('.rain').textContent,
    temp: tr.querySelector('.temp').textContent, points: tr.querySelector('.points').textContent}))})"""

# A point inside the region's shape that no dot covers, in page coordinates (null if none).
HOVER_POINT = """(() => { const p = [...document.querySelectorAll('path.region')].find(e => e.dataset.region === %s);
  const b = p.getBoundingClientRect();
  for (let i = 1; i < 40; i++) for (let j = 1; j < 40; j++) {
    const x = b.left + b.width * i / 40, y = b.top + b.height * j / 40;
    if (document.elementFromPoint(x, y) === p) return [x, y];
  }
  return null; })()"""


def js_fixed(x, d):
    """Number.prototype.toFixed(d), as the page formats: the binary value's nearest, ties away
    from zero (Python's "%.1f" rounds ties to even: -0.25 is "-0.2" there, "-0.3" on the page)."""
    return format(Decimal(x).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP), "f")


def expected(path):
    """The latest hour per region: the record with the largest window_start (the last one written)."""
    latest = {}
    for line in open(path):
        v = json.loads(line)["value"]
        v = json.loads(v) if isinstance(v, str) else v
        if v is None:
            continue
        cur = latest.get(v["key"])
        if cur is None or v["window_start"] >= cur["window_start"]:
            latest[v["key"]] = v
    return {k: {"region": k, "window_start": v["window_start"], "rain": js_fixed(v["mean_rain_next_hour"], 2),
                "temp": js_fixed(v["mean_temp"], 1), "points": str(v["points"])} for k, v in latest.items()}


def report(cond, what):
    print(("ok " if cond else "not ok ") + what)
    sys.stdout.flush()
    return cond


def open_page(port, url):
    page = Page(port)
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    page.call("Page.navigate", url=url)
    deadline, state = time.time() + 30, None
    while time.time() < deadline and state != "open":
        time.sleep(0.2)
        try:
            state = page.eval("document.body && document.body.dataset.stream")
        except RuntimeError:       # the page is still loading
            pass
    report(state == "open", "the map's event stream is open (%s)" % state)


def check(port, topic_dump, png):
    page = Page(port)
    want = expected(topic_dump)
    shown, deadline = None, time.time() + 60
    while time.time() < deadline:
        try:
            shown = json.loads(page.eval(SHOWN))
        except RuntimeError:       # the page is still loading
            time.sleep(0.5)
            continue
        if shown["points"] > 0 and len(shown["rows"]) >= len(want):
            break
        time.sleep(0.5)
    report(shown and shown["points"] > 0 and shown["rows"],
           "the page shows live data: %s" % (shown and shown["status"]))
    # The page converges on the topic: the run is idle, so every region's last update has arrived.
    got, deadline = {}, time.time() + 30
    while time.time() < deadline:
        got = {r["region"]: r for r in json.loads(page.eval(SHOWN))["rows"]}
        if got == want:
            break
        time.sleep(0.5)
    diff = [k for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
    report(want and not diff, "the numbers shown for each of the %d regions equal region.hourly's latest hour%s" % (
        len(want), ": %d differ, first %s: shown %s, topic %s" % (len(diff), diff[0], got.get(diff[0]), want.get(diff[0]))
        if diff else ""))
    # Hover: the tooltip names the region with its numbers.
    region = max(want.values(), key=lambda r: (float(r["rain"]), r["region"]))["region"] if want else None
    xy = page.eval(HOVER_POINT % json.dumps(region)) if region else None
    if xy:
        page.call("Input.dispatchMouseEvent", type="mouseMoved", x=xy[0], y=xy[1])
        time.sleep(0.3)
        tip = page.eval("document.getElementById('tip').innerText")
        w = want[region]
        report(region in tip and w["rain"] + " mm" in tip and w["temp"] in tip and "points: " + w["points"] in tip,
               "hovering %s shows its mean rain, temperature and points: %r" % (region, tip))
    else:
        report(False, "a point inside region %s to hover" % region)
    page.eval("document.getElementById('tip').style.display = 'none'")
    # The viewport override belongs to the DevTools session: this one sets its own.
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    time.sleep(0.5)
    shot = page.call("Page.captureScreenshot", format="png")
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    report(True, "screenshot saved to %s" % png)


if __name__ == "__main__":
    if sys.argv[1] == "open":
        open_page(int(sys.argv[2]), sys.argv[3])
    else:
        check(int(sys.argv[2]), sys.argv[3], sys.argv[4])
