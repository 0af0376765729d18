"""Stripe billing webhooks end to end: events signed as Stripe signs them
(Stripe-Signature: t=…,v1=HMAC-SHA256 of "t.body" with the whsec_ secret)
into the real adsengd and PostgreSQL, and the tenant's billing state stage 1
makes of them: checkout links the tenant, subscription events set plan and
status, invoices set and clear past_due, an older event never overwrites a
newer state, duplicates are stored once, and a bad, stale or missing
signature is refused with nothing stored.  No event makes a conversion."""

import hashlib
import hmac
import json
import os
import time

from harness import wait_until

WHSEC = "whsec_system_test_0123456789"
PLANS = "price_starter_m:starter, price_pro_m:professional, price_ent_m:enterprise"


class Stripe:
    """A stripe source (of the operator's tenant "acme"), a customer tenant
    "beta", and a way to post signed events."""

    def __init__(self, stack):
        self.stack = stack
        stack.ctl("tenant", "add", "beta")
        src = stack.ctl("source", "add", "--tenant", "acme", "--kind", "stripe", "--name",
                        "billing", json_out=True)
        self.id = src["id"]
        self.n = 0

    def path(self):
        # The fixed route, served by the one stripe source.
        return "/v1/webhooks/stripe"

    def event(self, type_, obj, created, evt_id=None):
        self.n += 1
        return {"id": evt_id or "evt_test_%d_%d" % (self.n, int(time.time() * 1000)),
                "object": "event", "type": type_, "created": created, "livemode": False,
                "data": {"object": obj}}

    def post(self, ev, secret=WHSEC, t=None, header=None, path=None):
        body = json.dumps(ev).encode() if isinstance(ev, dict) else ev
        t = int(time.time()) if t is None else t
        mac = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
        h = {"Content-Type": "application/json; charset=utf-8",
             "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        if header is not False:
            h["Stripe-Signature"] = header or "t=%d,v1=%s" % (t, mac)
        return self.stack.http("POST", path or self.path(), body, h)[0]

    def tenant(self, name="beta"):
        row = self.stack.sql(
            "SELECT plan, plan_status, billing_status, coalesce(stripe_customer_id, ''),"
            " coalesce(stripe_subscription_id, '') FROM tenants WHERE name = '%s'" % name)[0]
        return {"plan": row[0], "plan_status": row[1], "billing_status": row[2],
                "customer": row[3], "subscription": row[4]}

    def wait_processed(self, n):
        wait_until(lambda: self.stack.count(
            "raw_event_status", "source_id = '%s' AND state <> 'pending'" % self.id) == n,
            timeout=30, what="%d stripe events processed" % n)


def subscription(sub="sub_B1", customer="cus_B", price="price_pro_m", status="active"):
    return {"id": sub, "object": "subscription", "customer": customer, "status": status,
            "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price}}]}}


def stripe_stack(make_stack, **conf):
    secret_file = None
    stack = make_stack(stripe__plans=PLANS, **conf)
    secret_file = os.path.join(stack.dir, "stripe_whsec")
    with open(secret_file, "w") as f:
        f.write(WHSEC + "\n")
    settings = dict(stack.settings)
    settings[("stripe", "webhook_secret_file")] = secret_file
    stack.write_conf(settings)
    stack.setup_demo()
    s = Stripe(stack)
    stack.start()
    return stack, s


def test_billing_follows_stripe_events(make_stack):
    stack, s = stripe_stack(make_stack)
    now = int(time.time())
    assert s.post(s.event("checkout.session.completed",
                          {"id": "cs_1", "object": "checkout.session",
                           "client_reference_id": "beta", "customer": "cus_B",
                           "subscription": "sub_B1", "mode": "subscription"}, now - 50)) == 200
    s.wait_processed(1)
    t = s.tenant()
    assert (t["customer"], t["subscription"], t["plan"]) == ("cus_B", "sub_B1", "starter")

    assert s.post(s.event("customer.subscription.updated", subscription(), now - 40)) == 200
    wait_until(lambda: s.tenant()["plan"] == "professional", what="plan professional")
    assert s.tenant()["plan_status"] == "active"

    assert s.post(s.event("invoice.payment_failed",
                          {"id": "in_1", "object": "invoice", "customer": "cus_B",
                           "subscription": "sub_B1"}, now - 30)) == 200
    wait_until(lambda: s.tenant()["billing_status"] == "past_due", what="past_due")
    assert s.post(s.event("invoice.paid", {"id": "in_2", "object": "invoice",
                                           "customer": "cus_B"}, now - 20)) == 200
    wait_until(lambda: s.tenant()["billing_status"] == "ok", what="past_due cleared")

    assert s.post(s.event("customer.subscription.deleted",
                          subscription(status="canceled"), now - 10)) == 200
    wait_until(lambda: s.tenant()["plan_status"] == "canceled", what="canceled")
    assert s.tenant()["plan"] == "starter"
    s.wait_processed(5)
    # The operator's own tenant was never touched; no conversions.
    assert s.tenant("acme")["plan"] == "starter"
    assert stack.count("conversions") == 0
    assert stack.count("raw_event_status", "state = 'error'") == 0
    actions = [r[0] for r in stack.sql(
        "SELECT action FROM audit_log WHERE actor = 'stripe' ORDER BY id")]
    assert actions == ["billing.link", "billing.plan", "billing.status", "billing.status",
                       "billing.plan", "billing.status"], actions
    detail = json.loads(stack.scalar(
        "SELECT details::text FROM audit_log WHERE action = 'billing.plan' ORDER BY id LIMIT 1"))
    assert detail["before"] == "starter" and detail["after"] == "professional"


def test_duplicate_event_is_stored_once(make_stack):
    stack, s = stripe_stack(make_stack)
    ev = s.event("customer.subscription.created",
                 dict(subscription(), metadata={"tenant_id": "beta"}), int(time.time()))
    assert s.post(ev) == 200
    # A retry: same event id, a new t and so a new signature (and here
    # the route with the source's id).
    assert s.post(ev, t=int(time.time()) + 1, path="/v1/webhooks/stripe/%s" % s.id) == 200
    s.wait_processed(1)
    assert stack.count("raw_events", "source_id = '%s'" % s.id) == 1
    # Linked through the subscription's metadata, without a checkout.
    wait_until(lambda: s.tenant()["plan"] == "professional", what="plan from metadata")
    assert stack.count("audit_log", "actor = 'stripe' AND action = 'billing.plan'") == 1


def test_bad_stale_or_missing_signature_stores_nothing(make_stack):
    stack, s = stripe_stack(make_stack)
    ev = s.event("invoice.paid", {"customer": "cus_B"}, int(time.time()))
    body = json.dumps(ev).encode()
    assert s.post(ev, secret="whsec_wrong") == 401
    assert s.post(ev, t=int(time.time()) - 400) == 401
    assert s.post(ev, t=int(time.time()) + 400) == 401
    assert s.post(ev, header=False) == 401
    assert s.post(ev, header="t=%d,v1=%s" % (time.time(), "0" * 64)) == 401
    # A good signature over other bytes.
    good = hmac.new(WHSEC.encode(), b"%d." % int(time.time()) + body, hashlib.sha256)
    assert s.post(body + b" ", header="t=%d,v1=%s" % (time.time(), good.hexdigest())) == 401
    assert stack.count("raw_events") == 0
    assert stack.count("ingest_keys") == 0
    # Several v1 (a secret being rolled): one matching is enough.
    t = int(time.time())
    mac = hmac.new(WHSEC.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    assert s.post(body, header="t=%d,v1=%s,v1=%s,v0=%s" % (t, "ab" * 32, mac, "cd" * 32)) == 200
    assert stack.count("raw_events") == 1


def test_older_event_does_not_overwrite_newer_state(make_stack):
    stack, s = stripe_stack(make_stack)
    now = int(time.time())
    assert s.post(s.event("checkout.session.completed",
                          {"client_reference_id": str(
                              stack.scalar("SELECT id FROM tenants WHERE name = 'beta'")),
                           "customer": "cus_B", "subscription": "sub_B1"}, now - 100)) == 200
    assert s.post(s.event("customer.subscription.updated",
                          subscription(price="price_ent_m"), now - 10)) == 200
    wait_until(lambda: s.tenant()["plan"] == "enterprise", what="plan enterprise")
    # Delivered late: an update made before the one applied.
    assert s.post(s.event("customer.subscription.updated",
                          subscription(price="price_starter_m", status="past_due"),
                          now - 60)) == 200
    assert s.post(s.event("invoice.paid", {"customer": "cus_B"}, now - 5)) == 200
    assert s.post(s.event("invoice.payment_failed", {"customer": "cus_B"}, now - 50)) == 200
    s.wait_processed(5)
    t = s.tenant()
    assert (t["plan"], t["plan_status"], t["billing_status"]) == ("enterprise", "active", "ok")
    assert "outcome=stale" in stack.logs()


def test_fixed_route_needs_exactly_one_stripe_source(make_stack):
    stack, s = stripe_stack(make_stack)
    ev = s.event("invoice.paid", {"customer": "cus_B"}, int(time.time()))
    second = stack.ctl("source", "add", "--tenant", "acme", "--kind", "stripe", "--name",
                       "billing2", json_out=True)
    # Which source would it be?  Neither: 404 until one is disabled.
    wait_until(lambda: s.post(ev) == 404, what="404 with two stripe sources")
    assert s.post(ev, path="/v1/webhooks/stripe/%s" % second["id"]) == 200
    stack.ctl("source", "disable", second["id"])
    wait_until(lambda: s.post(ev) == 200, what="200 with one stripe source again")
    assert stack.count("raw_events", "source_id = '%s'" % s.id) == 1
    # Other kinds have no route by kind.
    assert stack.http("POST", "/v1/webhooks/shopify", b"{}")[0] == 404
