"""GoHighLevel end to end: webhooks signed with the test key pairs
(fixtures/keys, configured as [ghl] ed25519_public_key_file and
rsa_public_key_file) into the real adsengd, through PostgreSQL, out to the
fake Meta.  A contact then its won opportunity: a lead and one purchase,
the purchase carrying the contact's hashes; bad, missing and stale
signatures refused with nothing stored; 429 (never 503) while the
database is unavailable, since 429 is all HighLevel retries."""

import base64
import hashlib
import json
import os
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from harness import FIXTURES, wait_until

KEYS = os.path.join(FIXTURES, "keys")
LOCATION = "ve9EPM428h8vShlRW1KT"
CONTACT_ID = "nmFmQEsNgz6AVpgLVUJ0"
OPP_ID = "bCdEfGhIjK123"


def sha(v):
    return hashlib.sha256(v.encode()).hexdigest()


def _key(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def ghl_sign(body, scheme="ed25519"):
    """The signature header HighLevel would send for body (bytes), made
    with the test private keys: X-GHL-Signature (Ed25519) or the legacy
    X-WH-Signature (RSA PKCS#1 v1.5, SHA-256)."""
    if scheme == "ed25519":
        sig = _key("ghl_test_ed25519.key").sign(body)
        return {"X-GHL-Signature": base64.b64encode(sig).decode()}
    sig = _key("ghl_test_rsa.key").sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"X-WH-Signature": base64.b64encode(sig).decode()}


def now_iso(offset=0.0):
    t = time.time() + offset
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def fixture(name, **changes):
    """A fixture body made current: a fresh timestamp and webhookId, so
    the freshness window and Meta's 7-day limit accept it."""
    with open(os.path.join(FIXTURES, name)) as f:
        body = json.load(f)
    body["timestamp"] = now_iso()
    body["webhookId"] = str(uuid.uuid4())
    if "dateAdded" in body:
        body["dateAdded"] = now_iso(-60)
    body.update(changes)
    return body


class Ghl:
    """A GHL source of the demo tenant, routed to the demo pixel."""

    def __init__(self, stack, *opts):
        self.stack = stack
        src = stack.ctl("source", "add", "--tenant", "acme", "--kind", "ghl", "--name", "crm1",
                        *opts, json_out=True)
        self.id = src["id"]
        self.webhook_url = src["webhook_url"]
        stack.ctl("route", "add", self.id, stack.dest_id)

    def path(self):
        return "/v1/webhooks/ghl/%s" % self.id

    def post(self, body, scheme="ed25519", headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(ghl_sign(raw, scheme) if headers is None else headers)
        status, data, hdrs = self.stack.http("POST", self.path(), raw, h)
        return status, (json.loads(data) if data else None), hdrs


def ghl_stack(make_stack, *opts, **conf):
    conf.setdefault("ghl__ed25519_public_key_file", os.path.join(KEYS, "ghl_test_ed25519.pub"))
    conf.setdefault("ghl__rsa_public_key_file", os.path.join(KEYS, "ghl_test_rsa.pub"))
    stack = make_stack(**conf).setup_demo()
    ghl = Ghl(stack, "--location-id", LOCATION, *opts)
    stack.start()
    return stack, ghl


def meta_events(meta):
    out = []
    for req in meta.requests():
        data = req["body"] if isinstance(req["body"], dict) else json.loads(req["body"])
        out += data["data"]
    return out


def test_contact_then_won_opportunity_is_lead_and_purchase_with_the_contacts_hashes(
        make_stack, meta):
    stack, ghl = ghl_stack(make_stack, "--currency", "GBP")
    assert ghl.webhook_url == stack.base_url + ghl.path()
    status, body, _ = ghl.post(fixture("ghl_contact_create.json"))
    assert status == 200 and body["status"] == "accepted", body
    lead_id = "ghl:contact:%s:lead" % CONTACT_ID
    wait_until(lambda: meta.accepted().get(lead_id) == 1, what="Meta got the lead")
    # An update of the contact: stored, no second lead.
    status, body, _ = ghl.post(fixture("ghl_contact_create.json", type="ContactUpdate",
                                       city="Leeds"))
    assert status == 200, body
    wait_until(lambda: stack.count("raw_event_status", "state = 'ignored'") == 1,
               what="the update ignored as a conversion")
    # The won opportunity carries only the contactId (and the legacy header).
    status, body, _ = ghl.post(fixture("ghl_opportunity_won.json"), scheme="rsa")
    assert status == 200, body
    won_id = "ghl:opportunity:%s:won" % OPP_ID
    wait_until(lambda: meta.accepted().get(won_id) == 1, what="Meta got the purchase")
    # Later updates of the won opportunity: never a second purchase.
    for kind in ("OpportunityStageUpdate", "OpportunityMonetaryValueUpdate"):
        assert ghl.post(fixture("ghl_opportunity_won.json", type=kind))[0] == 200
    wait_until(lambda: stack.count("raw_event_status", "state = 'done'") == 4,
               what="the updates normalized")
    assert stack.count("conversions") == 2
    events = {e["event_id"]: e for e in meta_events(meta)}
    lead, purchase = events[lead_id], events[won_id]
    assert lead["event_name"] == "Lead"
    assert lead["user_data"]["em"] in (sha("lead.person@example.org"),
                                       [sha("lead.person@example.org")])
    assert purchase["event_name"] == "Purchase"
    assert purchase["custom_data"]["value"] in ("2500", 2500, "2500.00")
    assert purchase["custom_data"]["currency"] == "GBP"
    # The contact's identifiers, from the contact stored for this source.
    for k in ("em", "ph", "fn", "ln"):
        assert purchase["user_data"].get(k) == lead["user_data"][k], k
    # ...as the ContactUpdate left them: the new city replaced the old one.
    assert lead["user_data"]["ct"] in (sha("london"), [sha("london")])
    assert purchase["user_data"]["ct"] in (sha("leeds"), [sha("leeds")])
    (flat,) = stack.sql("SELECT ids::text FROM source_contacts WHERE source_id = '%s'"
                        " AND contact_key = '%s'" % (ghl.id, CONTACT_ID))
    assert "lead.person" not in flat[0] and "Leeds" not in flat[0]  # hashes only
    assert stack.scalar("SELECT dedup_key FROM ingest_keys ORDER BY 1 LIMIT 1").startswith(
        "webhook:")


def test_bad_missing_or_stale_signature_is_401_and_stores_nothing(make_stack, meta):
    stack, ghl = ghl_stack(make_stack)
    good = fixture("ghl_contact_create.json")
    raw = json.dumps(good).encode()
    other = json.dumps(fixture("ghl_contact_create.json")).encode()
    # signed for another body, tampered, missing, garbage
    assert ghl.post(raw, headers=ghl_sign(other))[0] == 401
    assert ghl.post(raw.replace(b"Sam", b"Pam"), headers=ghl_sign(raw))[0] == 401
    assert ghl.post(raw, headers=ghl_sign(other, "rsa"))[0] == 401
    assert ghl.post(raw, headers={})[0] == 401
    assert ghl.post(raw, headers={"X-GHL-Signature": "bm90IGEgc2lnbmF0dXJl"})[0] == 401
    # a bad Ed25519 signature is not rescued by a good legacy one
    h = ghl_sign(raw, "rsa")
    h.update(ghl_sign(other))
    assert ghl.post(raw, headers=h)[0] == 401
    # stale, and from the future
    assert ghl.post(fixture("ghl_contact_create.json", timestamp=now_iso(-360)))[0] == 401
    assert ghl.post(fixture("ghl_contact_create.json", timestamp=now_iso(360)))[0] == 401
    # another location's event, correctly signed
    assert ghl.post(fixture("ghl_contact_create.json", locationId="elsewhere"))[0] == 401
    assert stack.count("raw_events") == 0
    assert stack.count("ingest_keys") == 0
    # the real thing, twice: stored once
    assert ghl.post(raw, headers=ghl_sign(raw))[1]["status"] == "accepted"
    assert ghl.post(raw, headers=ghl_sign(raw))[1]["status"] == "duplicate"
    assert stack.count("raw_events") == 1


def test_source_add_takes_no_secret(make_stack):
    stack = make_stack().setup_demo()
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "ghl", "--name", "x",
                  "--secret-file", stack.key_file, check=False)
    assert p.returncode != 0 and "secret" in p.stderr
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "woocommerce", "--name", "y",
                  check=False)
    assert p.returncode != 0 and "--secret-file" in p.stderr
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "ghl", "--name", "z",
                  "--currency", "usd", check=False)
    assert p.returncode != 0
    src = stack.ctl("source", "add", "--tenant", "acme", "--kind", "ghl", "--name", "z",
                    "--location-id", LOCATION, "--stage-map", "abc=qualified_lead",
                    json_out=True)
    settings = json.loads(stack.scalar("SELECT settings::text FROM sources WHERE id = '%s'"
                                       % src["id"]))
    assert settings == {"location_id": LOCATION, "currency": "USD",
                        "stage_map": {"abc": "qualified_lead"}}
    # Nor can one be rotated in: HighLevel signs with its own keys.
    p = stack.ctl("source", "rotate-secret", src["id"], "--secret-file", stack.key_file,
                  check=False)
    assert p.returncode != 0 and "no secret of its own" in p.stderr


def test_database_unavailable_is_429_with_retry_after(make_stack, meta):
    stack, ghl = ghl_stack(make_stack)
    body = fixture("ghl_contact_create.json")
    db = stack.db
    try:
        # No new session may start, and the daemon's are cut: the ingest
        # writer cannot store anything.
        stack.cluster.psql("ALTER DATABASE %s ALLOW_CONNECTIONS false" % db)
        stack.cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = '%s'" % db)
        status, data, headers = ghl.post(body)
        assert status == 429, (status, data)
        assert headers.get("Retry-After")
    finally:
        stack.cluster.psql("ALTER DATABASE %s ALLOW_CONNECTIONS true" % db)
    # HighLevel's retry (the same delivery) then goes through.
    raw = json.dumps(body).encode()

    def accepted():
        return ghl.post(raw, headers=ghl_sign(raw))[0] == 200
    wait_until(accepted, timeout=30, interval=0.5, what="the retry stored")
    assert stack.count("raw_events") == 1


def test_a_wrong_key_file_fails_the_config(make_stack):
    """A key of the wrong kind (or no key) in [ghl] is refused when the
    configuration loads, not found out by refusing every webhook."""
    stack = make_stack(ghl__ed25519_public_key_file=os.path.join(KEYS, "ghl_test_rsa.pub"))
    p = stack.ctl("config", "show", check=False)
    assert p.returncode != 0 and "not a PEM Ed25519 public key" in p.stderr, p.stderr
    stack = make_stack(ghl__rsa_public_key_file=os.path.join(KEYS, "ghl_test_ed25519.key"))
    p = stack.ctl("config", "show", check=False)
    assert p.returncode != 0 and "not a PEM RSA public key" in p.stderr, p.stderr
