"""Admin API (issue 10, second slice): the route table (`adsengd
--admin-routes`, 405 with Allow), create/update/disable of tenants,
sources, destinations and routes with the token's sub as the audit actor,
tenant scoping of every mutation (an agency token gets 404 for another
tenant's objects, an admin token does not), conversions, replay through
the API, keyset pagination and the per-token rate limit."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from harness import shopify_order, wait_until
from test_admin_api import admin_stack, deliver_one_each, items, token

CONTRACT = """
GET /v1/admin/tenants
POST /v1/admin/tenants
GET /v1/admin/tenants/{id}
PATCH /v1/admin/tenants/{id}
POST /v1/admin/tenants/{id}/disable
GET /v1/admin/sources
POST /v1/admin/sources
GET /v1/admin/sources/{id}
PATCH /v1/admin/sources/{id}
POST /v1/admin/sources/{id}/disable
POST /v1/admin/sources/{id}/enable
GET /v1/admin/destinations
POST /v1/admin/destinations
GET /v1/admin/destinations/{id}
PATCH /v1/admin/destinations/{id}
POST /v1/admin/destinations/{id}/pause
POST /v1/admin/destinations/{id}/resume
POST /v1/admin/destinations/{id}/test
POST /v1/admin/destinations/{id}/disable
GET /v1/admin/routes
POST /v1/admin/routes
DELETE /v1/admin/routes/{source_id}/{destination_id}
GET /v1/admin/conversions
GET /v1/admin/deliveries
GET /v1/admin/deliveries/{id}
POST /v1/admin/replay
GET /v1/admin/stats
POST /v1/admin/billing/checkout
POST /v1/admin/billing/portal
"""


def call(a, method, path, tok, body=None, raw=None):
    """(status, parsed JSON, headers) of one admin request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(a.base + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def audit(s, action):
    return [r[0] for r in s.sql("SELECT actor FROM audit_log WHERE action = '%s' ORDER BY id"
                                % action)]


def test_route_table_and_methods(make_stack, tmp_path):
    exe = os.path.join(os.environ["ADSENG_BIN_DIR"], "adsengd")
    # No config, no database: the table alone.
    p = subprocess.run([exe, "--admin-routes"], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    assert sorted(lines) == sorted(CONTRACT.split("\n")[1:-1])
    s = admin_stack(make_stack, tmp_path)
    admin = token(s, "--role", "admin", "--sub", "ops")
    status, body, hdrs = call(s.admin, "DELETE", "/v1/admin/tenants", admin)
    assert status == 405 and hdrs["Allow"] == "GET, POST" and body["error"]
    status, body, hdrs = call(s.admin, "PUT", "/v1/admin/sources/%s" % s.source_id, admin,
                              body={})
    assert status == 405 and hdrs["Allow"] == "GET, PATCH"
    assert call(s.admin, "GET", "/v1/admin/replay", admin)[2]["Allow"] == "POST"
    assert call(s.admin, "GET", "/v1/admin/tenants/", admin)[0] == 404
    assert call(s.admin, "GET", "/v1/admin/tenants?limit=0", admin)[0] == 400
    assert call(s.admin, "GET", "/v1/admin/tenants?limit=1001", admin)[0] == 400
    status, body, _ = call(s.admin, "GET", "/v1/admin/tenants?cursor=bm9wZQ", admin)
    assert status == 400 and body["detail"].startswith("cursor")
    assert call(s.admin, "GET", "/v1/admin/stats?state=held", admin)[0] == 400
    status, body, _ = call(s.admin, "POST", "/v1/admin/tenants", admin, raw=b"[1,2]")
    assert status == 400 and "object" in body["detail"]


def test_tenants(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    admin = token(s, "--role", "admin", "--sub", "ops-alice")
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot")
    status, body, _ = call(a, "POST", "/v1/admin/tenants", admin, {"name": "initech"})
    assert status == 201 and body["name"] == "initech" and body["plan"] == "starter"
    tid = body["id"]
    assert body["disabled"] is False
    status, body, _ = call(a, "POST", "/v1/admin/tenants", admin, {"name": "initech"})
    assert status == 409 and body["error"] == "conflict"
    status, body, _ = call(a, "POST", "/v1/admin/tenants", admin, {"plan": "starter"})
    assert status == 400 and body["detail"].startswith("name")
    status, body, _ = call(a, "POST", "/v1/admin/tenants", admin, {"name": "x", "plan": "gold"})
    assert status == 422 and body["detail"].startswith("plan")
    status, body, _ = call(a, "POST", "/v1/admin/tenants", admin, {"name": "x", "nmae": "y"})
    assert status == 400 and body["detail"].startswith("nmae")
    assert call(a, "POST", "/v1/admin/tenants", acme, {"name": "mine"})[0] == 403
    status, body, _ = call(a, "PATCH", "/v1/admin/tenants/%d" % tid, admin,
                           {"plan": "professional", "name": "initrode"})
    assert status == 200 and body["plan"] == "professional" and body["name"] == "initrode"
    assert call(a, "PATCH", "/v1/admin/tenants/%d" % tid, admin, {"name": "acme"})[0] == 409
    assert call(a, "PATCH", "/v1/admin/tenants/999999", admin, {"name": "z"})[0] == 404
    assert call(a, "PATCH", "/v1/admin/tenants/%d" % tid, acme, {"name": "z"})[0] == 403
    # an agency token sees its own tenant, not another
    acme_id = int(s.scalar("SELECT id FROM tenants WHERE name = 'acme'"))
    assert call(a, "GET", "/v1/admin/tenants/%d" % acme_id, acme)[0] == 200
    assert call(a, "GET", "/v1/admin/tenants/%d" % tid, acme)[0] == 404
    # disable: flagged, its sources refused from now on
    gid = int(s.scalar("SELECT id FROM tenants WHERE name = 'globex'"))
    status, body, _ = call(a, "POST", "/v1/admin/tenants/%d/disable" % gid, admin)
    assert status == 200 and body["disabled"] is True and body["sources_disabled"] == 1
    assert s.scalar("SELECT enabled FROM sources WHERE id = '%s'" % s.source2) == "f"
    # the CLI calls the same operations
    assert s.ctl("tenant", "update", "initrode", "--plan", "enterprise",
                 json_out=True)["id"] == tid
    assert call(a, "GET", "/v1/admin/tenants/%d" % tid, admin)[1]["plan"] == "enterprise"
    assert s.ctl("tenant", "disable", "acme", json_out=True)["sources_disabled"] == 1
    assert call(a, "GET", "/v1/admin/tenants/%d" % acme_id, acme)[1]["disabled"] is True
    assert s.ctl("route", "delete", s.source_id, s.dest_id, json_out=True)["source_id"] \
        == s.source_id
    assert s.ctl("route", "delete", s.source_id, s.dest_id, check=False).returncode != 0
    assert audit(s, "route.delete") == ["adsengctl"] or len(audit(s, "route.delete")) == 1
    assert audit(s, "tenant.add")[-1] == "ops-alice"
    assert audit(s, "tenant.update")[0] == "ops-alice"
    assert audit(s, "tenant.disable")[0] == "ops-alice"
    assert len(audit(s, "tenant.disable")) == 2


def test_sources_destinations_routes(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    admin = token(s, "--role", "admin", "--sub", "ops-alice")
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot")
    # a source of its own tenant; "tenant" is the token's, never the body's
    gid = int(s.scalar("SELECT id FROM tenants WHERE name = 'globex'"))
    status, body, _ = call(a, "POST", "/v1/admin/sources", acme,
                           {"tenant": gid, "kind": "shopify", "name": "shop3",
                            "secret": s.SECRET})
    assert status == 400 and body["detail"].startswith("tenant")
    status, body, _ = call(a, "POST", "/v1/admin/sources", acme,
                           {"kind": "shopify", "name": "shop3", "secret": s.SECRET,
                            "settings": {"note": "api"}})
    assert status == 201, body
    src = body["id"]
    assert body["webhook_url"].endswith("/v1/webhooks/shopify/%s" % src)
    assert body["tenant"] == "acme" and s.SECRET not in json.dumps(body)
    assert call(a, "POST", "/v1/admin/sources", acme,
                {"kind": "shopify", "name": "shop3", "secret": s.SECRET})[0] == 409
    assert call(a, "POST", "/v1/admin/sources", acme,
                {"kind": "nope", "name": "shop4", "secret": "x"})[0] == 422
    assert call(a, "POST", "/v1/admin/sources", acme, {"kind": "shopify", "name": "shop4"})[0] \
        == 422  # shopify needs its secret
    assert call(a, "POST", "/v1/admin/sources", admin,
                {"kind": "shopify", "name": "shop4", "secret": "x"})[1]["detail"] \
        .startswith("tenant")
    # the new source takes webhooks (the daemon reloads the catalog)
    wait_until(lambda: s.post_shopify(shopify_order(order_id=3001), source_id=src)[0] == 200,
               timeout=30, what="the API's source accepted")
    # update, rate limit, disable, enable
    status, body, _ = call(a, "PATCH", "/v1/admin/sources/%s" % src, acme,
                           {"name": "shop3b", "rate_limit": {"rate": 5}})
    assert status == 200 and body["name"] == "shop3b"
    assert body["settings"]["ratelimit_rate"] == 5 and body["settings"]["ratelimit_burst"] == 20
    assert body["settings"]["note"] == "api"
    # settings are checked as the CLI's options are
    status, body, _ = call(a, "PATCH", "/v1/admin/sources/%s" % src, acme,
                           {"settings": {"currency": "USD"}})
    assert status == 422 and body["detail"].startswith("settings.currency"), body
    status, body, _ = call(a, "POST", "/v1/admin/sources", acme,
                           {"kind": "woocommerce", "name": "woo1", "secret": "w" * 20,
                            "settings": {"store_url": "https://shop.example/?x=1"}})
    assert status == 422 and body["detail"].startswith("settings.store_url"), body
    status, body, _ = call(a, "POST", "/v1/admin/sources", acme,
                           {"kind": "woocommerce", "name": "woo1", "secret": "w" * 20,
                            "settings": {"store_url": "https://shop.example",
                                         "click_meta_keys": {"_gclid": "gclid"}},
                            "rest_credentials": {"consumer_key": "ck_1",
                                                 "consumer_secret": "cs_1"}})
    assert status == 201 and body["settings"]["store_url"] == "https://shop.example", body
    assert "cs_1" not in json.dumps(body) and "w" * 20 not in json.dumps(body)
    status, body, _ = call(a, "PATCH", "/v1/admin/sources/%s" % src, acme, {"rate_limit": "x"})
    assert status == 400 and body["detail"].startswith("rate_limit")
    assert call(a, "POST", "/v1/admin/sources/%s/disable" % src, acme)[1]["enabled"] is False
    assert call(a, "POST", "/v1/admin/sources/%s/enable" % src, acme)[1]["enabled"] is True
    # another tenant's source: 404 for the agency, fine for the admin
    for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "z"}),
                               ("POST", "/disable", None), ("POST", "/enable", None)):
        assert call(a, method, "/v1/admin/sources/%s%s" % (s.source2, path), acme,
                    body)[0] == 404
    assert call(a, "POST", "/v1/admin/sources/%s/disable" % s.source2, admin)[0] == 200
    assert audit(s, "source.add")[-1] == "agency-bot"
    assert audit(s, "source.update") == ["agency-bot"]
    assert audit(s, "source.rate_limit") == ["agency-bot"]
    assert audit(s, "source.disable") == ["agency-bot", "ops-alice"]

    # destinations: credentials write-only
    creds = {"access_token": s.TOKEN}
    status, body, _ = call(a, "POST", "/v1/admin/destinations", acme,
                           {"kind": "meta_capi", "name": "pixel3",
                            "settings": {"pixel_id": s.PIXEL}, "credentials": creds})
    assert status == 201, body
    dst = body["id"]
    assert s.TOKEN not in json.dumps(body) and body["settings"]["pixel_id"] == s.PIXEL
    assert call(a, "POST", "/v1/admin/destinations", acme,
                {"kind": "meta_capi", "name": "pixel4", "settings": {}})[1]["detail"] \
        .startswith("credentials")
    assert call(a, "POST", "/v1/admin/destinations", acme,
                {"kind": "nope", "name": "p5", "credentials": creds})[0] == 422
    assert call(a, "POST", "/v1/admin/destinations", acme,
                {"kind": "meta_capi", "name": "p6", "credentials": creds,
                 "settings": {"max_inflight": "0"}})[0] == 422
    status, body, _ = call(a, "PATCH", "/v1/admin/destinations/%s" % dst, acme,
                           {"settings": {"max_inflight": "3"}})
    assert status == 200 and body["settings"]["max_inflight"] == 3
    assert call(a, "PATCH", "/v1/admin/destinations/%s" % s.dest2, acme,
                {"settings": {"max_inflight": "3"}})[0] == 404
    assert call(a, "POST", "/v1/admin/destinations/%s/test" % s.dest2, acme, {})[0] == 404
    # test: one synthetic purchase in test mode, as `adsengctl destination test`
    status, body, _ = call(a, "POST", "/v1/admin/destinations/%s/test" % s.dest_id, acme, {})
    assert status == 422 and "test event code" in body["detail"], body
    status, body, _ = call(a, "POST", "/v1/admin/destinations/%s/test" % s.dest_id, acme,
                           {"test_event_code": "TEST4242"})
    assert status == 200 and body["outcome"] == "delivered", body
    assert audit(s, "destination.test") == ["agency-bot"]
    status, body, _ = call(a, "POST", "/v1/admin/destinations/%s/disable" % dst, acme)
    assert status == 200 and body["enabled"] is False
    assert body["paused_reason"] == "disabled by agency-bot"
    assert call(a, "POST", "/v1/admin/destinations/%s/resume" % dst, acme)[1]["enabled"] is True
    assert audit(s, "destination.add")[-1] == "agency-bot"
    assert audit(s, "destination.update") == ["agency-bot"]

    # routes: both ends must be the token's
    assert call(a, "POST", "/v1/admin/routes", acme,
                {"source_id": src, "destination_id": s.dest2})[0] == 404
    assert call(a, "POST", "/v1/admin/routes", admin,
                {"source_id": src, "destination_id": s.dest2})[0] == 422
    status, body, _ = call(a, "POST", "/v1/admin/routes", acme,
                           {"source_id": src, "destination_id": dst, "events": ["purchase"]})
    assert status == 201 and body["created"] is True and body["events"] == ["purchase"]
    assert call(a, "POST", "/v1/admin/routes", acme,
                {"source_id": src, "destination_id": dst, "events": 7})[0] == 400
    routes = items(call(a, "GET", "/v1/admin/routes", acme)[1])
    assert {(r["source_id"], r["destination_id"]) for r in routes} == {
        (s.source_id, s.dest_id), (src, dst)}
    assert call(a, "DELETE", "/v1/admin/routes/%s/%s" % (s.source2, s.dest2), acme)[0] == 404
    status, body, _ = call(a, "DELETE", "/v1/admin/routes/%s/%s" % (src, dst), acme)
    assert status == 200 and body["deleted"] is True
    assert call(a, "DELETE", "/v1/admin/routes/%s/%s" % (src, dst), acme)[0] == 404
    assert call(a, "DELETE", "/v1/admin/routes/%s/%s" % (s.source2, s.dest2), admin)[0] == 200
    assert audit(s, "route.delete") == ["agency-bot", "ops-alice"]


def test_conversions_and_replay(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    admin = token(s, "--role", "admin", "--sub", "ops-alice")
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot")
    acme_d, globex_d = deliver_one_each(s)
    convs = items(call(a, "GET", "/v1/admin/conversions", acme)[1])
    assert [c["source_id"] for c in convs] == [s.source_id] and "payload" not in convs[0]
    assert len(items(call(a, "GET", "/v1/admin/conversions", admin)[1])) == 2
    q = "/v1/admin/conversions?source=%s&event=purchase&since=2000-01-01T00:00:00Z" % s.source2
    assert [c["source_id"] for c in items(call(a, "GET", q, admin)[1])] == [s.source2]
    assert items(call(a, "GET", q, acme)[1]) == []
    assert items(call(a, "GET", "/v1/admin/conversions?event=refund", admin)[1]) == []
    assert items(call(a, "GET", "/v1/admin/conversions?until=2000-01-01T00:00:00Z",
                      admin)[1]) == []
    assert call(a, "GET", "/v1/admin/conversions?since=yesterday", admin)[1]["detail"] \
        .startswith("since")

    # both deliveries failed; the agency's replay moves its own only
    s.sql("UPDATE deliveries SET state = 'failed'")
    status, body, _ = call(a, "POST", "/v1/admin/replay", acme, {"dry_run": True})
    assert status == 200 and body["dry_run"] is True and body["count"] == 1
    assert s.count("deliveries", "state = 'failed'") == 2
    # naming another tenant's delivery does not reach it, nor show its state
    status, body, _ = call(a, "POST", "/v1/admin/replay", acme, {"ids": [globex_d]})
    assert status == 200 and body["count"] == 0
    assert body["ids"][0]["reason"] == "no such delivery" and body["ids"][0]["state"] is None
    assert call(a, "POST", "/v1/admin/replay", acme, {"tenant": 1})[0] == 400
    assert call(a, "POST", "/v1/admin/replay", acme, {"destination": s.dest2})[0] == 404
    assert call(a, "POST", "/v1/admin/replay", acme, {"state": "pending"})[0] == 400
    status, body, _ = call(a, "POST", "/v1/admin/replay", acme, {"state": ["failed"]})
    assert status == 200 and body["count"] == 1
    wait_until(lambda: s.scalar("SELECT state FROM deliveries WHERE id = %d" % acme_d)
               == "delivered", timeout=30, what="the replayed delivery delivered")
    assert s.scalar("SELECT state FROM deliveries WHERE id = %d" % globex_d) == "failed"
    # the admin's, narrowed to a destination
    status, body, _ = call(a, "POST", "/v1/admin/replay", admin, {"destination": s.dest2})
    assert status == 200 and body["count"] == 1
    assert audit(s, "replay") == ["agency-bot", "agency-bot", "ops-alice"]


def test_pagination(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    admin = token(s, "--role", "admin", "--sub", "ops")
    for i in range(9):
        assert call(a, "POST", "/v1/admin/tenants", admin, {"name": "t%02d" % i})[0] == 201
    want = sorted(int(r[0]) for r in s.sql("SELECT id FROM tenants"))
    assert len(want) == 11
    seen, cursor, pages = [], None, 0
    while True:
        path = "/v1/admin/tenants?limit=3" + ("&cursor=" + cursor if cursor else "")
        status, body, _ = call(a, "GET", path, admin)
        assert status == 200 and len(body["items"]) <= 3
        seen += [t["id"] for t in body["items"]]
        pages += 1
        # a row added between pages is neither repeated nor hides another
        if pages == 2:
            assert call(a, "POST", "/v1/admin/tenants", admin, {"name": "late"})[0] == 201
            want.append(int(s.scalar("SELECT id FROM tenants WHERE name = 'late'")))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == want and pages == 4
    # a cursor of one list is refused by another
    first = call(a, "GET", "/v1/admin/tenants?limit=1", admin)[1]["next_cursor"]
    assert call(a, "GET", "/v1/admin/sources?cursor=" + first, admin)[0] == 400
    # routes (a two-part key) and deliveries (newest first) page too
    for i in range(3):
        assert s.post_shopify(shopify_order(order_id=4000 + i))[0] == 200
    wait_until(lambda: s.count("deliveries") == 3, timeout=30, what="three deliveries")
    ids, cursor = [], None
    while True:
        body = call(a, "GET", "/v1/admin/deliveries?limit=2" +
                    ("&cursor=" + cursor if cursor else ""), admin)[1]
        ids += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert ids == sorted((int(r[0]) for r in s.sql("SELECT id FROM deliveries")), reverse=True)
    body = call(a, "GET", "/v1/admin/routes?limit=1", admin)[1]
    rest = call(a, "GET", "/v1/admin/routes?limit=5&cursor=" + body["next_cursor"], admin)[1]
    assert len(body["items"]) == 1 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert body["items"][0]["source_id"] != rest["items"][0]["source_id"]


def test_rate_limit(make_stack, tmp_path):
    s = admin_stack(lambda **kw: make_stack(ratelimit__admin_rate=1, ratelimit__admin_burst=3,
                                            **kw), tmp_path)
    a = s.admin
    tok = token(s, "--role", "admin", "--sub", "busy")
    other = token(s, "--role", "admin", "--sub", "calm")
    codes = [call(a, "GET", "/v1/admin/stats", tok) for _ in range(5)]
    assert [c[0] for c in codes[:3]] == [200, 200, 200]
    limited = [c for c in codes if c[0] == 429]
    assert limited, [c[0] for c in codes]
    status, body, hdrs = limited[0]
    assert body["error"] == "rate_limited" and int(hdrs["Retry-After"]) >= 1
    # another token has its own bucket
    assert call(a, "GET", "/v1/admin/stats", other)[0] == 200
    # and the first recovers once a token is back
    time.sleep(int(hdrs["Retry-After"]) + 0.2)
    assert call(a, "GET", "/v1/admin/stats", tok)[0] == 200


def test_plan_change_releases_quota_holds(make_stack, tmp_path):
    s = admin_stack(lambda **kw: make_stack(plans__quotas="starter:1, professional:0", **kw),
                    tmp_path)
    a = s.admin
    admin = token(s, "--role", "admin", "--sub", "ops-alice")
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot")
    for i in range(3):
        assert s.post_shopify(shopify_order(order_id=5000 + i))[0] == 200
    held = lambda: s.count("deliveries", "state = 'held' AND hold_reason = 'quota'")
    wait_until(lambda: held() == 2, timeout=30, what="2 held for quota")
    # stats show usage against quota; an agency token its own tenant's only
    usage = call(a, "GET", "/v1/admin/stats", acme)[1]["usage"]
    assert [(u["tenant"], u["quota"], u["held"]) for u in usage] == [("acme", 1, 2)]
    assert {u["tenant"] for u in call(a, "GET", "/v1/admin/stats", admin)[1]["usage"]} == {
        "acme", "globex"}
    acme_id = int(s.scalar("SELECT id FROM tenants WHERE name = 'acme'"))
    status, body, _ = call(a, "PATCH", "/v1/admin/tenants/%d" % acme_id, admin,
                           {"plan": "professional"})
    assert status == 200 and body["plan"] == "professional" and body["released"] == 2
    assert held() == 0
    wait_until(lambda: s.count("deliveries", "state = 'delivered'") == 3, timeout=30,
               what="the released deliveries delivered")
    assert "ops-alice" in audit(s, "quota.release")
