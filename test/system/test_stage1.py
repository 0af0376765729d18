"""Stage 1 (raw events -> conversions + deliveries) end to end: transient
database errors are retried and never turn a good event into 'error',
events of disabled or deleted sources are never silently consumed,
`adsengctl reprocess` puts 'error' events back in the queue, and test
orders reach only destinations in test mode."""

import json
import time
import uuid

from harness import shopify_order, wait_until


def raw_states(stack):
    return dict((r[0], int(r[1])) for r in stack.sql(
        "SELECT state, count(*) FROM raw_event_status GROUP BY state"))


def fail_conversions_with(stack, sqlstate, times, event_id=None):
    """A BEFORE INSERT trigger on conversions raising `sqlstate` the first
    `times` times it fires (a sequence counts them: nextval survives the
    rollback), only for event_id when given."""
    stack.sql("CREATE SEQUENCE t_fail_seq")
    stack.sql("""
        CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (%s) AND nextval('t_fail_seq') <= %d THEN
                RAISE EXCEPTION 'injected failure' USING ERRCODE = '%s';
            END IF;
            RETURN NEW;
        END $$""" % ("NEW.event_id = '%s'" % event_id if event_id else "true", times,
                     sqlstate))
    stack.sql("CREATE TRIGGER t_fail BEFORE INSERT ON conversions"
              " FOR EACH ROW EXECUTE FUNCTION t_fail()")


def fired(stack):
    return int(stack.scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                            " FROM t_fail_seq"))


# ---- defect 2: transient errors are retried, data errors isolated -------------------------


def test_deadlock_on_insert_is_retried_not_error(make_stack, meta):
    stack = make_stack().setup_demo()
    fail_conversions_with(stack, "40P01", 3)
    stack.start()
    assert stack.post_shopify(shopify_order(3001))[0] == 200
    stack.wait_states({"delivered": 1}, timeout=30)
    assert fired(stack) >= 4  # three refusals, then the insert that went through
    assert raw_states(stack) == {"done": 1}
    assert meta.accepted() == {"shopify:order:3001": 1}


def test_other_transient_states_are_retried(make_stack, meta):
    # Serialization failure, lock timeout, statement timeout, disk full,
    # admin shutdown: none is the event's fault.
    stack = make_stack().setup_demo()
    states = ["40001", "55P03", "57014", "53100", "57P01"]
    stack.sql("CREATE TABLE t_states (n serial, s text)")
    stack.sql("INSERT INTO t_states (s) VALUES %s" % ",".join("('%s')" % s for s in states))
    stack.sql("CREATE SEQUENCE t_fail_seq")
    stack.sql("""
        CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            k bigint := nextval('t_fail_seq');
            st text;
        BEGIN
            SELECT s INTO st FROM t_states WHERE n = k;
            IF st IS NOT NULL THEN
                RAISE EXCEPTION 'injected %', st USING ERRCODE = st;
            END IF;
            RETURN NEW;
        END $$""")
    stack.sql("CREATE TRIGGER t_fail BEFORE INSERT ON conversions"
              " FOR EACH ROW EXECUTE FUNCTION t_fail()")
    stack.start()
    assert stack.post_shopify(shopify_order(3002))[0] == 200
    stack.wait_states({"delivered": 1}, timeout=40)
    assert fired(stack) >= len(states) + 1
    assert raw_states(stack) == {"done": 1}


def test_data_error_fails_only_its_event(make_stack, meta):
    stack = make_stack().setup_demo()
    ids = [3101, 3102, 3103, 3104, 3105]
    # While the flag is set every insert fails transiently, so the five
    # events pile up in the queue and are then taken as one batch, in which
    # one event is refused for its data (class 22).
    stack.sql("CREATE TABLE t_flag (on_ boolean)")
    stack.sql("INSERT INTO t_flag VALUES (true)")
    stack.sql("CREATE SEQUENCE t_fail_seq")
    stack.sql("""
        CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT on_ FROM t_flag) THEN
                PERFORM nextval('t_fail_seq');
                RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
            END IF;
            IF NEW.event_id = 'shopify:order:3103' THEN
                RAISE EXCEPTION 'injected bad value' USING ERRCODE = '22023';
            END IF;
            RETURN NEW;
        END $$""")
    stack.sql("CREATE TRIGGER t_fail BEFORE INSERT ON conversions"
              " FOR EACH ROW EXECUTE FUNCTION t_fail()")
    stack.start()
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    # Three more refused tries, each of the whole backlog.
    before = fired(stack)
    wait_until(lambda: fired(stack) >= before + 3, timeout=30, what="several refused batches")
    assert raw_states(stack) == {"pending": len(ids)}
    assert "injected deadlock" in stack.logs()
    stack.sql("UPDATE t_flag SET on_ = false")
    stack.wait_states({"delivered": len(ids) - 1}, timeout=30)
    wait_until(lambda: raw_states(stack) == {"done": len(ids) - 1, "error": 1},
               what="one raw event in error")
    err = stack.scalar("SELECT translate(error, E'\\n', ' ') FROM raw_events"
                       " WHERE state = 'error'")
    assert "injected bad value" in err
    assert sorted(meta.accepted()) == sorted(
        "shopify:order:%d" % i for i in ids if i != 3103)


# ---- defect 7: events of disabled or deleted sources ----------------------------------------


def add_source(stack, name):
    out = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", name,
                    "--secret-file", stack.dir + "/shopify.secret", json_out=True)
    stack.ctl("route", "add", out["id"], stack.dest_id)
    return out["id"]


def queue_raw_event(stack, source_id, order):
    """A raw event as ingest stores it (headers copied from a real one),
    queued for stage 1: as if it had arrived before its source changed."""
    body = json.dumps(order).replace("'", "''")
    return int(stack.scalar(
        "WITH r AS (INSERT INTO raw_events (source_id, topic, dedup_key, headers, body)"
        " SELECT '%s', 'orders/create', '%s', headers, convert_to('%s', 'UTF8')"
        " FROM raw_events ORDER BY id LIMIT 1 RETURNING id, received_at),"
        " q AS (INSERT INTO raw_queue SELECT id, received_at FROM r)"
        " SELECT id FROM r" % (source_id, uuid.uuid4(), body)))


def test_disabled_source_waits_deleted_source_is_ignored(make_stack, meta):
    stack = make_stack().setup_demo()
    shop2 = add_source(stack, "shop2")
    shop3 = add_source(stack, "shop3")
    stack.start()
    assert stack.post_shopify(shopify_order(4001))[0] == 200
    stack.wait_states({"delivered": 1})
    stack.ctl("source", "disable", shop2)
    stack.sql("DELETE FROM sources WHERE id = '%s'" % shop3)
    waiting = queue_raw_event(stack, shop2, shopify_order(4002))
    gone = queue_raw_event(stack, shop3, shopify_order(4003))
    # A newer event of an enabled source goes past both.
    assert stack.post_shopify(shopify_order(4004))[0] == 200
    stack.wait_states({"delivered": 2})
    wait_until(lambda: stack.scalar("SELECT state FROM raw_event_status WHERE id = %d" % gone)
               == "ignored", what="the deleted source's event ignored")
    reason = stack.scalar("SELECT error FROM raw_events WHERE id = %d" % gone)
    assert reason == "source %s no longer exists" % shop3
    assert stack.scalar("SELECT state FROM raw_event_status WHERE id = %d" % waiting) == \
        "pending"
    assert stack.count("conversions", "source_id IN ('%s', '%s')" % (shop2, shop3)) == 0
    assert "1 pending, 2 done, 1 ignored, 0 error" in stack.ctl("stats").stdout
    # Enabled again, its event goes through.
    stack.ctl("source", "enable", shop2)
    stack.wait_states({"delivered": 3})
    assert stack.scalar("SELECT state FROM raw_event_status WHERE id = %d" % waiting) == "done"
    assert sorted(meta.accepted()) == ["shopify:order:4001", "shopify:order:4002",
                                       "shopify:order:4004"]


# ---- defect 5: test orders reach only destinations in test mode ----------------------------


def add_test_mode_destination(stack, name="pixel-test", pixel="777", code="TEST777"):
    args = ["destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name", name,
            "--pixel-id", pixel, "--credentials-file", stack.dir + "/meta.json", "--test-mode"]
    if code:
        args += ["--test-event-code", code]
    if code is None:
        return stack.ctl(*args, check=False)
    return stack.ctl(*args, json_out=True)


def test_test_order_is_skipped_for_a_normal_destination(stack, meta):
    assert stack.post_shopify(shopify_order(5001, test=True))[0] == 200
    assert stack.post_shopify(shopify_order(5002))[0] == 200
    stack.wait_states({"delivered": 1, "skipped": 1})
    wait_until(lambda: raw_states(stack) == {"done": 2}, what="both raw events done")
    assert meta.accepted() == {"shopify:order:5002": 1}
    assert all("shopify:order:5001" not in r["event_ids"] for r in meta.requests())
    (did, err, attempts, test), = stack.sql(
        "SELECT d.id, d.last_error, d.attempts, c.test FROM deliveries d"
        " JOIN conversions c ON c.id = d.conversion_id WHERE d.state = 'skipped'")
    assert (err, attempts, test) == ("test", "0", "t")
    # Visible: listed, shown, counted.
    rows = stack.ctl("deliveries", "list", "--state", "skipped", json_out=True)
    assert [(r["id"], r["event_id"], r["last_error"]) for r in rows] == \
        [(int(did), "shopify:order:5001", "test")]
    show = stack.ctl("deliveries", "show", did, json_out=True)
    assert show["delivery"]["state"] == "skipped"
    (st,) = stack.ctl("stats", json_out=True)["destinations"]
    assert (st["skipped"], st["delivered"]) == (1, 1)
    assert "SKIPPED" in stack.ctl("stats").stdout.splitlines()[0]
    # Replay never moves it, by filter or by id.
    out = stack.ctl("replay", "--id", did, json_out=True)
    assert out["count"] == 0 and out["ids"][0]["replayed"] is False
    assert stack.ctl("replay", json_out=True)["count"] == 0
    assert stack.ctl("replay", "--state", "skipped", check=False).returncode == 2
    time.sleep(0.5)  # give a wrongly woken worker the chance to send it
    assert stack.states() == {"delivered": 1, "skipped": 1}
    assert "shopify:order:5001" not in meta.accepted()


def test_test_mode_destination_gets_test_orders_as_test_events(stack, meta):
    dest = add_test_mode_destination(stack)
    stack.ctl("route", "add", stack.source_id, dest["id"])
    assert stack.post_shopify(shopify_order(5101, test=True))[0] == 200
    assert stack.post_shopify(shopify_order(5102))[0] == 200
    stack.wait_states({"delivered": 3, "skipped": 1})
    by_pixel = {}
    for r in meta.requests():
        if r["status"] == 200:
            for eid in r["event_ids"]:
                by_pixel.setdefault(r["pixel"], []).append((eid, r["test_event_code"]))
    # Test mode: every event, test order or not, goes with the test code.
    assert sorted(by_pixel["777"]) == [("shopify:order:5101", "TEST777"),
                                       ("shopify:order:5102", "TEST777")]
    assert by_pixel[stack.PIXEL] == [("shopify:order:5102", None)]
    skipped = stack.sql("SELECT x.name FROM deliveries d JOIN destinations x"
                        " ON x.id = d.destination_id WHERE d.state = 'skipped'")
    assert skipped == [["pixel1"]]


def test_test_mode_needs_a_test_event_code_for_meta(stack):
    p = add_test_mode_destination(stack, name="no-code", code=None)
    assert p.returncode == 1
    assert "test event code" in p.stderr
    assert stack.count("destinations", "name = 'no-code'") == 0
    # And the reverse: a test event code outside test mode would send real
    # conversions as test events, which Meta does not count.
    p = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name",
                  "code-only", "--pixel-id", "778", "--credentials-file",
                  stack.dir + "/meta.json", "--test-event-code", "TEST778", check=False)
    assert p.returncode == 1 and "--test-mode" in p.stderr
    assert stack.count("destinations", "name = 'code-only'") == 0


# ---- adsengctl reprocess ----------------------------------------------------------------------


def test_reprocess_after_a_fix(make_stack, meta):
    stack = make_stack().setup_demo()
    # The "bug": the database refuses two orders for their data.
    stack.sql("""
        CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.event_id IN ('shopify:order:6001', 'shopify:order:6002') THEN
                RAISE EXCEPTION 'injected bad value' USING ERRCODE = '22023';
            END IF;
            RETURN NEW;
        END $$""")
    stack.sql("CREATE TRIGGER t_fail BEFORE INSERT ON conversions"
              " FOR EACH ROW EXECUTE FUNCTION t_fail()")
    stack.start()
    raw = {}
    for i in (6001, 6002, 6003):
        status, body, _ = stack.post_shopify(shopify_order(i))
        assert status == 200
        raw[i] = body["id"]
    stack.wait_states({"delivered": 1})
    wait_until(lambda: raw_states(stack) == {"done": 1, "error": 2}, what="two in error")

    # Dry run: reports, changes nothing, writes no audit row.
    out = stack.ctl("reprocess", "--raw-event", str(raw[6001]), "--dry-run", json_out=True)
    assert out["dry_run"] is True and out["count"] == 1
    assert [s["id"] for s in out["sample"]] == [raw[6001]]
    assert "injected bad value" in out["sample"][0]["error"]
    assert out["ids"] == [{"id": raw[6001], "state": "error", "reprocessed": False,
                           "reason": "would be reprocessed"}]
    text = stack.ctl("reprocess", "--raw-event", str(raw[6001]), "--dry-run").stdout
    assert "dry run: would reprocess 1 raw events; nothing changed" in text
    assert raw_states(stack) == {"done": 1, "error": 2}
    assert stack.count("audit_log", "action = 'reprocess'") == 0

    # Events not in error are reported and left alone.
    out = stack.ctl("reprocess", "--raw-event", "%d,999999" % raw[6003], json_out=True)
    assert out["count"] == 0
    assert [(i["state"], i["reprocessed"], i["reason"]) for i in out["ids"]] == [
        ("done", False, "only raw events in error are reprocessed"),
        (None, False, "no such raw event")]
    text = stack.ctl("reprocess", "--raw-event", str(raw[6003])).stdout
    assert "raw event %d is done: not reprocessed" % raw[6003] in text
    assert "reprocessed 0 raw events" in text

    # Unknown source: failure, exit 1.
    p = stack.ctl("reprocess", "--source", "nope", "--since", "1h", check=False)
    assert p.returncode == 1 and "no source named \"nope\"" in p.stderr

    # The fix, then the whole source since an hour ago.
    stack.sql("DROP TRIGGER t_fail ON conversions")
    text = stack.ctl("reprocess", "--source", "shop1", "--since", "1h").stdout
    assert "reprocessed 2 raw events" in text
    stack.wait_states({"delivered": 3})
    wait_until(lambda: raw_states(stack) == {"done": 3}, what="all three done")
    assert stack.scalar("SELECT count(*) FROM raw_events WHERE error IS NOT NULL") == "0"
    assert sorted(meta.accepted()) == ["shopify:order:6001", "shopify:order:6002",
                                       "shopify:order:6003"]
    # Every real run is audited (the two above moved nothing).
    assert stack.count("audit_log", "action = 'reprocess'") == 3
    details = json.loads(stack.scalar("SELECT details FROM audit_log"
                                      " WHERE action = 'reprocess' ORDER BY id DESC LIMIT 1"))
    assert details["source_id"] == stack.source_id and details["count"] == 2
    assert details["raw_event_ids"] is None and details["since"]
    # Nothing is left in error: a second run moves nothing.
    assert stack.ctl("reprocess", "--source", stack.source_id, "--since", "1h",
                     json_out=True)["count"] == 0
    assert stack.count("conversions") == 3
