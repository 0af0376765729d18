"""GET /metrics (issue 9): the Prometheus exposition on its own listener,
every family present with HELP and TYPE, counters at zero before any
traffic, values that move with ingest and deliveries, the SQL-based
families from the control thread's periodic snapshot, and promtool
accepting both the scrape and docs/alerts.rules.yml.

promtool comes from Debian's prometheus package (scripts/dev PACKAGES).
Where it is missing the promtool checks skip, except when
ADSENG_REQUIRE_PROMTOOL is set (scripts/dev test sets it): then they fail."""

import os
import re
import shutil
import subprocess
import urllib.request

import pytest

from harness import free_port, shopify_order, wait_until

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "docs", "alerts.rules.yml")

FAMILIES = {
    "adsengd_ingest_requests_total": "counter",
    "adsengd_ingest_commit_batch_size": "histogram",
    "adsengd_ingest_commit_duration_seconds": "histogram",
    "adsengd_raw_events_processed_total": "counter",
    "adsengd_raw_events_pending": "gauge",
    "adsengd_raw_events_oldest_pending_age_seconds": "gauge",
    "adsengd_deliveries": "gauge",
    "adsengd_delivery_oldest_due_age_seconds": "gauge",
    "adsengd_upload_duration_seconds": "histogram",
    "adsengd_uploads_total": "counter",
    "adsengd_upload_outcomes_total": "counter",
    "adsengd_delivery_retries_total": "counter",
    "adsengd_breaker_state": "gauge",
    "adsengd_destination_paused": "gauge",
    "adsengd_destination_reauthorization_needed": "gauge",
    "adsengd_destination_info": "gauge",
    "adsengd_token_refreshes_total": "counter",
    "adsengd_token_invalidations_total": "counter",
    "adsengd_worker_busy_ratio": "gauge",
    "adsengd_worker_uploads_in_flight": "gauge",
    "adsengd_process_resident_memory_bytes": "gauge",
    "adsengd_http_connections_open": "gauge",
    "adsengd_ingest_queue_bytes": "gauge",
    "adsengd_ingest_queue_requests": "gauge",
    "adsengd_metrics_snapshot_age_seconds": "gauge",
    "adsengd_metrics_series_dropped_total": "counter",
    "adsengd_build_info": "gauge",
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """One exposition, parsed: types, helps, and samples by (name, labels)."""

    def __init__(self, text):
        self.text = text
        self.types, self.helps, self.samples = {}, {}, {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                assert name not in self.types, "TYPE twice for " + name
                self.types[name] = kind
            elif line.startswith("# HELP "):
                self.helps[line.split(" ", 3)[2]] = line
            elif line:
                m = SAMPLE.match(line)
                assert m, "not a sample line: %r" % line
                labels = frozenset(LABEL.findall(m.group(2) or ""))
                key = (m.group(1), labels)
                assert key not in self.samples, "sample twice: %r" % line
                self.samples[key] = float(m.group(3))

    def get(self, metric, /, **labels):
        """The sample's value; KeyError (naming the series and listing the
        family's) when the series is not there."""
        try:
            return self.samples[(metric, frozenset(labels.items()))]
        except KeyError:
            have = sorted(str(sorted(ls)) for (n, ls) in self.samples if n == metric)
            raise KeyError("no series %s%r; the family has %r" % (metric, labels, have))

    def total(self, metric, /, **labels):
        """Sum of the series of metric whose labels include these."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == metric and want <= ls)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        ctype = r.headers["Content-Type"]
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        return Scrape(r.read().decode())


def promtool():
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if path is None:
        if os.environ.get("ADSENG_REQUIRE_PROMTOOL"):
            pytest.fail("promtool not found (Debian package prometheus) but "
                        "ADSENG_REQUIRE_PROMTOOL is set")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


def check_metrics_with_promtool(text):
    r = subprocess.run([promtool(), "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, "promtool check metrics:\n%s%s" % (
        r.stdout.decode(), r.stderr.decode())


@pytest.fixture
def mstack(make_stack):
    """The demo wiring with /metrics on a separate listener, refreshed
    every 300 ms so the test need not wait 15 s for the snapshot."""
    port = free_port()
    s = make_stack(server__metrics_listen="127.0.0.1:%d" % port,
                   server__metrics_interval="300ms").setup_demo()
    s.metrics_url = "http://127.0.0.1:%d/metrics" % port
    return s.start()


def snapshot_shows(stack, pred):
    """Scrape until pred holds (a missing series counts as not yet); the
    scrape.  A timeout names the series last missing."""
    box = {"why": None}

    def ok():
        box["s"] = scrape(stack.metrics_url)
        try:
            return pred(box["s"])
        except KeyError as e:
            box["why"] = str(e)
            return False
    try:
        wait_until(ok, timeout=20, what="the metrics snapshot")
    except AssertionError as e:
        raise AssertionError("%s; last missing: %s" % (e, box["why"])) from None
    return box["s"]


def test_families_at_zero_then_moving(mstack, meta):
    stack = mstack
    dest = stack.dest_id
    # The snapshot knows the destination within a turn of the control thread.
    zero = [("adsengd_ingest_requests_total", dict(kind=k, code=c))
            for k in ("shopify", "woocommerce") for c in ("200", "401", "503")]
    zero += [("adsengd_uploads_total", {"destination": dest, "class": c})
             for c in ("2xx", "4xx", "5xx", "transport")]
    zero += [("adsengd_upload_outcomes_total", dict(destination=dest, outcome=o))
             for o in ("delivered", "retry", "failed", "dead")]
    zero += [("adsengd_delivery_retries_total", dict(destination=dest)),
             ("adsengd_upload_duration_seconds_count", dict(destination=dest)),
             ("adsengd_ingest_commit_batch_size_count", {}),
             ("adsengd_raw_events_processed_total", dict(state="done")),
             ("adsengd_token_refreshes_total", dict(result="ok")),
             ("adsengd_deliveries", dict(destination=dest, state="pending"))]
    m = snapshot_shows(stack, lambda s: all(s.get(n, **ls) == 0 for n, ls in zero))
    for name, kind in FAMILIES.items():
        assert m.types.get(name) == kind, (name, m.types.get(name))
        assert name in m.helps, name
    # Counters exist at zero before anything happened, for every source kind
    # of the registry and for the catalog's destination.
    # (Every series of `zero` exists and is 0: that was the wait's condition.)
    assert m.get("adsengd_breaker_state", destination=dest, state="closed") == 1
    assert m.get("adsengd_breaker_state", destination=dest, state="open") == 0
    assert m.get("adsengd_destination_info", destination=dest, kind="meta_capi",
                 name="pixel1") == 1
    assert m.get("adsengd_process_resident_memory_bytes") > 1 << 20
    # The main listener does not serve it when it has its own.
    assert stack.http("GET", "/metrics")[0] == 404

    # Traffic: the first upload is answered 500 (retried), then delivered;
    # a forged webhook is refused.
    meta.config(fail_next=[500])
    for i in range(3):
        assert stack.post_shopify(shopify_order(7000 + i))[0] == 200
    assert stack.post_shopify(shopify_order(7100), signature="Zm9yZ2Vk")[0] == 401
    stack.wait_states({"delivered": 3}, timeout=30)
    # Stage 1 counts right after its COMMIT, which a fast delivery may
    # overtake by a hair: wait for the counters rather than race them.
    m = snapshot_shows(stack, lambda s: s.get("adsengd_raw_events_processed_total",
                                              state="done") == 3 and s.get(
        "adsengd_upload_outcomes_total", destination=dest, outcome="delivered") == 3)
    assert m.get("adsengd_ingest_requests_total", kind="shopify", code="200") == 3
    assert m.get("adsengd_ingest_requests_total", kind="shopify", code="401") == 1
    assert m.get("adsengd_ingest_commit_batch_size_sum") == 3
    assert m.get("adsengd_ingest_commit_duration_seconds_count") >= 1
    assert m.get("adsengd_raw_events_processed_total", state="done") == 3
    assert m.get("adsengd_uploads_total", destination=dest, **{"class": "5xx"}) == 1
    assert m.get("adsengd_uploads_total", destination=dest, **{"class": "2xx"}) >= 1
    assert m.get("adsengd_upload_outcomes_total", destination=dest, outcome="delivered") == 3
    assert m.get("adsengd_upload_outcomes_total", destination=dest, outcome="retry") >= 1
    assert m.get("adsengd_delivery_retries_total", destination=dest) >= 1
    n_uploads = m.total("adsengd_uploads_total", destination=dest)
    assert m.get("adsengd_upload_duration_seconds_count", destination=dest) == n_uploads
    assert m.get("adsengd_upload_duration_seconds_bucket", destination=dest,
                 le="+Inf") == n_uploads
    assert m.get("adsengd_worker_busy_ratio") == 0
    check_metrics_with_promtool(m.text)

    # A destination paused for re-authorization, with a held delivery.
    stack.ctl("destination", "pause", dest, "--reason", "reauthorize: test")
    assert stack.post_shopify(shopify_order(7200))[0] == 200
    stack.wait_states({"delivered": 3, "held": 1}, timeout=30)
    m = snapshot_shows(stack, lambda s: s.get("adsengd_deliveries", destination=dest,
                                              state="held") == 1)
    assert m.get("adsengd_destination_paused", destination=dest) == 1
    assert m.get("adsengd_destination_reauthorization_needed", destination=dest) == 1
    assert m.get("adsengd_metrics_snapshot_age_seconds") < 10


def test_backlog_ages_on_an_ingest_only_node(make_stack):
    """No workers: raw events wait, and a due delivery ages."""
    port = free_port()
    stack = make_stack(server__metrics_listen="127.0.0.1:%d" % port,
                       server__metrics_interval="300ms", workers__threads="0").setup_demo()
    stack.metrics_url = "http://127.0.0.1:%d/metrics" % port
    stack.start()
    for i in range(2):
        assert stack.post_shopify(shopify_order(8000 + i))[0] == 200
    tenant = stack.scalar("SELECT tenant_id FROM destinations WHERE id = '%s'" % stack.dest_id)
    stack.sql("INSERT INTO deliveries (conversion_id, destination_id, tenant_id, "
              "next_attempt_at) VALUES (424242, '%s', %s, now() - interval '100 seconds')"
              % (stack.dest_id, tenant))
    m = snapshot_shows(stack, lambda s: s.get("adsengd_raw_events_pending") == 2 and s.get(
        "adsengd_deliveries", destination=stack.dest_id, state="pending") == 1)
    assert m.get("adsengd_raw_events_oldest_pending_age_seconds") > 0
    assert m.get("adsengd_delivery_oldest_due_age_seconds",
                 destination=stack.dest_id) >= 100
    assert m.get("adsengd_ingest_queue_requests") == 0
    check_metrics_with_promtool(m.text)


def test_metrics_on_the_main_listener_when_metrics_listen_is_empty(stack):
    # The harness's default: metrics_listen = "".
    status, body, headers = stack.http("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE adsengd_ingest_requests_total counter" in body
    assert stack.http("POST", "/metrics", b"")[0] == 405


def test_busy_metrics_port_fails_the_start(make_stack):
    """A metrics_listen that cannot be bound stops the start with a reason."""
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        stack = make_stack(server__metrics_listen="127.0.0.1:%d" % port).setup_demo()
        stack.start(wait_ready=False)
        assert stack.proc.wait(20) != 0
        stack.proc = None
        stack.log.close()
        assert "could not listen on 127.0.0.1:%d" % port in stack.logs()


def test_alert_rules_pass_promtool():
    assert os.path.exists(RULES)
    r = subprocess.run([promtool(), "check", "rules", RULES], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    with open(RULES) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    # Every alert uses families the daemon exports.
    for name in re.findall(r"adsengd_[a-z_]+", text):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert base in FAMILIES, name


def test_a_scrape_never_queries(make_stack):
    """With a long metrics_interval the SQL-based numbers stay those of the
    snapshot taken at the start, however often one scrapes: a scrape copies
    memory.  (Were a scrape to query, the new raw events would show.)"""
    port = free_port()
    stack = make_stack(server__metrics_listen="127.0.0.1:%d" % port,
                       server__metrics_interval="1h", workers__threads="0").setup_demo()
    stack.metrics_url = "http://127.0.0.1:%d/metrics" % port
    stack.start()
    first = snapshot_shows(stack, lambda s: s.get("adsengd_raw_events_pending") == 0)
    for i in range(3):
        assert stack.post_shopify(shopify_order(9000 + i))[0] == 200
    assert stack.count("raw_queue") == 3
    for _ in range(5):
        m = scrape(stack.metrics_url)
        assert m.get("adsengd_raw_events_pending") == 0
    # The in-process counters did move, and the snapshot only aged.
    assert m.get("adsengd_ingest_requests_total", kind="shopify", code="200") == 3
    assert (m.get("adsengd_metrics_snapshot_age_seconds")
            >= first.get("adsengd_metrics_snapshot_age_seconds"))
