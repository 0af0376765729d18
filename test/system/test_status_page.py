"""GET /status (issue 9) in headless Chromium: the page the metrics
listener serves renders without console errors, its inline SVG chart has
points with non-zero rates from the per-minute aggregate (sql/0016), its
numbers match `adsengctl stats --json`, and names from users are shown as
text, never as markup.

Chromium comes from Debian's chromium package (scripts/dev PACKAGES).
The browser tests skip, saying so, only when no chromium binary is found
(or ADSENG_REQUIRE_CHROMIUM is set: then they fail); once found it must
run.  Console errors are read from Chromium's own log
(--enable-logging=stderr): every console message is logged there as an
":CONSOLE" line ("Uncaught …", Content-Security-Policy violations, failed
loads).  The page has no script, so any such line is a failure;
test_console_detector proves the detector sees an error when there is one.
"""

import html.parser
import os
import shutil
import subprocess
import urllib.request

import pytest

from harness import free_port, shopify_order, wait_until

CHART_H = 160  # STATUS_CHART_H
CHART_PAD = 8


def chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    if os.environ.get("ADSENG_REQUIRE_CHROMIUM"):
        pytest.fail("chromium not found (Debian package chromium) but "
                    "ADSENG_REQUIRE_CHROMIUM is set")
    pytest.skip("chromium not installed (Debian package chromium)")


def browse(url):
    """(DOM after load, console lines) of url in headless Chromium."""
    r = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--disable-extensions", "--disable-background-networking",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "chromium failed (%d): %s" % (r.returncode, r.stderr[-2000:])
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    return r.stdout, console


class Page(html.parser.HTMLParser):
    """The parts of the status page a test reads: each row's data-field
    cells by destination / source id, their names, the chart's polylines
    and every element's tag."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.names, self.lines, self.tags = {}, {}, {}, []
        self.row = self.field = None
        self.first_cell = False
        self.text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and ("data-destination" in a or "data-source" in a):
            self.row = a.get("data-destination") or a.get("data-source")
            self.rows[self.row] = {}
            self.first_cell = True
        elif tag == "td" and self.row is not None:
            self.field = a.get("data-field") or ("__name" if self.first_cell else None)
            self.first_cell = False
            self.text = ""
        elif tag == "span" and self.field == "__name":
            self.names[self.row] = self.text.strip()  # the kind follows
            self.field = None
        elif tag == "polyline":
            self.lines[a["data-series"]] = [tuple(float(v) for v in p.split(","))
                                            for p in a["points"].split()]

    def handle_data(self, data):
        self.text += data

    def handle_endtag(self, tag):
        if tag == "td" and self.row is not None:
            if self.field == "__name":
                self.names[self.row] = self.text.strip()
            elif self.field:
                self.rows[self.row][self.field] = self.text.strip()
            self.field = None
        elif tag == "tr":
            self.row = None


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        return r.read().decode(), r.headers


@pytest.fixture
def sstack(make_stack):
    """The demo wiring with /metrics and /status on their own listener,
    the snapshot refreshed every 300 ms."""
    port = free_port()
    s = make_stack(server__metrics_listen="127.0.0.1:%d" % port,
                   server__metrics_interval="300ms").setup_demo()
    s.status_url = "http://127.0.0.1:%d/status" % port
    return s


def add_html_named_source(stack):
    """A second source whose name is markup, as a user may type it."""
    secret_file = os.path.join(stack.dir, "evil.secret")
    with open(secret_file, "w") as f:
        f.write("shpss_other_secret_0987654321\n")
    name = "<i>Tom</i> & \"Jerry's\" <script>alert(1)</script>"
    src = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", name,
                    "--secret-file", secret_file, json_out=True)
    return src["id"], name


def test_console_detector():
    """The console check can fail: an uncaught error and a CSP violation
    are both seen in Chromium's log."""
    _, console = browse("data:text/html,<p>x</p><script>no_such_function()</script>")
    assert any("Uncaught" in line for line in console), console


def test_status_page_in_chromium(sstack, meta):
    stack = sstack
    evil_id, evil_name = add_html_named_source(stack)
    stack.start()
    dest = stack.dest_id

    # Traffic: five orders, the first upload answered 500 and retried.
    meta.config(fail_next=[500])
    for i in range(5):
        assert stack.post_shopify(shopify_order(8800 + i))[0] == 200
    stack.wait_states({"delivered": 5}, timeout=30)

    # The snapshot follows within a few turns of the control thread.
    def counted():
        page = Page(fetch(stack.status_url)[0])
        row = page.rows.get(dest, {})
        return row.get("delivered_24h") == "5" and \
            page.rows.get(stack.source_id, {}).get("events_24h") == "5" and page
    wait_until(counted, timeout=30, what="the status snapshot to count the deliveries")
    text, headers = fetch(stack.status_url)
    assert "script-src" not in headers["Content-Security-Policy"]  # no script allowed
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in text and "<link" not in text  # nothing external

    dom, console = browse(stack.status_url)
    assert console == [], "console messages: %r" % console
    page = Page(dom)
    assert "svg" in page.tags and "table" in page.tags, dom[:2000]

    # Names from users are text: the markup in the source's name made no
    # element and reads back as typed.
    assert "script" not in page.tags and "i" not in page.tags, page.tags
    assert page.names[evil_id] == evil_name, page.names

    # The chart: 1440 minutes per series, some above the baseline.
    base = CHART_H - CHART_PAD
    for series in ("ingested", "delivered"):
        points = page.lines[series]
        assert len(points) == 1440, (series, len(points))
        high = [p for p in points if p[1] < base - 0.05]
        assert high, "no non-zero point in the %s series" % series
    assert sum(1 for p in page.lines["ingested"] if p[1] < base - 0.05) <= 2  # one or two minutes

    # The numbers match adsengctl stats --json.
    stats = stack.ctl("stats", json_out=True)
    sdest = next(d for d in stats["destinations"] if d["id"] == dest)
    row = page.rows[dest]
    for field in ("delivered", "failed", "dead"):
        assert int(row[field + "_24h"]) == sdest[field], (field, row, sdest)
        assert int(row[field + "_1h"]) == sdest[field], (field, row, sdest)
    backlog = sdest["pending"] + sdest["in_flight"] + sdest["held"]
    assert int(row["backlog"]) == backlog, (row, sdest)
    assert row["breaker"] == "closed"
    assert row["paused"] == ""
    # Upload latency from the in-process histogram: measured now.
    assert row["p50"].endswith(" ms") and row["p99"].endswith(" ms"), row
    src = page.rows[stack.source_id]
    assert int(src["events_1h"]) == 5 == stats["raw_events"]["done"], (src, stats["raw_events"])
    assert "none" not in src["last_event"] and src["last_event"][:4].isdigit(), src
    assert page.rows[evil_id]["events_24h"] == "0"


def test_status_paused_reason_escaped(sstack):
    """A pause reason typed by an operator shows as text."""
    stack = sstack.start()
    reason = "<b>card</b> expired & \"renew\""
    stack.ctl("destination", "pause", stack.dest_id, "--reason", reason)

    def paused():
        text = fetch(stack.status_url)[0]
        return Page(text).rows.get(stack.dest_id, {}).get("paused") == reason and text
    text = wait_until(paused, timeout=20, what="the pause in the status snapshot")
    assert "<b>" not in text
    assert "&lt;b&gt;card&lt;/b&gt; expired &amp; &quot;renew&quot;" in text
    # The main listener does not serve the page when it has its own.
    assert stack.http("GET", "/status")[0] == 404
