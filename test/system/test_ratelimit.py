"""The per-source rate limit on ingest (README "Rate limits"): a source
over its token bucket gets 429 with Retry-After and nothing is stored,
other sources are unaffected, it recovers after the wait, every source
kind is limited (before its signature is even checked), bad --rate-limit
values are refused, a reload of [ratelimit] applies at once, and
`source rate-limit` changes a running daemon's limit.
"""

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from harness import shopify_order, wait_until
from test_reload import reload_with


def add_source(stack, kind, name, *opts):
    args = ["source", "add", "--tenant", "acme", "--kind", kind, "--name", name]
    if kind in ("shopify", "woocommerce"):
        args += ["--secret-file", os.path.join(stack.dir, "shopify.secret")]
    src = stack.ctl(*(args + list(opts)), json_out=True)
    return src["id"], urlparse(src["webhook_url"]).path


def post_many(stack, source_id, ids):
    """POST one order per id at once; [(status, headers)] in ids' order."""
    def one(i):
        status, _, hdrs = stack.post_shopify(shopify_order(i), webhook_id="rl-%d" % i,
                                             source_id=source_id)
        return status, hdrs
    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(one, ids))


def stored(stack, source_id):
    return stack.count("raw_events", "source_id = '%s'" % source_id)


def test_over_the_limit_is_429_not_stored_and_recovers(make_stack):
    stack = make_stack(server__metrics_listen="").setup_demo()
    slow, _ = add_source(stack, "shopify", "slow", "--rate-limit", "1/3")
    settings = stack.scalar("SELECT settings FROM sources WHERE id = '%s'" % slow)
    assert '"ratelimit_rate": 1' in settings and '"ratelimit_burst": 3' in settings
    stack.start()

    # Four at once: the burst of 3 passes, the 4th is refused.
    answers = post_many(stack, slow, [101, 102, 103, 104])
    statuses = sorted(a[0] for a in answers)
    assert statuses == [200, 200, 200, 429], answers
    refused = [i for i, a in zip([101, 102, 103, 104], answers) if a[0] == 429][0]
    hdrs = [a[1] for a in answers if a[0] == 429][0]
    retry = int(hdrs["Retry-After"])
    assert retry >= 1
    assert stored(stack, slow) == 3
    assert stack.count("raw_events", "dedup_key = 'rl-%d'" % refused) == 0
    assert "webhook rate limited" in stack.logs()
    metrics = stack.http("GET", "/metrics")[1].decode()
    assert 'adsengd_ingest_requests_total{kind="shopify",code="429"} 1\n' in metrics

    # The demo source (default [ratelimit]: 50/s, burst 200) is unaffected.
    assert [a[0] for a in post_many(stack, stack.source_id, list(range(201, 211)))] == \
        [200] * 10
    assert stored(stack, stack.source_id) == 10

    # After Retry-After a token is back: the refused order is taken now.
    time.sleep(retry + 0.2)
    assert stack.post_shopify(shopify_order(refused), webhook_id="rl-%d" % refused,
                              source_id=slow)[0] == 200
    assert stored(stack, slow) == 4


def test_every_kind_is_limited_before_verification(make_stack):
    stack = make_stack().setup_demo()
    paths = [add_source(stack, kind, "lim-" + kind, "--rate-limit", "1/1")[1]
             for kind in ("shopify", "woocommerce", "ghl", "api")]
    stack.start()
    for path in paths:
        # Unsigned: the first is refused by its kind's verification (it
        # took the one token), the second by the limit, before verifying.
        first = stack.http("POST", path, b"{}", {"Content-Type": "application/json"})
        second = stack.http("POST", path, b"{}", {"Content-Type": "application/json"})
        assert first[0] not in (200, 202, 429), (path, first)
        assert second[0] == 429, (path, second)
        assert int(second[2]["Retry-After"]) >= 1
        assert b"rate_limited" in second[1]
    assert stack.count("raw_events") == 0


def test_bad_rate_limit_is_a_usage_error(stack):
    for bad in ("0", "x", "1/", "1/0", "1.5", "5/-1"):
        p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify", "--name",
                      "bad-" + uuid.uuid4().hex[:6], "--secret-file",
                      os.path.join(stack.dir, "shopify.secret"), "--rate-limit", bad,
                      check=False)
        assert p.returncode == 2 and "rate limit" in p.stderr, (bad, p.stderr)


def test_reload_of_ratelimit_applies_at_once(make_stack):
    stack = make_stack(ratelimit__rate="1", ratelimit__burst="2").setup_demo().start()
    answers = post_many(stack, stack.source_id, [301, 302, 303])
    assert sorted(a[0] for a in answers) == [200, 200, 429], answers

    # rate 0: no limit, with no restart and no source change.
    reload_with(stack, ratelimit__rate="0")
    assert [a[0] for a in post_many(stack, stack.source_id, list(range(311, 321)))] == \
        [200] * 10

    # And back to a tight limit: the bucket starts full (2), not empty.
    reload_with(stack, ratelimit__rate="1", ratelimit__burst="2")
    answers = post_many(stack, stack.source_id, [331, 332, 333])
    assert sorted(a[0] for a in answers) == [200, 200, 429], answers


def test_rate_limit_command_applies_to_a_running_daemon(make_stack):
    stack = make_stack().setup_demo().start()
    sid = stack.source_id
    n = [400]

    def post():
        n[0] += 1
        return stack.post_shopify(shopify_order(n[0]), webhook_id="rl-%d" % n[0],
                                  source_id=sid)[0]

    assert post() == 200
    out = stack.ctl("source", "rate-limit", "shop1", "1/2", json_out=True)
    assert out["rate"] == 1 and out["burst"] == 2
    assert stack.count("audit_log", "action = 'source.rate_limit'") == 1
    # The daemon takes it with its next source snapshot (catalog NOTIFY).
    wait_until(lambda: post() == 429, what="the new limit to apply")

    out = stack.ctl("source", "rate-limit", sid, "default", json_out=True)
    assert out["rate"] is None
    assert "ratelimit_rate" not in stack.scalar(
        "SELECT settings FROM sources WHERE id = '%s'" % sid)
    # Back on [ratelimit] (50/s, burst 200): ten at once pass again.  One
    # 200 would prove nothing (at 1/s a token comes back every second: CI
    # once saw the ten refused after it), but ten at once never pass 1/2.
    batch = [10000]

    def ten_pass():
        ids = list(range(batch[0] + 1, batch[0] + 11))
        batch[0] += 10
        return [a[0] for a in post_many(stack, sid, ids)] == [200] * 10

    wait_until(ten_pass, timeout=30, what="the default limit to apply (ten at once pass)")
    assert stack.count("audit_log", "action = 'source.rate_limit'") == 2

    p = stack.ctl("source", "rate-limit", sid, "fast", check=False)
    assert p.returncode == 2 and "rate limit" in p.stderr
    p = stack.ctl("source", "rate-limit", "no-such-source", "5", check=False)
    assert p.returncode == 1
