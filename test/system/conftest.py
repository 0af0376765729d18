"""pytest fixtures for the system tests (see harness.py)."""

import glob
import os
import re
import subprocess

import pytest

import harness


def pytest_configure(config):
    """Without pytest-timeout, pytest.ini's timeout would be ignored and a
    hang would block CI for ever: refuse to run instead."""
    if not config.pluginmanager.hasplugin("timeout"):
        raise pytest.UsageError(
            "the system tests need pytest-timeout (Debian: python3-pytest-timeout; "
            "scripts/dev deps installs it)")


@pytest.fixture(scope="session")
def cluster():
    c = harness.Cluster()
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def template_db(cluster, tmp_path_factory):
    """A migrated database that every test clones (CREATE DATABASE … TEMPLATE)."""
    name = "adseng_template"
    cluster.psql("CREATE DATABASE %s" % name)
    d = tmp_path_factory.mktemp("tmpl")
    conf = d / "adsengd.conf"
    conf.write_text("[database]\nurl = %s\n" % cluster.url(name))
    p = subprocess.run([os.path.join(harness.BIN_DIR, "adsengctl"), "-c", str(conf), "migrate"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return name


@pytest.fixture
def meta():
    m = harness.FakeMeta(token=harness.Stack.TOKEN)
    yield m
    m.stop()


@pytest.fixture
def tiktok():
    t = harness.FakeTikTok(token=harness.Stack.TIKTOK_TOKEN)
    yield t
    t.stop()


@pytest.fixture
def ga4():
    g = harness.FakeGA4(secret=harness.Stack.GA4_SECRET)
    yield g
    g.stop()


@pytest.fixture
def sgtm():
    g = harness.FakeGA4(sgtm=True)
    yield g
    g.stop()


@pytest.fixture
def google_oauth():
    g = harness.FakeGoogleOAuth()
    yield g
    g.stop()


@pytest.fixture
def google_ads(google_oauth):
    """A fake Google Ads API that checks tokens with the fake OAuth server."""
    g = harness.FakeGoogleAds(oauth=google_oauth)
    yield g
    g.stop()


@pytest.fixture
def datamanager(google_oauth):
    """A fake Data Manager API that checks tokens against google_oauth."""
    d = harness.FakeDataManager(google_oauth)
    yield d
    d.stop()


def _forbidden_in_logs():
    """What a daemon log must never hold: the test secrets and tokens, and
    every clear email address of the fixtures (lower-cased; logs are
    compared lower-cased).  Identifiers leave only hashed."""
    words = {harness.Stack.SECRET, harness.Stack.TOKEN, harness.Stack.TIKTOK_TOKEN,
             harness.Stack.GA4_SECRET, harness.FakeGoogleOAuth.CLIENT_SECRET,
             harness.FakeGoogleOAuth.REFRESH_TOKEN, harness.FakeGoogleAds.DEVELOPER_TOKEN}
    for path in glob.glob(os.path.join(harness.FIXTURES, "**", "*.json"), recursive=True):
        with open(path, encoding="utf-8", errors="replace") as f:
            words.update(re.findall(r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
                                    f.read()))
    return sorted({w.lower() for w in words})


FORBIDDEN_IN_LOGS = _forbidden_in_logs()


@pytest.fixture
def make_stack(cluster, template_db, tmp_path, meta):
    """Factory: make_stack(**conf) → a Stack (conf keys like workers__lease)."""
    made = []

    def make(**conf):
        s = harness.Stack(cluster, template_db, tmp_path, meta, **conf)
        made.append(s)
        return s

    yield make
    for s in made:
        rc = s.stop()
        log = s.logs() if os.path.exists(s.log_path) else ""
        s.drop()
        # A clean SIGTERM stop must exit 0; under ASan a leak or error
        # changes the exit code, so this also catches memory bugs.
        assert rc in (None, 0), "adsengd exited %s:\n%s" % (rc, log[-4000:])
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer"):
            assert marker not in log, log[-4000:]
        # No secret and no clear PII in any line the daemon wrote, in any
        # test (issue 9, "Logs").
        low = log.lower()
        leaked = [w for w in FORBIDDEN_IN_LOGS if w in low]
        assert not leaked, "adsengd logged %s:\n%s" % (leaked, "\n".join(
            line for line in log.splitlines() if any(w in line.lower() for w in leaked))[:4000])


@pytest.fixture
def stack(make_stack):
    """The demo wiring with adsengd running."""
    return make_stack().setup_demo().start()
