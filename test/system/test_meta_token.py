"""Defect 11: the Meta access token never travels in the URL.

adsengd sends it as the access_token field of a form body; with an
app_secret in the destination's credentials it adds appsecret_proof (hex
HMAC-SHA256 of the token keyed with the secret).  The fake Meta refuses a
token in the query string and, configured with an app secret, checks the
proof, so both halves are proven end to end.
"""

import hashlib
import hmac
import json
import os

from harness import Stack, shopify_order, wait_until

APP_SECRET = "app-secret-1"


def setup_with_creds(stack, creds):
    """The demo wiring of Stack.setup_demo, with these credentials."""
    secret_file = os.path.join(stack.dir, "shopify.secret")
    with open(secret_file, "w") as f:
        f.write(stack.SECRET + "\n")
    creds_file = os.path.join(stack.dir, "meta-secret.json")
    with open(creds_file, "w") as f:
        json.dump(creds, f)
    stack.ctl("tenant", "add", "acme")
    stack.source_id = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify",
                                "--name", "shop1", "--secret-file", secret_file,
                                json_out=True)["id"]
    stack.dest_id = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "meta_capi",
                              "--name", "pixel1", "--pixel-id", stack.PIXEL,
                              "--credentials-file", creds_file, json_out=True)["id"]
    stack.ctl("route", "add", stack.source_id, stack.dest_id)
    return stack


def test_token_in_body_with_appsecret_proof(make_stack, meta):
    meta.config(app_secret=APP_SECRET)
    stack = setup_with_creds(make_stack(log__level="debug"),
                             {"access_token": Stack.TOKEN, "app_secret": APP_SECRET})
    stack.start()
    status, _, _ = stack.post_shopify(shopify_order(1001))
    assert status == 200
    stack.wait_states({"delivered": 1})
    reqs = meta.requests()
    assert [r["status"] for r in reqs] == [200]
    # The fake refuses a token in the query string; the proof was checked.
    assert "?" not in reqs[0]["path"] and reqs[0]["proof"] is True
    assert meta.accepted() == {"shopify:order:1001": 1}
    # Neither secret nor proof reaches adsengd's log (debug logs the URL).
    logs = stack.logs()
    assert "uploading" in logs
    proof = hmac.new(APP_SECRET.encode(), stack.TOKEN.encode(), hashlib.sha256).hexdigest()
    for secret in (stack.TOKEN, APP_SECRET, proof, "access_token="):
        assert secret not in logs


def test_wrong_app_secret_is_refused(make_stack, meta):
    """A proof made with another secret is refused by the fake (as by
    Meta), so the test above could fail: the bisected event ends failed
    with Meta's message."""
    meta.config(app_secret=APP_SECRET)
    stack = setup_with_creds(make_stack(),
                             {"access_token": Stack.TOKEN, "app_secret": "not-it"})
    stack.start()
    stack.post_shopify(shopify_order(1002))
    stack.wait_states({"failed": 1})
    assert "appsecret_proof" in stack.scalar("SELECT last_error FROM deliveries")
    assert meta.accepted() == {}
    wait_until(lambda: all(r["proof"] for r in meta.requests()), what="every request had a proof")

