"""Shopify beyond orders: the X-Shopify-Triggered-At freshness window,
secret rotation with an overlap (`adsengctl source rotate-secret`), and
app/uninstalled disabling the source.  All through the real adsengd and
PostgreSQL; requests are signed like Shopify's (Stack.post_shopify)."""

import os
import time

from harness import shopify_order, wait_until


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(t))


def triggered(age_s):
    return {"X-Shopify-Triggered-At": iso(time.time() - age_s)}


def test_stale_triggered_at_is_refused_and_not_stored(make_stack):
    s = make_stack(shopify__max_age="2m").setup_demo().start()
    # Two days old, and just past the window: 401, nothing stored.
    for age in (2 * 86400, 180):
        status, body, _ = s.post_shopify(shopify_order(order_id=900 + age),
                                         extra_headers=triggered(age))
        assert status == 401, body
    # The unprefixed form of newer "events" deliveries is read too.
    status, _, _ = s.post_shopify(shopify_order(order_id=901),
                                  extra_headers={"Shopify-Triggered-At": iso(time.time() - 900)})
    assert status == 401
    assert s.count("raw_events") == 0
    assert s.count("ingest_keys") == 0
    # Inside the window, and without the header (older API versions): stored.
    status, _, _ = s.post_shopify(shopify_order(order_id=902), extra_headers=triggered(30))
    assert status == 200
    status, _, _ = s.post_shopify(shopify_order(order_id=903))
    assert status == 200
    assert s.count("raw_events") == 2
    wait_until(lambda: len(s.meta.accepted()) == 2, timeout=30, what="two purchases at Meta")


def rotate(s, secret, overlap):
    path = os.path.join(s.dir, "new.secret")
    with open(path, "w") as f:
        f.write(secret + "\n")
    return s.ctl("source", "rotate-secret", s.source_id, "--secret-file", path,
                 "--overlap", overlap, json_out=True)


def test_rotate_secret_overlap(stack):
    s = stack
    old, new = s.SECRET, "shpss_rotated_secret_0987654321"
    n = [0]

    def post(secret):
        n[0] += 1
        return s.post_shopify(shopify_order(order_id=7000 + n[0]), secret=secret)[0]

    assert post(old) == 200
    assert post(new) == 401
    t0 = time.monotonic()
    out = rotate(s, new, "3s")
    assert out["id"] == s.source_id and out["previous_valid_until"].endswith("Z")
    # The daemon reloads the source on the catalog NOTIFY.
    wait_until(lambda: post(new) == 200, timeout=10, what="the new secret accepted")
    # Within the overlap the old secret still signs.  (The reload takes
    # milliseconds; if this machine took most of the overlap, the check
    # below would prove nothing, so say so instead of passing.)
    assert time.monotonic() - t0 < 2.5, "the reload took most of the 3 s overlap"
    assert post(old) == 200
    # After it, the old secret is refused (no reload needed: the end is
    # checked per request), the new one never is.
    wait_until(lambda: post(old) == 401, timeout=15, what="the old secret refused")
    assert time.monotonic() - t0 >= 3.0
    assert post(new) == 200
    # A restart reads the catalog again: still refused.
    assert s.stop() == 0
    s.start()
    assert post(old) == 401
    assert post(new) == 200
    # Audited, without the secret.
    details = s.scalar("SELECT details::text FROM audit_log"
                       " WHERE action = 'source.rotate_secret'")
    assert s.source_id in details and "overlap_ms" in details
    assert new not in details and old not in details
    assert s.scalar("SELECT secret_previous_until > now() - interval '1 minute'"
                    " FROM sources WHERE id = '%s'" % s.source_id) == "t"


def test_rotate_secret_bad_input(stack):
    s = stack
    path = os.path.join(s.dir, "x.secret")
    with open(path, "w") as f:
        f.write("shpss_whatever\n")
    p = s.ctl("source", "rotate-secret", s.source_id, "--secret-file", path, "--overlap",
              "forever", check=False)
    assert p.returncode == 2 and "--overlap" in p.stderr
    p = s.ctl("source", "rotate-secret", "00000000-0000-0000-0000-000000000000",
              "--secret-file", path, check=False)
    assert p.returncode == 1
    assert s.count("audit_log", "action = 'source.rotate_secret'") == 0
    assert s.post_shopify(shopify_order(order_id=8001))[0] == 200


def test_app_uninstalled_disables_the_source(stack):
    s = stack
    assert s.post_shopify(shopify_order(order_id=6001))[0] == 200
    wait_until(lambda: len(s.meta.accepted()) == 1, timeout=30, what="the purchase at Meta")
    shop = {"id": 548380009, "name": "Super Toys", "domain": "shop.example"}
    status, _, _ = s.post_shopify(shop, topic="app/uninstalled", extra_headers=triggered(1))
    assert status == 200
    wait_until(lambda: s.scalar("SELECT enabled FROM sources WHERE id = '%s'"
                                % s.source_id) == "f", timeout=20, what="the source disabled")
    assert s.scalar("SELECT actor || ' ' || action FROM audit_log"
                    " WHERE details->>'id' = '%s' AND action = 'source.disable'"
                    % s.source_id) == "adsengd source.disable"
    assert s.scalar("SELECT state FROM raw_event_status WHERE topic = 'app/uninstalled'") == "done"
    # Its webhooks now get the disabled-source answer (once the daemon has
    # reloaded its sources), and nothing is stored.
    wait_until(lambda: s.post_shopify(shopify_order(order_id=6002))[0] == 404, timeout=10,
               what="webhooks of the disabled source refused")
    raws = s.count("raw_events")
    status, body, _ = s.post_shopify(shopify_order(order_id=6004))
    assert status == 404 and body["error"] == "not_found", body
    assert s.count("raw_events") == raws
    # Its data is kept.
    assert s.count("conversions", "source_id = '%s' AND order_id = '6001'" % s.source_id) == 1
    assert s.count("raw_events", "source_id = '%s' AND topic = 'app/uninstalled'"
                   % s.source_id) == 1
    # The operator can take it back (a reinstall).
    s.ctl("source", "enable", s.source_id)
    wait_until(lambda: s.post_shopify(shopify_order(order_id=6003))[0] == 200, timeout=10,
               what="the source enabled again")
