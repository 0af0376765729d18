"""SIGHUP reloads: a good reload takes effect, a restart-only key warns.

(The bad-config reload is test_pipeline.py's
test_sighup_with_bad_config_keeps_running.)
"""

import signal

import harness
from harness import shopify_order, wait_until


def reload_with(stack, **changes):
    """Rewrite the config file with changes (section__key=value), SIGHUP
    adsengd and wait until it logged the n-th "configuration reloaded"."""
    settings = dict(stack.settings)
    for k, v in changes.items():
        section, key = k.split("__", 1)
        settings[(section, key)] = v
    before = stack.logs().count("configuration reloaded")
    stack.write_conf(settings)
    stack.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: stack.logs().count("configuration reloaded") > before,
               what="adsengd reloaded its configuration")
    assert stack.proc.poll() is None


def test_reload_changes_the_log_level(stack, meta):
    stack.post_shopify(shopify_order(1))
    stack.wait_states({"delivered": 1})
    assert "level=debug" not in stack.logs()

    reload_with(stack, log__level="debug")
    mark = len(stack.logs())
    stack.post_shopify(shopify_order(2))
    stack.wait_states({"delivered": 2})
    after = stack.logs()[mark:]
    # Debug lines of the upload now appear (workers read the level live).
    assert "level=debug msg=\"uploading\"" in after
    assert "level=debug msg=\"upload finished\"" in after

    # And back: the debug lines stop.
    reload_with(stack, log__level="info")
    mark = len(stack.logs())
    stack.post_shopify(shopify_order(3))
    stack.wait_states({"delivered": 3})
    assert "level=debug" not in stack.logs()[mark:]


def test_reload_of_a_restart_only_key_warns(stack, meta):
    reload_with(stack, workers__threads="3", log__level="debug")
    logs = stack.logs()
    warn = [line for line in logs.splitlines() if "need a restart" in line]
    assert len(warn) == 1, logs[-2000:]
    assert "level=warn" in warn[0] and "keys=workers.threads" in warn[0]
    # The reloadable key in the same file still took effect, and the
    # daemon keeps working on its old thread count.
    stack.post_shopify(shopify_order(4))
    stack.wait_states({"delivered": 1})
    assert "level=debug msg=\"uploading\"" in stack.logs()


def test_reload_moves_an_endpoint(stack, meta):
    """[endpoints] keys are reloadable: after a SIGHUP the next upload goes
    to the new base URL at once (the destination cache does not wait for
    its TTL), and no restart warning is logged."""
    stack.post_shopify(shopify_order(11))
    stack.wait_states({"delivered": 1})
    other = harness.FakeMeta(token=harness.Stack.TOKEN)
    try:
        reload_with(stack, endpoints__meta=other.url)
        stack.post_shopify(shopify_order(12))
        stack.wait_states({"delivered": 2})
        assert len(other.accepted()) == 1
        assert len(meta.accepted()) == 1
        assert "need a restart" not in stack.logs()
    finally:
        other.stop()
