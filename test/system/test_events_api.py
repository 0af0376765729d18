"""The server-side events API end to end: `source add --kind api` makes a
key (printed once, stored sealed), POST /v1/events/{source_id} with it as
a Bearer token into the real adsengd, through PostgreSQL, out to the fake
Meta.  One verdict per item (accepted, duplicate, invalid with the
reason); only accepted items are converted and delivered; a wrong key
(401) or a body that is not an array of 1 to 1000 conversions (400)
stores nothing; two requests racing with the same event_id get one
"accepted" and one "duplicate"; key rotation keeps the old key for the
overlap."""

import hashlib
import json
import threading
import time

import pytest

from harness import wait_until


def sha(v):
    return hashlib.sha256(v.encode()).hexdigest()


def iso(offset=0.0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def conv(event_id, **changes):
    """A canonical conversion (DESIGN §4) that happened a minute ago;
    changes replace (None: remove) its members."""
    c = {"event": "purchase", "event_id": event_id, "occurred_at": iso(-60),
         "value": "49.90", "currency": "EUR", "order_id": event_id,
         "user": {"email": " Jane.Doe@Example.com ", "phone": "+1 (555) 010-2000",
                  "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (test)"},
         "click": {"fbc": "fb.1.1732700000000.IwAR_api"},
         "page_url": "https://shop.example/checkout/done"}
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


class Api:
    """An api source of the demo tenant, routed to the demo pixel."""

    def __init__(self, stack):
        self.stack = stack
        src = stack.ctl("source", "add", "--tenant", "acme", "--kind", "api", "--name",
                        "server1", json_out=True)
        self.id = src["id"]
        self.url = src["webhook_url"]
        self.key = src["api_key"]
        stack.ctl("route", "add", self.id, stack.dest_id)

    def path(self):
        return "/v1/events/%s" % self.id

    def post(self, body, key=None, auth=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if auth is not False:
            headers["Authorization"] = auth or "Bearer " + (key or self.key)
        status, data, _ = self.stack.http("POST", self.path(), raw, headers)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data


@pytest.fixture
def api_stack(make_stack, meta):
    stack = make_stack(ingest__writers="2").setup_demo()
    api = Api(stack)
    stack.start()
    return stack, api


def stored(stack, api):
    return stack.count("raw_events", "source_id = '%s'" % api.id)


def test_good_duplicate_invalid_only_the_good_one_reaches_meta(api_stack, meta):
    stack, api = api_stack
    assert api.url == stack.base_url + api.path()
    assert api.key.startswith("ak_") and len(api.key) >= 40
    status, body = api.post([conv("ord-1001"),
                             conv("ord-1001", value="1.00"),
                             conv("ord-1002", currency="eur")])
    assert status == 200, body
    assert body == {"results": [
        {"status": "accepted", "event_id": "ord-1001"},
        {"status": "duplicate", "event_id": "ord-1001"},
        {"status": "invalid", "error": "currency must be ISO 4217 (3 upper-case letters)"}]}
    # the whole request is one raw event, recording which items were new
    assert stored(stack, api) == 1
    assert stack.scalar("SELECT items_new::text FROM raw_events WHERE source_id = '%s'"
                        % api.id) == "{0}"
    wait_until(lambda: meta.accepted().get("ord-1001") == 1, what="Meta got the purchase")
    stack.wait_states({"delivered": 1})
    (req,) = meta.requests()
    data = req["body"] if isinstance(req["body"], dict) else json.loads(req["body"])
    (ev,) = data["data"]
    assert ev["event_name"] == "Purchase"
    assert ev["custom_data"]["value"] in ("49.90", 49.9)  # the first item's, not "1.00"
    assert ev["custom_data"]["currency"] == "EUR"
    assert ev["user_data"]["em"] in (sha("jane.doe@example.com"), [sha("jane.doe@example.com")])
    assert ev["user_data"]["client_ip_address"] == "203.0.113.7"
    assert ev["user_data"]["fbc"] == "fb.1.1732700000000.IwAR_api"
    assert "ord-1002" not in meta.accepted()
    # only hashes are kept with the conversion
    payload = stack.scalar("SELECT payload::text FROM conversions")
    assert "jane" not in payload.lower()

    # the same event_id in a later request is a duplicate, converted once
    second = json.dumps([conv("ord-1001", value="2.00"), conv("ord-1003")]).encode()
    status, body = api.post(second)
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == ["duplicate", "accepted"]
    wait_until(lambda: meta.accepted().get("ord-1003") == 1, what="Meta got the second")
    stack.wait_states({"delivered": 2})
    assert meta.accepted().get("ord-1001") == 1
    assert stack.count("conversions") == 2

    # the very same request again: stored once, every valid item a duplicate
    status, body = api.post(second)
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate"]
    assert stored(stack, api) == 2


def test_each_rule_is_answered_and_nothing_invalid_is_converted(api_stack, meta):
    stack, api = api_stack
    items = [
        conv("r-0", event=None),
        dict(conv("r-1"), event_id=""),
        conv("r-2", value=49.9),
        conv("r-3", currency="EURO"),
        conv("r-4", occurred_at="2026-11-27 10:00:00"),
        conv("r-5", occurred_at=iso(3600)),
        conv("r-6", user={"email": "not-an-email"}),
        conv("r-7", colour="blue"),
        "not an object",
        conv("r-9", occurred_at=iso(120)),  # within the 5 minutes allowed
    ]
    status, body = api.post(items)
    assert status == 200, body
    res = body["results"]
    assert [r["status"] for r in res] == ["invalid"] * 9 + ["accepted"]
    assert res[0]["error"] == "event is required"
    assert res[1]["error"] == "event_id is required"
    assert "value must be a decimal string" in res[2]["error"]
    assert "currency must be ISO 4217" in res[3]["error"]
    assert "occurred_at must be RFC 3339" in res[4]["error"]
    assert res[5]["error"] == "occurred_at is more than 5 minutes in the future"
    assert res[6]["error"] == "user.email does not look like an email"
    assert "colour" in res[7]["error"]
    assert res[8]["error"] == "conversion must be a JSON object"
    wait_until(lambda: meta.accepted().get("r-9") == 1, what="Meta got the valid one")
    stack.wait_states({"delivered": 1})
    assert stack.count("conversions") == 1
    # invalid items claim no event_id: sent again corrected, they are new
    status, body = api.post([conv("r-3")])
    assert body["results"] == [{"status": "accepted", "event_id": "r-3"}]


def test_wrong_or_missing_key_is_401_and_stores_nothing(api_stack, meta):
    stack, api = api_stack
    good = [conv("k-1")]
    assert api.post(good, key="ak_" + "A" * 43)[0] == 401
    assert api.post(good, key=api.key[:-1])[0] == 401
    assert api.post(good, auth=False)[0] == 401
    assert api.post(good, auth="Basic " + api.key)[0] == 401
    # the webhook route of the same id is not this source's
    assert stack.http("POST", "/v1/webhooks/api/%s" % api.id, json.dumps(good).encode(),
                      {"Authorization": "Bearer " + api.key})[0] == 404
    # nor is another source's key (the Shopify source's secret) a key
    assert api.post(good, key=stack.SECRET)[0] == 401
    assert stored(stack, api) == 0
    assert stack.count("ingest_item_keys") == 0
    # the key is stored sealed, never in the clear
    assert stack.count("sources", "position('%s' in encode(secret, 'escape')) > 0"
                       % api.key) == 0


def test_body_not_an_array_of_1_to_1000_is_400_and_stores_nothing(api_stack, meta):
    stack, api = api_stack
    for body, why in [(conv("b-1"), "array"),
                      (b"[{\"event\":", "not valid JSON"),
                      (b"", "empty"),
                      ([], "1 to 1000"),
                      ([conv("b-%d" % i) for i in range(1001)], "1 to 1000"),
                      (b"\"purchase\"", "array")]:
        status, answer = api.post(body)
        assert status == 400, (body, answer)
        assert why in answer["detail"], answer
    assert stored(stack, api) == 0
    # 1000 is allowed
    status, answer = api.post([conv("m-%d" % i) for i in range(1000)])
    assert status == 200
    assert all(r["status"] == "accepted" for r in answer["results"])
    assert len(answer["results"]) == 1000


def test_concurrent_requests_with_one_event_id_give_one_accepted(api_stack, meta):
    stack, api = api_stack
    rounds = 10
    results = {}

    def send(n, side):
        # different bodies (so different requests), the same event_ids, in
        # opposite orders (two writers must not deadlock on them)
        ids = ["race-%d-a" % n, "race-%d-b" % n]
        if side:
            ids.reverse()
        results[(n, side)] = api.post([conv(i, order_id="side-%d" % side) for i in ids])

    for n in range(rounds):
        threads = [threading.Thread(target=send, args=(n, side)) for side in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for n in range(rounds):
        verdicts = {}
        for side in (0, 1):
            status, body = results[(n, side)]
            assert status == 200, (n, side, body)
            for r in body["results"]:
                verdicts.setdefault(r["event_id"], []).append(r["status"])
        for event_id, v in verdicts.items():
            assert sorted(v) == ["accepted", "duplicate"], (event_id, results)
    stack.wait_states({"delivered": 2 * rounds})
    assert stack.count("conversions") == 2 * rounds
    accepted = meta.accepted()
    assert all(accepted.get("race-%d-%s" % (n, x)) == 1 for n in range(rounds) for x in "ab")


def test_rotate_key_keeps_the_old_one_for_the_overlap(api_stack, meta):
    stack, api = api_stack
    # the key is generated, never given, and never listed
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "api", "--name", "server2",
                  "--secret-file", "/dev/null", check=False)
    assert p.returncode == 2 and "generates its key" in p.stderr
    listed = [s for s in stack.ctl("source", "list", json_out=True) if s["id"] == api.id]
    assert listed[0]["webhook_url"] == api.url
    assert api.key not in json.dumps(listed)
    audit = stack.scalar("SELECT string_agg(details::text, ' ') FROM audit_log")
    assert api.key not in audit
    out = stack.ctl("source", "rotate-secret", api.id, "--overlap", "1h", json_out=True)
    new_key = out["api_key"]
    assert new_key.startswith("ak_") and new_key != api.key
    p = stack.ctl("source", "rotate-secret", api.id, "--secret-file", "/dev/null", check=False)
    assert p.returncode == 2 and "generated" in p.stderr

    def status(key, event_id):
        return api.post([conv(event_id)], key=key)[0]

    wait_until(lambda: status(new_key, "rot-new") == 200, what="the new key accepted")
    assert status(api.key, "rot-old") == 200
    # a second rotation without overlap: only the newest key works
    newest = stack.ctl("source", "rotate-secret", api.id, "--overlap", "0",
                       json_out=True)["api_key"]
    wait_until(lambda: status(newest, "rot-newest") == 200, what="the newest key accepted")
    wait_until(lambda: status(new_key, "rot-x") == 401, what="the previous key refused")
    assert status(api.key, "rot-y") == 401
