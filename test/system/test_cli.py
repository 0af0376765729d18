"""test_cli.py - adsengctl against a real PostgreSQL (DESIGN §4 "CLI").

The binaries (ADSENG_BIN_DIR) and the private PostgreSQL cluster come from
the shared harness (conftest.py); this module owns one database of it,
created empty at the start of the module.

The tests run in file order and share one catalog (tenants, sources,
destinations) built by the early ones; deliveries are inserted with SQL.
Every output of adsengctl is recorded so the last test can check that no
secret ever reached stdout or stderr.
"""

import json
import os
import re
import stat
import subprocess
from datetime import datetime, timezone

import pytest

# ---- discovery: binaries and database ---------------------------------------
# The binaries and the cluster come from the shared harness (conftest.py):
# ADSENG_BIN_DIR names the build, and this module gets a fresh empty
# database of the session's private cluster.

import harness  # noqa: E402


@pytest.fixture(scope="module")
def bin_dir():
    path = os.path.join(harness.BIN_DIR, "adsengctl")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no adsengctl in {harness.BIN_DIR} (set ADSENG_BIN_DIR)")
    return harness.BIN_DIR


@pytest.fixture(scope="module")
def db_url(cluster):
    name = "cli_test"
    cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    cluster.psql(f"CREATE DATABASE {name}")
    return cluster.url(name)


# ---- helpers -------------------------------------------------------------------

SHOP_SECRET = "shpss_5ecr3t-Do-Not-Print-7f3a9c"
META_TOKEN = "EAAGtoken-N3ver-In-Clear-91b2c3d4"
ACTOR = "pytest-admin"


class Env:
    """A master key, a config file, and a log of everything adsengctl said."""

    def __init__(self, bin_dir, db_url, tmp):
        self.ctl_path = os.path.join(bin_dir, "adsengctl")
        self.db_url = db_url
        self.tmp = tmp
        self.outputs = []
        self.key = str(tmp / "master.key")
        self.conf = str(tmp / "adsengd.conf")

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("ADSENGD_")}
        e.pop("SUDO_USER", None)
        e["USER"] = ACTOR
        # ASan: report leaks, and fail the process on one.
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        e.update(extra)
        return e

    def run(self, *args, expect=0, env=None, config=True):
        argv = [self.ctl_path] + (["-c", self.conf] if config else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, env=env or self.env(),
                           timeout=60)
        self.outputs.append((argv, p.stdout, p.stderr))
        if expect is not None:
            assert p.returncode == expect, (
                f"{' '.join(args)}: exit {p.returncode}, want {expect}\n"
                f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args, "--json").stdout)

    def sql(self, query):
        p = subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                            self.db_url, "-c", query], check=True, capture_output=True,
                           text=True)
        return p.stdout.strip()

    def write(self, name, text, mode=0o600):
        path = self.tmp / name
        path.write_text(text)
        path.chmod(mode)
        return str(path)


@pytest.fixture(scope="module")
def env(bin_dir, db_url, tmp_path_factory):
    e = Env(bin_dir, db_url, tmp_path_factory.mktemp("cli"))
    with open(e.conf, "w") as f:
        f.write("[server]\npublic_url = https://track.example.com/\n"
                f"[database]\nurl = {db_url}\n"
                f"[security]\nmaster_key_file = {e.key}\n")
    e.run("keygen", e.key, config=False)
    return e


@pytest.fixture(scope="module")
def catalog(env):
    """The tenants, sources, destinations and routes the later tests use."""
    env.run("migrate")
    c = {}
    c["acme"] = int(env.run("tenant", "add", "acme", "--plan", "professional").stdout)
    c["beta"] = int(env.run("tenant", "add", "beta").stdout)
    secret = env.write("shop.secret", SHOP_SECRET + "\n\n")
    out = env.run("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", "shop1",
                  "--secret-file", secret).stdout
    c["shop1"] = re.search(r"^id (\S+)$", out, re.M).group(1)
    out = env.json("source", "add", "--tenant", str(c["beta"]), "--kind", "shopify",
                   "--name", "beta-shop", "--secret-file", secret)
    c["beta_shop"] = out["id"]
    creds = env.write("meta.json", json.dumps({"access_token": META_TOKEN}) + "\n")
    c["meta1"] = env.run("destination", "add", "--tenant", "acme", "--kind", "meta_capi",
                         "--name", "meta1", "--credentials-file", creds, "--pixel-id",
                         "1234567890", "--test-mode", "--test-event-code", "TEST123").stdout.strip()
    c["meta2"] = env.run("destination", "add", "--tenant", "acme", "--kind", "meta_capi",
                         "--name", "meta2", "--credentials-file", creds, "--pixel-id",
                         "42", "--test-mode", "--test-event-code", "TEST42").stdout.strip()
    c["beta_meta"] = env.run("destination", "add", "--tenant", "beta", "--kind", "meta_capi",
                             "--name", "beta-meta", "--credentials-file", creds,
                             "--pixel-id", "7").stdout.strip()
    return c


_event_seq = [0]


def add_delivery(env, catalog, dest, state, last_error=None, attempts=3):
    """Insert a conversion of shop1 and one delivery of it; returns its id."""
    _event_seq[0] += 1
    n = _event_seq[0]
    err = "NULL" if last_error is None else "'" + last_error.replace("'", "''") + "'"
    return int(env.sql(
        "WITH c AS (INSERT INTO conversions (tenant_id, source_id, event, event_id,"
        " occurred_at, value, currency, payload) VALUES"
        f" ({catalog['acme']}, '{catalog['shop1']}', 'purchase', 'shopify:order:{n}',"
        f" now(), 19.90, 'EUR', '{{\"event\":\"purchase\",\"value\":\"19.90\",\"n\":{n}}}')"
        " RETURNING id)"
        " INSERT INTO deliveries (conversion_id, destination_id, tenant_id, state, attempts,"
        f" lease_until, last_status, last_error) SELECT c.id, '{dest}', {catalog['acme']},"
        f" '{state}', {attempts}, CASE WHEN '{state}' = 'in_flight' THEN now() END, 400,"
        f" {err} FROM c RETURNING id"))


def states(env, ids):
    rows = env.sql("SELECT id, state FROM deliveries WHERE id IN (%s)"
                   % ",".join(str(i) for i in ids))
    return {int(r.split("|")[0]): r.split("|")[1] for r in rows.splitlines()}


# ---- usage and help ----------------------------------------------------------------


COMMANDS = [["migrate"], ["tenant", "add"], ["tenant", "list"], ["source", "add"],
            ["source", "list"], ["source", "disable"], ["source", "enable"],
            ["destination", "add"], ["destination", "list"], ["destination", "pause"],
            ["destination", "resume"], ["route", "add"], ["route", "list"],
            ["deliveries", "list"], ["deliveries", "show"], ["replay"], ["stats"],
            ["reprocess"], ["config", "show"], ["config", "example"], ["keygen"]]


def test_help_everywhere(env):
    p = env.run("--help", config=False)
    assert p.stdout.startswith("usage: adsengctl [-c FILE] [--json] COMMAND")
    for words in COMMANDS:
        p = env.run(*words, "--help", config=False)
        assert p.stdout.startswith("usage: adsengctl " + " ".join(words)), words
        p = env.run(*words, "-h", config=False)
        assert "-h, --help" in p.stdout


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["tenant"], ["tenant", "bogus"], ["tenant", "add"],
    ["tenant", "add", "x", "--plan", "gold"], ["tenant", "add", "x", "--nope"],
    ["source", "add", "--tenant", "acme"],
    ["source", "add", "--tenant", "acme", "--kind", "nope", "--name", "n",
     "--secret-file", "/dev/null"],
    ["destination", "pause"], ["route", "add", "a"],
    ["route", "add", "a", "b", "--events", "Purchase!"],
    ["deliveries", "list", "--limit", "x"], ["deliveries", "list", "--since", "soon"],
    ["deliveries", "show", "abc"], ["replay", "--state", "pending"],
    ["replay", "--state", "delivered"], ["replay", "--id", "abc"],
    ["config", "show", "--json"], ["keygen"], ["--bogus", "stats"], ["-c"],
    ["reprocess"], ["reprocess", "--source", "shop1"], ["deliveries", "list", "--state", "skip"],
])
def test_usage_errors_exit_2(env, args):
    p = env.run(*args, expect=2, config=False)
    assert p.stderr.startswith("adsengctl: ")
    assert "usage: adsengctl" in p.stderr
    assert p.stdout == ""


def test_keygen(env):
    mode = stat.S_IMODE(os.stat(env.key).st_mode)
    assert mode == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}\n", open(env.key).read())
    p = env.run("keygen", env.key, expect=1, config=False)
    assert p.stderr.startswith("adsengctl: could not create key file")


def test_database_unreachable(env):
    bad = "postgresql://nobody@/nodb?host=/nonexistent-socket-dir"
    p = env.run("tenant", "list", config=False, expect=1,
                env=env.env(ADSENGD_DATABASE_URL=bad))
    assert p.stderr.startswith("adsengctl: could not connect to database: ")
    assert "nonexistent-socket-dir" in p.stderr


def test_config_show_and_example(env):
    p = env.run("config", "show")
    assert "public_url = https://track.example.com" in p.stdout
    assert env.db_url not in p.stdout  # [database] url is secret
    assert "<redacted>" in p.stdout
    p = env.run("config", "show", "--show-secrets")
    assert env.db_url in p.stdout
    p = env.run("config", "example", config=False)
    assert "[database]" in p.stdout and "ADSENGD_" in p.stdout


# ---- migrate ----------------------------------------------------------------------


def test_migrate_twice(env):
    p = env.run("migrate")
    m = re.fullmatch(r"applied (\d+) migrations? \(schema version (\d+)\)\n", p.stdout)
    assert m, p.stdout
    assert int(m.group(1)) >= 1
    version = int(m.group(2))
    p = env.run("migrate")
    assert p.stdout == f"applied 0 migrations (schema version {version})\n"
    assert p.stderr == ""  # no NOTICE chatter
    assert env.json("migrate") == {"applied": 0, "schema_version": version}


# ---- catalog ---------------------------------------------------------------------


def test_tenants(env, catalog):
    assert catalog["acme"] > 0 and catalog["beta"] > catalog["acme"]
    out = env.json("tenant", "add", "gamma", "--quota", "5000")
    assert out["name"] == "gamma" and isinstance(out["id"], int)
    p = env.run("tenant", "add", "acme", expect=1)
    assert p.stderr == 'adsengctl: tenant "acme" already exists\n'
    rows = env.json("tenant", "list")
    by_name = {r["name"]: r for r in rows}
    assert by_name["acme"]["plan"] == "professional"
    assert by_name["gamma"]["monthly_quota"] == 5000
    assert by_name["beta"]["monthly_quota"] is None
    assert by_name["acme"]["sources"] == 1 and by_name["acme"]["destinations"] == 2
    # --json accepted before the command too.
    assert json.loads(env.run("--json", "tenant", "list").stdout) == rows
    text = env.run("tenant", "list").stdout.splitlines()
    assert text[0].split() == ["ID", "NAME", "PLAN", "STATUS", "QUOTA", "SOURCES",
                               "DESTINATIONS", "CREATED"]
    assert len(text) == 1 + len(rows)


def test_unknown_tenant_exit_1(env, catalog):
    secret = env.write("x.secret", "whatever")
    p = env.run("source", "add", "--tenant", "nope", "--kind", "shopify", "--name", "x",
                "--secret-file", secret, expect=1)
    assert p.stderr == 'adsengctl: no tenant named "nope"\n'
    p = env.run("source", "list", "--tenant", "999999", expect=1)
    assert "no tenant with id 999999" in p.stderr
    p = env.run("destination", "pause", "no-such-dest", expect=1)
    assert p.stderr == 'adsengctl: no destination named "no-such-dest"\n'
    p = env.run("deliveries", "list", "--destination",
                "00000000-0000-4000-8000-000000000000", expect=1)
    assert "no destination with id 00000000-0000-4000-8000-000000000000" in p.stderr


def test_sources(env, catalog):
    sid = catalog["shop1"]
    out = env.outputs
    added = [o for o in out if "--name" in o[0] and "shop1" in o[0]][0][1]
    assert added == (f"id {sid}\n"
                     f"webhook_url https://track.example.com/v1/webhooks/shopify/{sid}\n")
    rows = env.json("source", "list")
    assert {r["name"] for r in rows} == {"shop1", "beta-shop"}
    for r in rows:
        assert "secret" not in r
        assert r["webhook_url"].endswith(f"/v1/webhooks/shopify/{r['id']}")
    assert [r["name"] for r in env.json("source", "list", "--tenant", "beta")] == ["beta-shop"]
    # Environment overrides apply on top of the file.
    p = env.run("source", "list", env=env.env(ADSENGD_SERVER_PUBLIC_URL="https://x.test"))
    assert "https://x.test/v1/webhooks/shopify/" in p.stdout
    # Sealed, never in the clear: version byte, 24-byte nonce, text, 16-byte tag.
    assert env.sql(f"SELECT length(secret) FROM sources WHERE id = '{sid}'") == str(
        1 + 24 + len(SHOP_SECRET) + 16)
    assert env.sql("SELECT count(*) FROM sources WHERE position("
                   f"convert_to('{SHOP_SECRET}', 'UTF8') IN secret) > 0") == "0"


def test_source_errors(env, catalog):
    empty = env.write("empty.secret", " \n\n")
    p = env.run("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", "e",
                "--secret-file", empty, expect=1)
    assert p.stderr == f'adsengctl: file "{empty}" is empty\n'
    p = env.run("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", "m",
                "--secret-file", str(env.tmp / "missing"), expect=1)
    assert "could not open file" in p.stderr
    secret = env.write("dup.secret", "x")
    p = env.run("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", "shop1",
                "--secret-file", secret, expect=1)
    assert 'already has a source named "shop1"' in p.stderr


def test_source_disable_enable(env, catalog):
    p = env.run("source", "disable", "shop1")
    assert p.stdout == f'disabled source "shop1" ({catalog["shop1"]})\n'
    assert env.sql(f"SELECT enabled FROM sources WHERE id = '{catalog['shop1']}'") == "f"
    out = env.json("source", "enable", catalog["shop1"])
    assert out == {"id": catalog["shop1"], "name": "shop1", "enabled": True}
    assert env.sql(f"SELECT enabled FROM sources WHERE id = '{catalog['shop1']}'") == "t"


def test_destinations(env, catalog):
    rows = env.json("destination", "list", "--tenant", "acme")
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"meta1", "meta2"}
    assert by_name["meta1"]["settings"] == {"pixel_id": "1234567890",
                                            "test_event_code": "TEST123"}
    assert by_name["meta2"]["test_mode"] is True
    assert by_name["meta1"]["enabled"] is True and by_name["meta1"]["paused_reason"] is None
    for r in rows:
        assert "credentials" not in r
    assert env.sql("SELECT count(*) FROM destinations WHERE position("
                   f"convert_to('{META_TOKEN}', 'UTF8') IN credentials) > 0") == "0"
    text = env.run("destination", "list").stdout.splitlines()
    assert text[0].split() == ["ID", "TENANT", "KIND", "NAME", "ENABLED", "TEST",
                               "PAUSED_REASON"]


def test_destination_add_refused(env, catalog):
    creds = env.write("meta-ok.json", json.dumps({"access_token": META_TOKEN}))
    p = env.run("destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name",
                "nopixel", "--credentials-file", creds, expect=1)
    assert "pixel_id" in p.stderr
    bad = env.write("bad.json", "access_token=" + META_TOKEN)
    p = env.run("destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name",
                "badjson", "--credentials-file", bad, "--pixel-id", "1", expect=1)
    assert p.stderr == f'adsengctl: credentials file "{bad}" is not a JSON object\n'
    notoken = env.write("notoken.json", "{}")
    p = env.run("destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name",
                "notoken", "--credentials-file", notoken, "--pixel-id", "1", expect=1)
    assert "access_token" in p.stderr
    p = env.run("destination", "add", "--tenant", "acme", "--kind", "nope", "--name", "n",
                "--credentials-file", creds, expect=2)
    assert 'unknown destination kind "nope"' in p.stderr
    assert env.sql("SELECT count(*) FROM destinations WHERE name IN"
                   " ('nopixel', 'badjson', 'notoken', 'n')") == "0"


def test_routes(env, catalog):
    p = env.run("route", "add", "shop1", "meta1", "--events", "purchase, lead,purchase")
    assert p.stdout == 'added route "shop1" -> "meta1" (events: purchase,lead)\n'
    out = env.json("route", "add", catalog["shop1"], catalog["meta2"])
    assert out == {"source_id": catalog["shop1"], "destination_id": catalog["meta2"],
                   "events": None, "created": True}
    out = env.json("route", "add", "shop1", "meta2", "--events", "purchase")
    assert out["created"] is False and out["events"] == ["purchase"]
    p = env.run("route", "add", "shop1", "beta-meta", expect=1)
    assert "belongs to tenant \"acme\"" in p.stderr and "tenant \"beta\"" in p.stderr
    rows = env.json("route", "list")
    assert {(r["source"], r["destination"]): r["events"] for r in rows} == {
        ("shop1", "meta1"): ["purchase", "lead"], ("shop1", "meta2"): ["purchase"]}
    assert env.sql("SELECT events FROM routes WHERE destination_id = "
                   f"'{catalog['meta1']}'") == "{purchase,lead}"


# ---- deliveries -------------------------------------------------------------------


def test_pause_resume(env, catalog):
    d = catalog["meta1"]
    ids = {s: add_delivery(env, catalog, d, s) for s in
           ("pending", "failed", "delivered", "in_flight")}
    other = add_delivery(env, catalog, catalog["meta2"], "pending")
    p = env.run("destination", "pause", "meta1", "--reason", "token expired")
    assert p.stdout == (f'paused destination "meta1" ({d}): 1 pending deliveries held\n')
    assert env.sql(f"SELECT enabled, paused_reason FROM destinations WHERE id = '{d}'") == \
        "f|token expired"
    got = states(env, list(ids.values()) + [other])
    assert got == {ids["pending"]: "held", ids["failed"]: "failed",
                   ids["delivered"]: "delivered", ids["in_flight"]: "in_flight",
                   other: "pending"}
    row = [r for r in env.json("destination", "list") if r["id"] == d][0]
    assert row["enabled"] is False and row["paused_reason"] == "token expired"

    env.sql(f"UPDATE deliveries SET next_attempt_at = now() + interval '1 day'"
            f" WHERE id = {ids['pending']}")
    out = env.json("destination", "resume", d)
    assert out == {"id": d, "name": "meta1", "released": 1}
    assert env.sql(f"SELECT enabled, paused_reason IS NULL FROM destinations"
                   f" WHERE id = '{d}'") == "t|t"
    assert states(env, [ids["pending"]]) == {ids["pending"]: "pending"}
    assert env.sql("SELECT next_attempt_at <= now() FROM deliveries"
                   f" WHERE id = {ids['pending']}") == "t"
    # Pausing without a reason records who did it.
    env.run("destination", "pause", "meta2")
    assert env.sql("SELECT paused_reason FROM destinations WHERE name = 'meta2'") == \
        f"paused by {ACTOR}"
    env.run("destination", "resume", "meta2")


def test_deliveries_list(env, catalog):
    d = add_delivery(env, catalog, catalog["meta1"], "dead", "event too old\nsecond line")
    rows = env.json("deliveries", "list", "--state", "dead", "--destination", "meta1")
    assert rows[0]["id"] == d
    assert all(r["state"] == "dead" and r["destination"] == "meta1" for r in rows)
    assert set(rows[0]) >= {"id", "state", "attempts", "destination", "event", "event_id",
                            "next_attempt_at", "last_status", "last_error"}
    assert rows[0]["last_error"] == "event too old\nsecond line"
    assert len(env.json("deliveries", "list", "--limit", "2")) == 2
    assert env.json("deliveries", "list", "--since", "1h", "--tenant", "beta") == []
    since = env.json("deliveries", "list", "--since", "2h", "--state", "dead")
    assert d in [r["id"] for r in since]
    assert env.json("deliveries", "list", "--since", "2999-01-01T00:00:00Z") == []
    text = env.run("deliveries", "list", "--state", "dead").stdout.splitlines()
    assert text[0].split() == ["ID", "STATE", "ATTEMPTS", "DESTINATION", "EVENT", "EVENT_ID",
                               "NEXT_ATTEMPT_AT", "LAST_STATUS", "LAST_ERROR"]
    assert "event too old second line" in text[1]  # one line per row


def test_deliveries_show(env, catalog):
    d = add_delivery(env, catalog, catalog["meta1"], "failed", "Invalid parameter")
    env.sql("INSERT INTO delivery_attempts (delivery_id, at, outcome, http_status,"
            " platform_code, latency_ms, error) VALUES"
            f" ({d}, now() - interval '2 min', 'retry', 503, NULL, 3001, 'unavailable'),"
            f" ({d}, now() - interval '1 min', 'retry', 429, '17', 120, 'rate limited'),"
            f" ({d}, now(), 'failed', 400, '100', 95, 'Invalid parameter')")
    out = env.json("deliveries", "show", str(d))
    assert out["delivery"]["id"] == d and out["delivery"]["state"] == "failed"
    assert out["conversion"]["event"] == "purchase"
    assert out["conversion"]["value"] == "19.90"  # money stays a decimal string
    assert out["conversion"]["currency"] == "EUR"
    assert out["conversion"]["payload"]["event"] == "purchase"
    assert out["destination"]["name"] == "meta1"
    assert "credentials" not in out["destination"]
    assert [a["http_status"] for a in out["attempts"]] == [503, 429, 400]
    assert [a["outcome"] for a in out["attempts"]] == ["retry", "retry", "failed"]
    assert out["attempts"][1]["platform_code"] == "17"
    assert out["attempts"][0]["latency_ms"] == 3001
    assert datetime.fromisoformat(out["delivery"]["created_at"].replace("Z", "+00:00")) \
        .tzinfo == timezone.utc
    text = env.run("deliveries", "show", str(d)).stdout
    assert f"delivery {d}\n" in text and "attempts (3)" in text
    assert '"event":\t"purchase"' in text  # payload pretty-printed
    assert text.index("unavailable") < text.index("rate limited") < text.rindex("Invalid")
    p = env.run("deliveries", "show", "99999999", expect=1)
    assert p.stderr == "adsengctl: no delivery with id 99999999\n"


def test_replay(env, catalog):
    m1 = catalog["meta1"]
    env.sql("UPDATE deliveries SET state = 'delivered'")  # start from a quiet queue
    ids = {s: add_delivery(env, catalog, m1, s, f"error of a {s} one")
           for s in ("failed", "dead", "pending", "delivered", "held", "in_flight")}
    before = env.sql("SELECT id, state, attempts, next_attempt_at FROM deliveries ORDER BY id")
    audits = int(env.sql("SELECT count(*) FROM audit_log"))

    # Dry run: changes nothing, tells what would move and why.
    p = env.run("replay", "--dry-run")
    assert "dry run: would replay 2 deliveries; nothing changed" in p.stdout
    assert "error of a failed one" in p.stdout and "error of a dead one" in p.stdout
    assert re.search(r"meta1\s+dead\s+1", p.stdout) and re.search(r"meta1\s+failed\s+1",
                                                                  p.stdout)
    out = env.json("replay", "--dry-run", "--state", "failed,dead", "--state", "held")
    assert out["dry_run"] is True and out["count"] == 3
    assert {(g["destination"], g["state"], g["count"]) for g in out["groups"]} == {
        ("meta1", "failed", 1), ("meta1", "dead", 1), ("meta1", "held", 1)}
    assert sorted(r["id"] for r in out["sample"]) == sorted(
        [ids["failed"], ids["dead"], ids["held"]])
    assert env.sql("SELECT id, state, attempts, next_attempt_at FROM deliveries"
                   " ORDER BY id") == before
    assert int(env.sql("SELECT count(*) FROM audit_log")) == audits

    # Naming ids of rows that must not move: said per id, nothing moves.
    p = env.run("replay", "--id", str(ids["pending"]), "--id",
                f"{ids['delivered']},{ids['in_flight']}", "424242")
    for s in ("pending", "delivered", "in_flight"):
        assert f"delivery {ids[s]} is {s}: not replayed" in p.stdout
    assert "delivery 424242: not replayed: no such delivery" in p.stdout
    assert p.stdout.endswith("replayed 0 deliveries\n")

    # The default: failed and dead back to pending, attempts 0, due now.
    p = env.run("replay", "--destination", "meta1", "--since", "1h")
    assert p.stdout.endswith("replayed 2 deliveries\n")
    got = states(env, ids.values())
    assert got == {ids["failed"]: "pending", ids["dead"]: "pending",
                   ids["pending"]: "pending", ids["delivered"]: "delivered",
                   ids["held"]: "held", ids["in_flight"]: "in_flight"}
    assert env.sql("SELECT attempts, lease_until IS NULL, next_attempt_at <= now()"
                   f" FROM deliveries WHERE id = {ids['failed']}") == "0|t|t"
    assert env.sql(f"SELECT attempts FROM deliveries WHERE id = {ids['pending']}") == "3"
    row = json.loads(env.sql("SELECT json_build_object('actor', actor, 'details', details)"
                             " FROM audit_log WHERE action = 'replay' ORDER BY id DESC"
                             " LIMIT 1"))
    assert row["actor"] == ACTOR
    assert row["details"]["count"] == 2
    assert row["details"]["states"] == ["failed", "dead"]
    assert row["details"]["destination_id"] == m1
    assert row["details"]["since"] is not None

    # --until before everything matches nothing.
    assert env.json("replay", "--until", "2000-01-01T00:00:00Z")["count"] == 0


def test_replay_held_on_paused_destination_warns(env, catalog):
    d = add_delivery(env, catalog, catalog["meta2"], "pending")
    env.run("destination", "pause", "meta2", "--reason", "maintenance")
    assert states(env, [d]) == {d: "held"}
    p = env.run("replay", "--id", str(d))
    assert p.stdout.endswith("replayed 1 deliveries\n")
    assert "warning: destination \"meta2\" is paused" in p.stderr
    assert "destination resume" in p.stderr
    assert states(env, [d]) == {d: "pending"}
    env.run("destination", "resume", "meta2")


def test_stats(env, catalog):
    env.sql("UPDATE deliveries SET created_at = now() - interval '10 min'"
            " WHERE state = 'pending'")
    out = env.json("stats")
    by_name = {r["name"]: r for r in out["destinations"]}
    assert set(by_name) == {"meta1", "meta2", "beta-meta"}
    for name, r in by_name.items():
        for s in ("pending", "in_flight", "delivered", "failed", "dead", "held", "skipped"):
            want = env.sql(f"SELECT count(*) FROM deliveries d JOIN destinations x"
                           f" ON x.id = d.destination_id WHERE x.name = '{name}'"
                           f" AND d.state = '{s}'")
            assert r[s] == int(want), (name, s)
    assert by_name["meta1"]["oldest_pending_s"] >= 600
    assert by_name["beta-meta"]["oldest_pending_s"] is None
    assert set(out["raw_events"]) >= {"pending", "done", "ignored", "error"}
    text = env.run("stats").stdout
    assert text.splitlines()[0].split()[:4] == ["DESTINATION", "TENANT", "KIND", "STATUS"]
    assert "raw events: 0 pending" in text


# ---- audit and secrets (last: they look at everything above) ------------------


def test_audit_log(env, catalog):
    rows = [json.loads(r) for r in env.sql(
        "SELECT json_build_object('actor', actor, 'action', action, 'details', details)"
        " FROM audit_log ORDER BY id").splitlines()]
    actions = {r["action"] for r in rows}
    assert actions >= {"tenant.add", "source.add", "source.disable", "source.enable",
                       "destination.add", "destination.pause", "destination.resume",
                       "route.add", "replay"}
    assert all(r["actor"] == ACTOR for r in rows)
    pause = [r for r in rows if r["action"] == "destination.pause"][0]
    assert pause["details"] == {"id": catalog["meta1"], "reason": "token expired", "held": 1}
    # Refused commands left no audit row.
    assert not [r for r in rows if r["details"].get("name") in ("nopixel", "badjson")]
    assert SHOP_SECRET not in json.dumps(rows) and META_TOKEN not in json.dumps(rows)


def test_actor_from_sudo_user(env, catalog):
    env.run("tenant", "add", "sudo-made", env=env.env(SUDO_USER="alice"))
    assert env.sql("SELECT actor FROM audit_log WHERE details->>'name' = 'sudo-made'") == \
        "alice"


def test_secrets_never_printed(env, catalog):
    assert len(env.outputs) > 50
    for argv, out, err in env.outputs:
        for secret in (SHOP_SECRET, META_TOKEN):
            assert secret not in out and secret not in err, argv
            assert secret not in " ".join(argv)
    dump = env.sql("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM sources) t") + \
        env.sql("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM destinations) t")
    assert SHOP_SECRET not in dump and META_TOKEN not in dump
    assert SHOP_SECRET.encode().hex() not in dump and META_TOKEN.encode().hex() not in dump
