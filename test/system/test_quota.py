"""Plan quotas and Stripe sessions end to end (README "Billing (Stripe)",
"Plans and quotas").

Quotas: with [plans] quotas = starter:2, a starter tenant's third and
fourth conversions of the month are stored but their deliveries wait
'held' with hold_reason 'quota' (usage counted in tenant_usage, shown by
`stats` and `tenant usage`); a signed customer.subscription.updated to a
plan without a quota releases them, audited, and they are delivered.  The
month rollover is simulated by moving the tenant's usage row one month
back in SQL (the control thread's check then sees an empty current month
and releases up to the quota; no hidden clock override exists).

Stripe sessions: `adsengctl billing checkout|portal` against
test/system/fake_stripe.py, which checks Basic auth, the form encoding and
the Idempotency-Key, and records the form fields."""

import json
import os
import time

import harness
from harness import FakeServer, shopify_order, wait_until
from test_stripe import PLANS, Stripe, stripe_stack, subscription

STRIPE_KEY = "sk_test_quota_0123456789"


class FakeStripe(FakeServer):
    """test/system/fake_stripe.py."""

    SCRIPT = "fake_stripe.py"

    def __init__(self, key=STRIPE_KEY):
        super().__init__("--key", key)


def held_for_quota(stack):
    return stack.count("deliveries", "state = 'held' AND hold_reason = 'quota'")


def usage(stack, tenant="acme"):
    rows = stack.ctl("tenant", "usage", "--tenant", tenant, json_out=True)
    assert len(rows) == 1, rows
    return rows[0]


def post_orders(stack, first, n):
    for i in range(n):
        status, _, _ = stack.post_shopify(shopify_order(order_id=first + i))
        assert status == 200


def test_over_quota_held_then_released_by_upgrade(make_stack, meta):
    stack, s = stripe_stack(make_stack, plans__quotas="starter:2, professional:0",
                            server__metrics_interval="300ms")
    post_orders(stack, 7000100, 4)
    wait_until(lambda: stack.count("conversions") == 4, what="4 conversions")
    wait_until(lambda: len(meta.accepted()) == 2, what="2 within quota delivered")
    wait_until(lambda: held_for_quota(stack) == 2, what="2 held for quota")
    time.sleep(1)  # nothing more leaves while the quota is used up
    assert len(meta.accepted()) == 2
    u = usage(stack)
    assert (u["plan"], u["quota"], u["used"], u["remaining"], u["over_quota"], u["held"]) == \
        ("starter", 2, 2, 0, 2, 2), u
    st = stack.ctl("stats", json_out=True)
    assert [x for x in st["usage"] if x["tenant"] == "acme"][0]["held"] == 2
    text = stack.ctl("stats").stdout
    assert "acme (starter): 2 of 2, 2 held for quota" in text, text
    # And on the status page (served on the main listener in these tests).
    wait_until(lambda: b'data-field="held">2</td>' in stack.http("GET", "/status")[1],
               what="/status to show 2 held for quota")
    # Pausing and resuming the destination leaves quota holds alone.
    stack.ctl("destination", "pause", stack.dest_id, "--reason", "test")
    stack.ctl("destination", "resume", stack.dest_id)
    assert held_for_quota(stack) == 2

    # The upgrade: a signed subscription event naming acme.
    ev = s.event("customer.subscription.updated",
                 dict(subscription(price="price_pro_m"), metadata={"tenant_id": "acme"}),
                 int(time.time()))
    assert s.post(ev) == 200
    wait_until(lambda: len(meta.accepted()) == 4, timeout=30, what="released ones delivered")
    assert held_for_quota(stack) == 0
    rel = [json.loads(r[0]) for r in stack.sql(
        "SELECT details::text FROM audit_log WHERE action = 'quota.release'")]
    assert len(rel) == 1, rel
    assert (rel[0]["reason"], rel[0]["conversions"], rel[0]["plan"], rel[0]["quota"]) == \
        ("plan", 2, "professional", None), rel
    assert stack.scalar("SELECT actor FROM audit_log WHERE action = 'quota.release'") == "stripe"
    u = usage(stack)
    assert (u["plan"], u["quota"], u["used"], u["remaining"], u["held"]) == \
        ("professional", None, 4, None, 0), u
    # Unlimited now: the next conversion goes straight out.
    post_orders(stack, 7000200, 1)
    wait_until(lambda: len(meta.accepted()) == 5, what="fifth delivered")
    assert held_for_quota(stack) == 0


def test_month_rollover_releases_up_to_quota(make_stack, meta):
    stack = make_stack(plans__quotas="starter:1")
    stack.setup_demo()
    stack.start()
    post_orders(stack, 7000300, 3)
    wait_until(lambda: held_for_quota(stack) == 2, what="2 held for quota")
    wait_until(lambda: len(meta.accepted()) == 1, what="1 delivered")
    assert stack.count("audit_log", "action = 'quota.release'") == 0
    # "Next month": this month's usage becomes last month's.
    stack.sql("UPDATE tenant_usage SET month = (month - interval '1 month')::date")
    wait_until(lambda: len(meta.accepted()) == 2, timeout=30, what="one released and sent")
    time.sleep(1)
    assert held_for_quota(stack) == 1  # only up to the new month's quota of 1
    assert len(meta.accepted()) == 2
    rel = json.loads(stack.scalar(
        "SELECT details::text FROM audit_log WHERE action = 'quota.release'"))
    assert (rel["reason"], rel["conversions"], rel["quota"], rel["used_before"]) == \
        ("periodic", 1, 1, 0), rel
    rows = stack.sql("SELECT admitted, over_quota FROM tenant_usage ORDER BY month")
    assert [(int(a), int(o)) for a, o in rows] == [(1, 2), (1, 0)], rows
    # Nothing was dropped: three conversions, each with its delivery.
    assert stack.count("conversions") == 3 and stack.count("deliveries") == 3


def test_no_quotas_holds_nothing(make_stack, meta):
    stack = make_stack()
    stack.setup_demo()
    stack.start()
    post_orders(stack, 7000400, 3)
    wait_until(lambda: len(meta.accepted()) == 3, what="all delivered")
    assert held_for_quota(stack) == 0
    u = usage(stack)
    assert (u["used"], u["quota"], u["remaining"]) == (3, None, None), u


def billing_stack(make_stack, fake):
    stack = make_stack(stripe__plans=PLANS, endpoints__stripe=fake.url,
                       stripe__success_url="https://app.example/billing/ok",
                       stripe__cancel_url="https://app.example/billing/cancel",
                       stripe__portal_return_url="https://app.example/account")
    key_file = os.path.join(stack.dir, "stripe_sk")
    with open(key_file, "w") as f:
        f.write(STRIPE_KEY + "\n")
    settings = dict(stack.settings)
    settings[("stripe", "secret_key_file")] = key_file
    stack.write_conf(settings)
    stack.ctl("tenant", "add", "acme")
    return stack, int(stack.scalar("SELECT id FROM tenants WHERE name = 'acme'"))


def test_checkout_and_portal_reach_stripe(make_stack):
    fake = FakeStripe()
    try:
        stack, acme = billing_stack(make_stack, fake)
        p = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "professional")
        assert p.stdout.startswith("https://checkout.stripe.test/c/pay/cs_test_"), p.stdout
        reqs = fake.requests()
        assert len(reqs) == 1
        r = reqs[0]
        assert r["path"] == "/v1/checkout/sessions" and r["auth_ok"] and r["http_status"] == 200
        assert r["content_type"].startswith("application/x-www-form-urlencoded")
        assert r["idempotency_key"]
        assert r["form"] == {
            "mode": "subscription", "line_items[0][price]": "price_pro_m",
            "line_items[0][quantity]": "1", "client_reference_id": str(acme),
            "subscription_data[metadata][tenant_id]": str(acme),
            "success_url": "https://app.example/billing/ok",
            "cancel_url": "https://app.example/billing/cancel"}, r["form"]
        audit = json.loads(stack.scalar(
            "SELECT details::text FROM audit_log WHERE action = 'billing.checkout'"))
        assert audit["plan"] == "professional" and audit["session"].startswith("cs_test_")

        # No customer yet: no portal.
        p = stack.ctl("billing", "portal", "--tenant", "acme", check=False)
        assert p.returncode != 0 and "no Stripe customer" in p.stderr, p.stderr
        stack.sql("UPDATE tenants SET stripe_customer_id = 'cus_Q1' WHERE name = 'acme'")
        out = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "enterprise",
                        json_out=True)
        assert out["url"].startswith("https://checkout.stripe.test/")
        r = fake.requests()[-1]
        assert r["form"]["customer"] == "cus_Q1"
        assert r["form"]["line_items[0][price]"] == "price_ent_m"
        assert r["idempotency_key"] != fake.requests()[0]["idempotency_key"]

        p = stack.ctl("billing", "portal", "--tenant", "acme")
        assert p.stdout.startswith("https://billing.stripe.test/p/session/bps_"), p.stdout
        r = fake.requests()[-1]
        assert r["path"] == "/v1/billing_portal/sessions" and r["auth_ok"]
        assert r["form"] == {"customer": "cus_Q1",
                             "return_url": "https://app.example/account"}, r["form"]
        assert stack.count("audit_log", "action = 'billing.portal'") == 1
    finally:
        fake.stop()


def test_stripe_errors_and_retry(make_stack):
    fake = FakeStripe()
    try:
        stack, _ = billing_stack(make_stack, fake)
        # A 500 is retried once with the same Idempotency-Key.
        fake.config(fail_next=[500])
        p = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "starter")
        assert p.stdout.startswith("https://checkout.stripe.test/"), p.stdout
        a, b = fake.requests()
        assert (a["http_status"], b["http_status"]) == (500, 200)
        assert a["idempotency_key"] == b["idempotency_key"]
        # Stripe's own message reaches the operator; 400 and 429 are not retried.
        for status, word in ((400, "invalid_request_error"), (429, "Too many requests")):
            fake.reset()
            fake.config(key=STRIPE_KEY, fail_next=[status])
            p = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "starter",
                          check=False)
            assert p.returncode != 0 and word in p.stderr and str(status) in p.stderr, \
                p.stderr
            assert len(fake.requests()) == 1
        # A wrong key: Stripe's 401.
        fake.reset()
        fake.config(key="sk_test_other")
        p = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "starter",
                      check=False)
        assert p.returncode != 0 and "Invalid API Key" in p.stderr, p.stderr
        assert fake.requests()[0]["auth_ok"] is False
        # A plan no price buys: nothing is sent.
        fake.reset()
        p = stack.ctl("billing", "checkout", "--tenant", "acme", "--plan", "gold",
                      check=False)
        assert p.returncode != 0 and "no price" in p.stderr, p.stderr
        assert fake.requests() == []
        assert stack.count("audit_log", "action = 'billing.checkout'") == 1
    finally:
        fake.stop()


def test_release_leaves_paused_destination_holds(make_stack, meta):
    """A tenant's own quota (tenants.monthly_quota) without any [plans]
    quotas; the destination is paused.  Over-quota deliveries are held for
    quota, the one within quota for the pause.  Lifting the quota (own
    quota 0 = unlimited, picked up by the periodic check) turns the quota
    holds into pause holds, sends nothing, and `destination resume` then
    sends all three."""
    stack = make_stack()
    stack.setup_demo(paused=True)
    stack.sql("UPDATE tenants SET monthly_quota = 1 WHERE name = 'acme'")
    stack.start()
    post_orders(stack, 7000500, 3)
    wait_until(lambda: stack.count("deliveries", "state = 'held'") == 3, what="3 held")
    assert held_for_quota(stack) == 2
    assert stack.count("deliveries", "state = 'held' AND hold_reason IS NULL") == 1
    u = usage(stack)
    assert (u["quota"], u["used"], u["over_quota"], u["held"]) == (1, 1, 2, 2), u
    stack.sql("UPDATE tenants SET monthly_quota = 0 WHERE name = 'acme'")
    wait_until(lambda: held_for_quota(stack) == 0, timeout=30, what="quota holds released")
    assert stack.count("deliveries", "state = 'held' AND hold_reason IS NULL") == 3
    rel = json.loads(stack.scalar(
        "SELECT details::text FROM audit_log WHERE action = 'quota.release'"))
    assert (rel["reason"], rel["conversions"], rel["deliveries"], rel["pending"]) == \
        ("periodic", 2, 2, 0), rel
    time.sleep(0.5)
    assert len(meta.accepted()) == 0
    stack.ctl("destination", "resume", stack.dest_id)
    wait_until(lambda: len(meta.accepted()) == 3, timeout=30, what="all three delivered")


def test_billing_through_the_admin_api(make_stack, tmp_path):
    """POST /v1/admin/billing/checkout|portal: the same operations as the
    CLI.  An agency token buys for its own tenant (a "tenant" in the body
    is refused, as is none from an admin token, which must name one); a
    plan without a price is 422;
    no Stripe customer yet is 409; Stripe refusing our key is 502."""
    import urllib.error
    import urllib.request

    fake = FakeStripe()
    try:
        stack, acme = billing_stack(make_stack, fake)
        secret = os.path.join(str(tmp_path), "jwt.secret")
        with open(secret, "w") as f:
            f.write("billing-api-test-secret-0123456789abcdef\n")
        port = harness.free_port()
        settings = dict(stack.settings)
        settings[("server", "admin_listen")] = "127.0.0.1:%d" % port
        settings[("security", "jwt_secret_file")] = secret
        stack.settings = settings
        stack.write_conf(settings)
        stack.start()
        agency = stack.ctl("token", "create", "--tenant", "acme", "--sub", "dash").stdout.strip()
        admin = stack.ctl("token", "create", "--role", "admin", "--sub", "ops").stdout.strip()

        def post(path, tok, body):
            req = urllib.request.Request(
                "http://127.0.0.1:%d/v1/admin/billing/%s" % (port, path),
                data=json.dumps(body).encode(), method="POST",
                headers={"Authorization": "Bearer " + tok,
                         "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        status, body = post("checkout", agency, {"plan": "professional"})
        assert status == 200 and body["url"].startswith("https://checkout.stripe.test/"), body
        r = fake.requests()[-1]
        assert r["auth_ok"] and r["form"]["client_reference_id"] == str(acme)
        assert r["form"]["line_items[0][price]"] == "price_pro_m"
        assert json.loads(stack.scalar(
            "SELECT details::text FROM audit_log WHERE action = 'billing.checkout'"
            " AND actor = 'dash'"))["plan"] == "professional"
        status, body = post("checkout", agency, {"plan": "professional", "tenant": acme})
        assert status == 400 and body["error"] == "bad_request", body
        status, body = post("checkout", agency, {"plan": "platinum"})
        assert status == 422, body
        status, body = post("portal", agency, {})
        assert status == 409 and "no Stripe customer" in body["detail"], body
        stack.sql("UPDATE tenants SET stripe_customer_id = 'cus_Q2' WHERE name = 'acme'")
        status, body = post("portal", admin, {"tenant": acme})
        assert status == 200 and body["url"].startswith("https://billing.stripe.test/"), body
        assert fake.requests()[-1]["form"]["customer"] == "cus_Q2"
        status, body = post("portal", admin, {})
        assert status == 400 and body["detail"].startswith("tenant:"), body
        fake.config(key="sk_test_other")  # Stripe answers 401 to our key
        status, body = post("portal", agency, {})
        assert status == 502 and body["error"] == "bad_gateway", body
    finally:
        fake.stop()
