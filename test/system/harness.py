"""Harness for AdsEngineer system tests: a throwaway PostgreSQL cluster,
the real adsengd/adsengctl binaries, and the fake Meta server.

Modelled on PgBouncer's pytest suite: everything real, on loopback and
Unix sockets, in temporary directories.  PostgreSQL refuses to run as
root, so when the tests run as root (CI) the cluster runs as the
`postgres` user with a socket directory that user owns.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("ADSENG_BIN_DIR", os.path.join(ROOT, "build", "release"))
FIXTURES = os.path.join(ROOT, "test", "fixtures")
PY = "/usr/bin/python3"


def pg_bindir():
    base = "/usr/lib/postgresql"
    versions = sorted(os.listdir(base), key=lambda v: int(v.split(".")[0]))
    return os.path.join(base, versions[-1], "bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=20.0, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


class Cluster:
    """A private PostgreSQL cluster on a Unix socket."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="adseng-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "run")
        self.port = free_port()
        self.bindir = pg_bindir()
        self.as_root = os.geteuid() == 0
        os.makedirs(self.sock)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--no-locale"], quiet=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\n")
            f.write("unix_socket_directories = '%s'\n" % self.sock)
            f.write("port = %d\n" % self.port)
            f.write("max_connections = 100\n")
            f.write("fsync = off\n")  # tests: durability is not what is measured
            f.write("synchronous_commit = off\n")
        self.start()

    def _run(self, argv, quiet=False):
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        out = subprocess.DEVNULL if quiet else None
        subprocess.run(argv, check=True, stdout=out, stderr=out if quiet else None)

    def start(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                   os.path.join(self.root, "pg.log"), "-w", "start"], quiet=True)

    def stop(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast",
                   "-w", "stop"], quiet=True)

    def url(self, db="postgres"):
        return "postgresql://postgres@/%s?host=%s&port=%d" % (db, self.sock, self.port)

    def psql(self, sql, db="postgres"):
        """Run SQL; return rows as lists of strings (unaligned, tab separated)."""
        out = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-qAt", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", self.url(db), "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line != ""]

    def scalar(self, sql, db="postgres"):
        rows = self.psql(sql, db)
        return rows[0][0] if rows else None

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class FakeServer:
    """A fake platform server (test/system/fake_*.py) as a subprocess: it
    prints PORT=<n> first and has a JSON control API under /_control/."""

    SCRIPT = None

    def __init__(self, *args):
        argv = [PY, os.path.join(ROOT, "test", "system", self.SCRIPT), "--port", "0"]
        argv += list(args)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("PORT="), line
        self.port = int(line.split("=", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def config(self, **kw):
        return self._call("POST", "/_control/config", kw)

    def reset(self):
        return self._call("POST", "/_control/reset", {})

    def requests(self):
        return self._call("GET", "/_control/requests")

    def stats(self):
        return self._call("GET", "/_control/stats")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FakeMeta(FakeServer):
    """test/system/fake_meta.py."""

    SCRIPT = "fake_meta.py"

    def __init__(self, token=None, bodies=True):
        args = []
        if token:
            args += ["--token", token]
        if not bodies:
            args.append("--no-bodies")
        super().__init__(*args)

    def accepted(self):
        return self._call("GET", "/_control/events")["accepted"]


class FakeTikTok(FakeServer):
    """test/system/fake_tiktok.py: TikTok's Events API (event/track)."""

    SCRIPT = "fake_tiktok.py"

    def __init__(self, token=None):
        super().__init__(*(["--token", token] if token else []))

    def accepted(self):
        return self._call("GET", "/_control/events")["accepted"]


class FakeGA4(FakeServer):
    """test/system/fake_ga4.py: GA4's Measurement Protocol, or (sgtm=True)
    a server-side GTM container taking the same body."""

    SCRIPT = "fake_ga4.py"

    def __init__(self, secret=None, sgtm=False):
        super().__init__(*((["--secret", secret] if secret else []) +
                           (["--sgtm"] if sgtm else [])))

    def accepted(self):
        return self._call("GET", "/_control/events")["accepted"]


class FakeGoogleOAuth(FakeServer):
    """test/system/fake_google_oauth.py: Google's token endpoint and consent
    page.  CLIENT_ID/CLIENT_SECRET/REFRESH_TOKEN are what Stack's Google
    destinations use."""

    SCRIPT = "fake_google_oauth.py"
    CLIENT_ID = "1234-fake.apps.googleusercontent.com"
    CLIENT_SECRET = "GOCSPX-fake-secret"
    REFRESH_TOKEN = "1//fake-refresh-token"

    def __init__(self):
        super().__init__("--client-id", self.CLIENT_ID, "--client-secret", self.CLIENT_SECRET)

    def introspect(self, token):
        return self._call("GET", "/_control/introspect?token=" + urllib.parse.quote(token))

    def expire_all(self):
        return self._call("POST", "/_control/expire", {})

    def consent_redirect(self, consent_url):
        """Open a consent URL (as the account owner's browser would) and
        return where Google redirects: adsengd's callback URL."""
        u = urllib.parse.urlsplit(consent_url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            conn.request("GET", u.path + "?" + u.query)
            r = conn.getresponse()
            r.read()
            assert r.status == 302, r.status
            return r.getheader("Location")
        finally:
            conn.close()


class FakeDataManager(FakeServer):
    """test/system/fake_datamanager.py: Google's Data Manager API (events and
    Customer Match audiences, user lists included).  With an oauth (a
    FakeGoogleOAuth), bearer tokens are checked against it."""

    SCRIPT = "fake_datamanager.py"

    def __init__(self, oauth=None):
        super().__init__(*(["--oauth-url", oauth.url] if oauth else []))

    def accepted(self):
        return self._call("GET", "/_control/events")["accepted"]

    def audience(self):
        return self._call("GET", "/_control/audience")

    def members(self, list_id):
        """The identifiers now in a user list (None: no such list)."""
        return self._call("GET", "/_control/members?list=" + urllib.parse.quote(list_id))

    def ingests(self):
        """The events:ingest requests recorded so far."""
        return [r for r in self.requests() if r["path"] == "/v1/events:ingest"]


class FakeGoogleAds(FakeServer):
    """test/system/fake_google_ads.py: the Google Ads API (uploadClickConversions,
    conversionActions:mutate), checking bearer tokens with a FakeGoogleOAuth
    and the developer-token header (DEVELOPER_TOKEN)."""

    SCRIPT = "fake_google_ads.py"
    DEVELOPER_TOKEN = "fake-dev-token-123"

    def __init__(self, oauth=None, developer_token=DEVELOPER_TOKEN):
        args = []
        if oauth:
            args += ["--oauth-url", oauth.url]
        if developer_token:
            args += ["--developer-token", developer_token]
        super().__init__(*args)


class Stack:
    """One database, one adsengd, one tenant with a Shopify source routed to
    a Meta CAPI destination pointing at a fake Meta."""

    SECRET = "shpss_test_secret_1234567890"
    TOKEN = "EAAB-test-token"
    PIXEL = "1234567890"

    def __init__(self, cluster, template_db, tmpdir, meta, **conf):
        self.cluster = cluster
        self.meta = meta
        self.dir = str(tmpdir)
        self.db = "t_" + uuid.uuid4().hex[:12]
        cluster.psql("CREATE DATABASE %s TEMPLATE %s" % (self.db, template_db))
        self.port = free_port()
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.key_file = os.path.join(self.dir, "master.key")
        if not os.path.exists(self.key_file):
            self.ctl("keygen", self.key_file)
        self.conf_file = os.path.join(self.dir, "adsengd.conf")
        settings = {
            ("server", "listen"): "127.0.0.1:%d" % self.port,
            ("server", "public_url"): self.base_url,
            # /metrics on the main listener: a fixed metrics port would
            # clash between the stacks of parallel tests (test_metrics.py
            # covers the separate listener).
            ("server", "metrics_listen"): "",
            ("database", "url"): cluster.url(self.db),
            ("security", "master_key_file"): self.key_file,
            ("workers", "threads"): "2",
            ("workers", "poll_interval"): "200ms",
            ("workers", "lease"): "4s",
            ("workers", "upload_timeout"): "2s",
            ("retry", "base"): "100ms",
            ("retry", "cap"): "1s",
            ("retry", "max_attempts"): "5",
            ("endpoints", "meta"): meta.url if meta else "http://127.0.0.1:9",
            ("log", "level"): "info",
        }
        for k, v in conf.items():
            section, key = k.split("__", 1)
            settings[(section, key)] = v
        self.write_conf(settings)
        self.proc = None
        self.log_path = os.path.join(self.dir, "adsengd-%s.log" % self.db)

    def write_conf(self, settings):
        sections = {}
        for (section, key), value in settings.items():
            sections.setdefault(section, []).append((key, value))
        with open(self.conf_file, "w") as f:
            for section, items in sections.items():
                f.write("[%s]\n" % section)
                for key, value in items:
                    f.write("%s = %s\n" % (key, value))
        self.settings = settings

    # -- adsengctl ---------------------------------------------------------

    def ctl(self, *args, check=True, json_out=False):
        argv = [os.path.join(BIN_DIR, "adsengctl")]
        if os.path.exists(getattr(self, "conf_file", "")):
            argv += ["-c", self.conf_file]
        argv += list(args)
        if json_out:
            argv.append("--json")
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("adsengctl %s failed (%d): %s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        if json_out and p.returncode == 0:
            return json.loads(p.stdout)
        return p

    def setup_demo(self, test_event_code=None, paused=False):
        """tenant + shopify source + meta destination + route."""
        creds_file = os.path.join(self.dir, "meta.json")
        with open(creds_file, "w") as f:
            json.dump({"access_token": self.TOKEN}, f)
        self.demo_source()
        args = ["destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name",
                "pixel1", "--pixel-id", self.PIXEL, "--credentials-file", creds_file]
        if test_event_code:
            args += ["--test-mode", "--test-event-code", test_event_code]
        dst = self.ctl(*args, json_out=True)
        self.dest_id = dst["id"]
        if paused:
            self.ctl("destination", "pause", self.dest_id, "--reason", "test")
        self.ctl("route", "add", self.source_id, self.dest_id)
        return self

    def demo_source(self):
        """Tenant acme and its Shopify source shop1, once; the source id."""
        if not hasattr(self, "source_id"):
            secret_file = os.path.join(self.dir, "shopify.secret")
            with open(secret_file, "w") as f:
                f.write(self.SECRET + "\n")
            self.ctl("tenant", "add", "acme")
            self.source_id = self.ctl("source", "add", "--tenant", "acme", "--kind", "shopify",
                                      "--name", "shop1", "--secret-file", secret_file,
                                      json_out=True)["id"]
        return self.source_id

    def add_destination(self, kind, name, creds, args, endpoints=None, paused=False,
                        route=True, extra=(), creds_prefix=None):
        """What the add_*_destination helpers share: point [endpoints] at
        fakes (written to the config: call before start()), make sure the
        demo tenant and source exist, write creds to a file, `destination
        add` a kind destination of tenant acme with args + extra, pause it
        if asked, route the demo source to it.  The credentials file is
        <creds_prefix>-<name>.json in the stack's directory (the prefix
        defaults to the kind's first word).  Returns its id."""
        if endpoints:
            self.settings.update({("endpoints", k): v for k, v in endpoints.items()})
            self.write_conf(self.settings)
        self.demo_source()
        creds_file = os.path.join(self.dir, "%s-%s.json" % (
            creds_prefix or kind.split("_")[0], name))
        with open(creds_file, "w") as f:
            json.dump(creds, f)
        argv = ["destination", "add", "--tenant", "acme", "--kind", kind, "--name", name,
                "--credentials-file", creds_file] + list(args) + list(extra)
        dest_id = self.ctl(*argv, json_out=True)["id"]
        if paused:
            self.ctl("destination", "pause", dest_id, "--reason", "test")
        if route:
            self.ctl("route", "add", self.source_id, dest_id)
        return dest_id

    TIKTOK_TOKEN = "tt-test-token-0123456789abcdef"
    TIKTOK_PIXEL = "COQDA8RC77U2TMR44LI0"

    def add_tiktok_destination(self, name, tiktok, pixel=None, test_event_code=None,
                               paused=False, extra=(), route=True):
        """A TikTok destination of tenant acme pointed at tiktok (a FakeTikTok),
        routed from the Shopify source; tenant and source are created when
        setup_demo was not run (then no Meta destination exists).  Call
        before start(): [endpoints] tiktok is written to the config.
        Returns the destination id."""
        args = ["--pixel-id", pixel or self.TIKTOK_PIXEL]
        if test_event_code:
            args += ["--test-mode", "--test-event-code", test_event_code]
        return self.add_destination("tiktok", name, {"access_token": self.TIKTOK_TOKEN}, args,
                                    {"tiktok": tiktok.url}, paused, route, extra)

    GA4_SECRET = "ga4-Secret_0123456789"
    GA4_MEASUREMENT_ID = "G-TEST123ABC"

    def add_ga4_destination(self, name, fake, kind="ga4", test_mode=False, extra=()):
        """A ga4 (or sgtm) destination of tenant acme pointed at fake (a
        FakeGA4), routed from the Shopify source, created like
        add_tiktok_destination's.  ga4: [endpoints] ga4 is written to the
        config (call before start()); sgtm: --url is the fake's URL.
        Returns the destination id."""
        args = ["--measurement-id", self.GA4_MEASUREMENT_ID]
        if kind == "sgtm":
            args += ["--url", fake.url]
        if test_mode:
            args.append("--test-mode")
        return self.add_destination(kind, name, {"api_secret": self.GA4_SECRET}, args,
                                    {"ga4": fake.url} if kind == "ga4" else None, extra=extra,
                                    creds_prefix="ga4")

    def add_meta_destination(self, name, pixel):
        """One more Meta destination of the demo tenant (after setup_demo),
        fed by the demo source; returns its id."""
        dst = self.ctl("destination", "add", "--tenant", "acme", "--kind", "meta_capi",
                       "--name", name, "--pixel-id", pixel, "--credentials-file",
                       os.path.join(self.dir, "meta.json"), json_out=True)
        self.ctl("route", "add", self.source_id, dst["id"])
        return dst["id"]

    GOOGLE_ENDPOINT_KEYS = {"google_datamanager": "google_datamanager",
                            "google_ads": "google_ads"}

    def add_google_destination(self, kind, name, oauth, api, customer_id="1234567890",
                               conversion_action="555666777", login_customer_id=None,
                               consent=None, test_mode=False, credentials=None, extra=(),
                               route=True):
        """A Google destination (kind google_datamanager or google_ads) of
        the demo tenant, authorized with FakeGoogleOAuth's client and
        refresh token (or `credentials`), its [endpoints] google_oauth and
        API endpoint pointed at oauth and api (the fakes); routed from the
        Shopify source (created, with the tenant, when setup_demo was not
        run).  Call before start(): the endpoints are written to the
        config.  Returns the destination id."""
        creds = credentials if credentials is not None else {
            "client_id": FakeGoogleOAuth.CLIENT_ID,
            "client_secret": FakeGoogleOAuth.CLIENT_SECRET,
            "refresh_token": FakeGoogleOAuth.REFRESH_TOKEN}
        args = ["--customer-id", customer_id]
        if conversion_action:
            args += ["--conversion-action", conversion_action]
        if login_customer_id:
            args += ["--login-customer-id", login_customer_id]
        if consent:
            args += ["--consent", consent]
        if test_mode:
            args.append("--test-mode")
        endpoints = {"google_oauth": oauth.url, self.GOOGLE_ENDPOINT_KEYS[kind]: api.url}
        return self.add_destination(kind, name, creds, args, endpoints, route=route,
                                    extra=extra)

    # -- adsengd -------------------------------------------------------------

    def start(self, wait_ready=True, env=None):
        """Run adsengd (env: extra environment, e.g. NOTIFY_SOCKET)."""
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, **(env or {}))
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen([os.path.join(BIN_DIR, "adsengd"), "-c", self.conf_file],
                                     stdout=self.log, stderr=self.log, env=env)
        if wait_ready:
            wait_until(lambda: self.http("GET", "/readyz")[0] == 200, timeout=20,
                       what="adsengd /readyz")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop adsengd; returns its exit status (0 expected for SIGTERM)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    # -- HTTP ----------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, timeout=10):
        req = urllib.request.Request(self.base_url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)
        except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
            return 0, str(e).encode(), {}

    def post_shopify(self, body, topic="orders/create", webhook_id=None, secret=None,
                     signature=None, source_id=None, extra_headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        mac = hmac.new((secret or self.SECRET).encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": "shop.example",
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-10",
        }
        if signature is not False:
            headers["X-Shopify-Hmac-Sha256"] = signature or base64.b64encode(mac).decode()
        headers.update(extra_headers or {})
        status, data, hdrs = self.http("POST", "/v1/webhooks/shopify/%s" % (
            source_id or self.source_id), body, headers)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return status, parsed, hdrs

    # -- database ------------------------------------------------------------

    def sql(self, query):
        return self.cluster.psql(query, self.db)

    def scalar(self, query):
        return self.cluster.scalar(query, self.db)

    def count(self, table, where="true"):
        return int(self.scalar("SELECT count(*) FROM %s WHERE %s" % (table, where)))

    def states(self):
        return dict((r[0], int(r[1])) for r in self.sql(
            "SELECT state, count(*) FROM deliveries GROUP BY state"))

    def wait_states(self, expected, timeout=20):
        return wait_until(lambda: self.states() == expected, timeout=timeout,
                          what="delivery states %r (have %r)" % (expected, self.states()))

    def drop(self):
        try:
            self.cluster.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db)
        except subprocess.CalledProcessError:
            pass


def shopify_order(order_id=5551234567890, created_at=None, email=None, **changes):
    """The fixture order with a different id (and optional changes)."""
    with open(os.path.join(FIXTURES, "shopify_orders_create.json")) as f:
        order = json.load(f)
    order["id"] = order_id
    order["admin_graphql_api_id"] = "gid://shopify/Order/%d" % order_id
    order["name"] = "#%d" % order_id
    if created_at:
        order["created_at"] = order["processed_at"] = created_at
    else:
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        order["created_at"] = order["processed_at"] = now
    if email:
        order["email"] = email
    order.update(changes)
    return order
