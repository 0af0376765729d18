"""Admin API (issue 10, first slice): JWT bearer tokens from `adsengctl
token create`, the read-only /v1/admin/ routes on [server] admin_listen,
tenant scoping (an agency token sees its tenant only, another tenant's
delivery is 404), and the same JSON as `adsengctl ... --json`."""

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request

import harness
from harness import shopify_order, wait_until

JWT_SECRET = "admin-api-test-secret-0123456789abcdef"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hand_token(header, payload, secret=JWT_SECRET):
    """A token we sign ourselves (to reach the checks behind the MAC)."""
    text = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return text + "." + b64url(mac)


class Admin:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def get(self, path, token=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base + path, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def admin_stack(make_stack, tmp_path):
    secret = os.path.join(str(tmp_path), "jwt.secret")
    with open(secret, "w") as f:
        f.write(JWT_SECRET + "\n")
    port = harness.free_port()
    s = make_stack(server__admin_listen="127.0.0.1:%d" % port,
                   security__jwt_secret_file=secret)
    s.setup_demo()
    # A second tenant with its own source, destination and route.
    creds = os.path.join(s.dir, "meta2.json")
    with open(creds, "w") as f:
        json.dump({"access_token": s.TOKEN}, f)
    sec = os.path.join(s.dir, "shopify2.secret")
    with open(sec, "w") as f:
        f.write(s.SECRET + "\n")
    s.ctl("tenant", "add", "globex")
    s.source2 = s.ctl("source", "add", "--tenant", "globex", "--kind", "shopify", "--name",
                      "shop2", "--secret-file", sec, json_out=True)["id"]
    s.dest2 = s.ctl("destination", "add", "--tenant", "globex", "--kind", "meta_capi",
                    "--name", "pixel2", "--pixel-id", s.PIXEL, "--credentials-file", creds,
                    json_out=True)["id"]
    s.ctl("route", "add", s.source2, s.dest2)
    s.start()
    s.admin = Admin(port)
    return s


def token(s, *args):
    p = s.ctl("token", "create", *args)
    return p.stdout.strip()


def items(page):
    """The rows of a list answer, checking its shape."""
    assert set(page) == {"items", "next_cursor"}, page
    return page["items"]


def same_rows(api, cli, key="id", extra=()):
    """The API's page holds the CLI's rows (the API orders by key and may
    add the fields in extra)."""
    strip = [{k: v for k, v in r.items() if k not in extra} for r in api]
    by = lambda r: (r[key], r.get("destination_id", ""))
    return sorted(strip, key=by) == sorted(cli, key=by)


def deliver_one_each(s):
    assert s.post_shopify(shopify_order(order_id=1001))[0] == 200
    assert s.post_shopify(shopify_order(order_id=1002), source_id=s.source2)[0] == 200
    wait_until(lambda: s.count("deliveries", "state = 'delivered'") == 2, timeout=30,
               what="both deliveries delivered")
    acme = s.scalar("SELECT d.id FROM deliveries d JOIN tenants t ON t.id = d.tenant_id"
                    " WHERE t.name = 'acme'")
    globex = s.scalar("SELECT d.id FROM deliveries d JOIN tenants t ON t.id = d.tenant_id"
                      " WHERE t.name = 'globex'")
    return int(acme), int(globex)


def test_auth_refusals(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    status, body = a.get("/v1/admin/sources")
    assert status == 401 and body["error"] == "unauthorized" and "detail" in body
    assert a.get("/v1/admin/sources", "not.a.token")[0] == 401
    assert a.get("/v1/admin/sources", headers={"Authorization": "Basic Zm9vOmJhcg=="})[0] == 401
    now = int(time.time())
    claims = {"sub": "mallory", "role": "admin", "exp": now + 3600}
    # alg none, with and without a signature
    none = b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(claims).encode()) + "."
    status, body = a.get("/v1/admin/tenants", none)
    assert status == 401
    status, body = a.get("/v1/admin/tenants", hand_token({"alg": "none"}, claims))
    assert status == 401 and "HS256" in body["detail"]
    # HS512 claimed, signed with the right key as HS256
    assert a.get("/v1/admin/tenants", hand_token({"alg": "HS512"}, claims))[0] == 401
    # another key
    assert a.get("/v1/admin/tenants",
                 hand_token({"alg": "HS256"}, claims, secret="x" * 40))[0] == 401
    # expired, and without exp
    old = dict(claims, exp=now - 600)
    status, body = a.get("/v1/admin/tenants", hand_token({"alg": "HS256"}, old))
    assert status == 401 and "expired" in body["detail"]
    noexp = {"sub": "x", "role": "admin"}
    assert a.get("/v1/admin/tenants", hand_token({"alg": "HS256"}, noexp))[0] == 401
    # the same claims, well signed, pass: the refusals above were for cause
    assert a.get("/v1/admin/tenants", hand_token({"alg": "HS256"}, claims))[0] == 200
    # the public listener does not serve the admin API
    assert s.http("GET", "/v1/admin/tenants")[0] == 404
    # unknown route, wrong method
    tok = token(s, "--role", "admin")
    assert a.get("/v1/admin/nothing", tok)[0] == 404
    # many at once: all answered by the one worker, none lost
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(lambda _: a.get("/v1/admin/stats", tok)[0], range(48)))
    assert set(codes) <= {200, 503} and codes.count(200) >= 16, codes
    assert "token" not in s.logs().lower() or tok not in s.logs()


def test_scoping_and_cli_parity(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    acme_d, globex_d = deliver_one_each(s)
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot", "--ttl", "1h")
    admin = token(s, "--role", "admin", "--sub", "ops")
    info = s.ctl("token", "create", "--tenant", "globex", json_out=True)
    assert info["role"] == "agency" and info["tenant"] > 0 and info["token"].count(".") == 2

    # agency: its own tenant only
    status, body = a.get("/v1/admin/sources", acme)
    assert status == 200
    assert same_rows(items(body), s.ctl("source", "list", "--tenant", "acme", json_out=True),
                     extra=("settings",))
    assert [x["id"] for x in items(body)] == [s.source_id]
    status, body = a.get("/v1/admin/destinations", acme)
    assert same_rows(items(body),
                     s.ctl("destination", "list", "--tenant", "acme", json_out=True))
    assert [x["id"] for x in items(body)] == [s.dest_id]
    status, body = a.get("/v1/admin/routes", acme)
    assert same_rows(items(body), s.ctl("route", "list", "--tenant", "acme", json_out=True),
                     key="source_id")
    status, body = a.get("/v1/admin/deliveries", acme)
    assert status == 200 and [x["id"] for x in items(body)] == [acme_d]
    assert items(body) == s.ctl("deliveries", "list", "--tenant", "acme", json_out=True)
    # asking for another tenant does not widen it
    gid = s.scalar("SELECT id FROM tenants WHERE name = 'globex'")
    assert items(a.get("/v1/admin/deliveries?tenant=%s" % gid, acme)[1]) == []
    status, body = a.get("/v1/admin/deliveries/%d" % acme_d, acme)
    assert status == 200
    assert body == s.ctl("deliveries", "show", str(acme_d), json_out=True)
    status, body = a.get("/v1/admin/deliveries/%d" % globex_d, acme)
    assert status == 404 and body["error"] == "not_found"
    status, body = a.get("/v1/admin/tenants", acme)
    assert status == 403
    status, body = a.get("/v1/admin/stats", acme)
    assert status == 200 and [d["id"] for d in body["destinations"]] == [s.dest_id]
    assert "raw_events" not in body

    # admin: everything, and the CLI's JSON
    status, body = a.get("/v1/admin/tenants", admin)
    assert status == 200
    assert same_rows(items(body), s.ctl("tenant", "list", json_out=True), extra=("disabled",))
    assert sorted(t["name"] for t in items(body)) == ["acme", "globex"]
    status, body = a.get("/v1/admin/deliveries", admin)
    assert sorted(x["id"] for x in items(body)) == sorted([acme_d, globex_d])
    assert items(body) == s.ctl("deliveries", "list", json_out=True)
    status, body = a.get("/v1/admin/deliveries?state=delivered&destination=%s" % s.dest2, admin)
    assert [x["id"] for x in items(body)] == [globex_d]
    assert a.get("/v1/admin/deliveries?state=bogus", admin)[0] == 400
    status, body = a.get("/v1/admin/deliveries/%d" % globex_d, admin)
    assert status == 200 and body["delivery"]["id"] == globex_d
    assert a.get("/v1/admin/deliveries/999999", admin)[0] == 404
    status, body = a.get("/v1/admin/sources?tenant=%s" % gid, admin)
    assert [x["id"] for x in items(body)] == [s.source2]
    status, body = a.get("/v1/admin/stats", admin)
    assert status == 200 and len(body["destinations"]) == 2 and "raw_events" in body
    # the request is logged with the token's subject, never the token
    log = s.logs()
    assert 'sub="agency-bot"' in log and acme not in log and admin not in log


def post(a, path, tok, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(a.base + path, data=data, method="POST",
                                 headers={"Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_pause_resume(make_stack, tmp_path):
    s = admin_stack(make_stack, tmp_path)
    a = s.admin
    acme = token(s, "--tenant", "acme", "--sub", "agency-bot")
    admin = token(s, "--role", "admin", "--sub", "ops-alice")
    # another tenant's destination is not there for an agency token
    status, body = post(a, "/v1/admin/destinations/%s/pause" % s.dest2, acme)
    assert status == 404
    assert s.scalar("SELECT enabled FROM destinations WHERE id = '%s'" % s.dest2) == "t"
    # GET is not how to change things
    assert a.get("/v1/admin/destinations/%s/pause" % s.dest_id, acme)[0] == 405
    assert post(a, "/v1/admin/destinations/%s/pause" % s.dest_id, acme,
                {"reason": 7})[0] == 400
    status, body = post(a, "/v1/admin/destinations/%s/pause" % s.dest_id, acme,
                        {"reason": "campaign over"})
    assert status == 200 and body["id"] == s.dest_id and body["name"] == "pixel1"
    assert body["held"] == 0 and body["enabled"] is False
    assert s.scalar("SELECT paused_reason FROM destinations WHERE id = '%s'"
                    % s.dest_id) == "campaign over"
    # held while paused, released on resume by the admin
    assert s.post_shopify(shopify_order(order_id=2001))[0] == 200
    wait_until(lambda: s.count("deliveries", "state = 'held'") == 1, timeout=30,
               what="the delivery held")
    status, body = post(a, "/v1/admin/destinations/%s/resume" % s.dest_id, admin)
    assert status == 200 and body["released"] == 1
    wait_until(lambda: s.count("deliveries", "state = 'delivered'") == 1, timeout=30,
               what="the released delivery delivered")
    actors = [r[0] for r in s.sql("SELECT actor || ' ' || action FROM audit_log"
                   " WHERE action LIKE 'destination.%' ORDER BY id")]
    assert "agency-bot destination.pause" in actors
    assert "ops-alice destination.resume" in actors
    assert post(a, "/v1/admin/destinations/%s/frobnicate" % s.dest_id, admin)[0] == 404
