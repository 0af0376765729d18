"""Shared set-up for the benchmarks: the scripts/dev PostgreSQL cluster
(fsync and synchronous_commit on), a fresh database, the release binaries,
a tenant with a Shopify source and a Meta destination on the fake Meta."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ADSENG_BIN_DIR", os.path.join(ROOT, "build", "release"))
DEV = os.path.join(ROOT, "scripts", "dev")
FIXTURE = os.path.join(ROOT, "test", "fixtures", "shopify_orders_create.json")
PY = "/usr/bin/python3"
SECRET = "bench-shopify-secret"


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def pg_url(db):
    return sh(DEV, "pg", "url", db).strip()


def psql(db, sql):
    return sh("psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", pg_url(db), "-c", sql).strip()


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit("timed out waiting for " + url)


class Setup:
    def __init__(self, db, workers=2, meta_port=None, extra_conf=""):
        subprocess.run([DEV, "pg", "start"], check=True)
        self.db = db
        self.dir = tempfile.mkdtemp(prefix="adseng-bench-")
        psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
        psql("postgres", "CREATE DATABASE %s" % db)
        assert psql(db, "SHOW fsync") == "on" and psql(db, "SHOW synchronous_commit") == "on"
        self.port = 18180
        self.key = os.path.join(self.dir, "master.key")
        sh(os.path.join(BIN, "adsengctl"), "keygen", self.key)
        self.conf = os.path.join(self.dir, "adsengd.conf")
        meta = "http://127.0.0.1:%d" % meta_port if meta_port else "http://127.0.0.1:9"
        with open(self.conf, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\n[database]\nurl = %s\n"
                    "[security]\nmaster_key_file = %s\n[workers]\nthreads = %d\n"
                    "[endpoints]\nmeta = %s\n[log]\nlevel = warn\n"
                    "[ratelimit]\nrate = 0\n%s"
                    % (self.port, pg_url(db), self.key, workers, meta, extra_conf))
        self.ctl("migrate")
        with open(os.path.join(self.dir, "secret"), "w") as f:
            f.write(SECRET)
        with open(os.path.join(self.dir, "creds.json"), "w") as f:
            json.dump({"access_token": "bench-token"}, f)
        self.ctl("tenant", "add", "bench")
        self.source = json.loads(self.ctl("source", "add", "--tenant", "bench", "--kind",
                                          "shopify", "--name", "shop", "--secret-file",
                                          os.path.join(self.dir, "secret"), "--json"))["id"]
        self.dest = json.loads(self.ctl("destination", "add", "--tenant", "bench", "--kind",
                                        "meta_capi", "--name", "pixel", "--pixel-id", "1",
                                        "--credentials-file",
                                        os.path.join(self.dir, "creds.json"), "--json"))["id"]
        self.proc = None

    def ctl(self, *args):
        return sh(os.path.join(BIN, "adsengctl"), "-c", self.conf, *args)

    def start(self):
        self.log = open(os.path.join(self.dir, "adsengd.log"), "w")
        self.proc = subprocess.Popen([os.path.join(BIN, "adsengd"), "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        wait_http("http://127.0.0.1:%d/readyz" % self.port)

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
            self.proc = None

    def drop(self):
        self.stop()
        psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db)


def cpu_seconds(pid):
    """user + system CPU time of a process, from /proc (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]
