"""System tests of `adsengctl destination test ID` (lib/pipeline/dest_probe.c):
one synthetic purchase in each platform's test mode, sent to the fakes, and
the platform's answer printed.  Nothing but an audit row is stored, so the
daemon need not run."""

import json

from harness import Stack


def probe(stack, dest, *args):
    """Run the test; (exit code, stdout, stderr)."""
    p = stack.ctl("destination", "test", dest, *args, check=False)
    return p.returncode, p.stdout, p.stderr


def audit_rows(stack):
    return stack.sql("SELECT details::text FROM audit_log WHERE action = 'destination.test'"
                     " ORDER BY id")


def test_tiktok_needs_a_test_event_code(make_stack, tiktok):
    stack = make_stack()
    dest = stack.add_tiktok_destination("tt1", tiktok)
    rc, out, err = probe(stack, dest)
    # A production TikTok destination has no test event code: a purchase
    # without one would be counted, so nothing is sent.
    assert rc == 1
    assert "test event code" in err and "--test-event-code" in err
    assert tiktok.requests() == []
    assert audit_rows(stack) == []

    rc, out, err = probe(stack, dest, "--test-event-code", "TEST12345")
    assert rc == 0, out + err
    reqs = tiktok.requests()
    assert len(reqs) == 1
    body = json.loads(reqs[0]["body"])
    assert body["test_event_code"] == "TEST12345"
    assert body["data"][0]["event"] == "CompletePayment"
    assert body["data"][0]["event_id"].startswith("adseng-test:")
    assert reqs[0]["token_ok"]
    assert "status:      200" in out
    assert "outcome:     delivered" in out
    assert '"code": 0' in out or '"code":0' in out
    # The configured pixel is what was tested; no delivery row appeared.
    assert reqs[0]["pixel"] == Stack.TIKTOK_PIXEL
    assert stack.count("deliveries") == 0
    rows = audit_rows(stack)
    assert len(rows) == 1
    details = json.loads(rows[0][0])
    assert details["id"] == dest and details["kind"] == "tiktok"
    assert details["status"] == 200 and details["outcome"] == "delivered"


def test_tiktok_error_code_is_the_answer(make_stack, tiktok):
    stack = make_stack()
    dest = stack.add_tiktok_destination("tt1", tiktok, test_event_code="TEST777")
    tiktok.config(fail_next=[40105])
    rc, out, err = probe(stack, dest, "--json")
    assert rc == 1  # the platform did not accept it
    res = json.loads(out)
    assert res["status"] == 200  # TikTok's errors come as HTTP 200
    assert res["outcome"] == "pause" and res["platform_code"] == "40105"
    assert "access token" in res["message"]
    assert json.loads(res["body"])["code"] == 40105
    # The configured test event code was used.
    assert json.loads(tiktok.requests()[0]["body"])["test_event_code"] == "TEST777"


def test_ga4_goes_to_the_validation_server(make_stack, ga4):
    stack = make_stack()
    dest = stack.add_ga4_destination("g1", ga4)
    rc, out, err = probe(stack, dest)
    assert rc == 0, out + err
    reqs = ga4.requests()
    assert len(reqs) == 1
    assert reqs[0]["path"] == "/debug/mp/collect" and reqs[0]["debug"]
    assert reqs[0]["secret_ok"]
    assert ga4.accepted() == {}  # the validation server collects nothing
    assert "validationMessages" in out
    assert "/debug/mp/collect?measurement_id=" + Stack.GA4_MEASUREMENT_ID in out
    assert Stack.GA4_SECRET not in out  # the secret is in the URL sent, never shown

    # An invalid payload: the validation message is the answer.
    ga4.config(validation_messages=[{
        "fieldPath": "events.params.currency", "description": "Currency is invalid.",
        "validationCode": "VALUE_INVALID"}])
    rc, out, err = probe(stack, dest, "--json")
    assert rc == 1
    res = json.loads(out)
    assert res["outcome"] == "failed"
    assert "VALUE_INVALID" in res["message"] and "Currency is invalid" in res["message"]
    assert json.loads(res["body"])["validationMessages"][0]["validationCode"] == "VALUE_INVALID"


def test_sgtm_warns_about_an_empty_200(make_stack, sgtm):
    stack = make_stack()
    dest = stack.add_ga4_destination("s1", sgtm, kind="sgtm")
    sgtm.config(claimed=False)
    rc, out, err = probe(stack, dest, "--gtm-preview", "ZW52LTV8dGVzdA==")
    assert rc == 0, out + err
    assert "WARNING:" in out and "empty body" in out and "claims /mp/collect" in out
    reqs = sgtm.requests()
    assert len(reqs) == 1
    assert reqs[0]["path"] == "/mp/collect"
    assert reqs[0]["preview"] == "ZW52LTV8dGVzdA=="
    rows = audit_rows(stack)
    assert "empty body" in json.loads(rows[-1][0])["warning"]

    # An answer with a body is no cause for the warning; a 503 is the
    # container's error and fails the test.
    sgtm.config(fail_next=[202, 503])
    rc, out, err = probe(stack, dest, "--json")
    res = json.loads(out)
    assert rc == 0 and res["status"] == 202 and res["warning"] == ""
    assert sgtm.requests()[-1]["preview"] is None  # none configured, none given
    rc, out, err = probe(stack, dest, "--json")
    res = json.loads(out)
    assert rc == 1 and res["status"] == 503 and res["outcome"] == "retry"


def test_meta_uses_its_test_event_code(make_stack, meta):
    stack = make_stack().setup_demo(test_event_code="TEST4242")
    rc, out, err = probe(stack, stack.dest_id)
    assert rc == 0, out + err
    reqs = meta.requests()
    assert len(reqs) == 1 and reqs[0]["test_event_code"] == "TEST4242"
    assert reqs[0]["event_ids"][0].startswith("adseng-test:")
    assert meta.accepted() != {}
    # A second test is a new event (a platform deduplicating on event_id
    # would otherwise swallow it).
    rc, out, err = probe(stack, stack.dest_id)
    assert rc == 0
    ids = [r["event_ids"][0] for r in meta.requests()]
    assert len(set(ids)) == 2


def test_meta_production_destination_refused(make_stack, meta):
    stack = make_stack().setup_demo()
    rc, out, err = probe(stack, stack.dest_id)
    assert rc == 1 and "test event code" in err
    assert meta.requests() == []


def test_google_sends_validate_only(make_stack, google_oauth, datamanager):
    stack = make_stack()
    dest = stack.add_google_destination("google_datamanager", "dm1", google_oauth, datamanager)
    rc, out, err = probe(stack, dest, "--json")
    assert rc == 0, out + err
    ingests = datamanager.ingests()
    assert len(ingests) == 1 and ingests[0]["validate_only"] is True
    assert datamanager.accepted() == {}


def test_unknown_destination(make_stack):
    stack = make_stack().setup_demo()
    p = stack.ctl("destination", "test", "00000000-0000-4000-8000-000000000000", check=False)
    assert p.returncode == 1 and "destination" in p.stderr
