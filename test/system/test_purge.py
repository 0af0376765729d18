"""`adsengctl purge` (README "Retention"): raw events and dedup keys older
than the cutoff go, whole old partitions are dropped, the partition of the
cutoff is trimmed row by row, a raw event still waiting for stage 1 is kept
(with its partition), a dry run changes nothing, the audit log has the
counts, and a cutoff younger than 7 days is refused.

The daemon is stopped while rows are moved back in time, so stage 1 never
takes the raw_queue row the test plants.
"""

import datetime

from harness import shopify_order, wait_until


def last_month(day, hour=12):
    first = datetime.datetime.now(datetime.timezone.utc).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)
    prev = (first - datetime.timedelta(days=1)).replace(day=day, hour=hour)
    return prev.strftime("%Y-%m-%dT%H:%M:%SZ")


def move(stack, raw_id, when):
    """Received at `when` (the row moves partition), and its dedup key too."""
    stack.sql("UPDATE raw_events SET received_at = '%s' WHERE id = %d" % (when, raw_id))
    stack.sql("UPDATE ingest_keys SET received_at = '%s' WHERE raw_event_id = %d"
              % (when, raw_id))


def test_purge_drops_old_partitions_trims_the_cutoff_month_and_keeps_pending(make_stack):
    stack = make_stack().setup_demo().start()
    for i in range(7):
        assert stack.post_shopify(shopify_order(700 + i), webhook_id="pg-%d" % i)[0] == 200
    stack.wait_states({"delivered": 7})
    stack.stop()
    ids = [int(r[0]) for r in stack.sql("SELECT id FROM raw_events ORDER BY id")]
    assert len(ids) == 7

    # Two old months: January whole, February with an event stage 1 has
    # not taken yet.
    for m in ("01", "02"):
        stack.sql("CREATE TABLE raw_events_2026%s PARTITION OF raw_events FOR VALUES "
                  "FROM ('2026-%s-01 00:00Z') TO ('2026-%s-01 00:00Z')"
                  % (m, m, "%02d" % (int(m) + 1)))
    move(stack, ids[0], "2026-01-10T00:00:00Z")
    move(stack, ids[1], "2026-01-20T00:00:00Z")
    move(stack, ids[2], "2026-02-10T00:00:00Z")
    stack.sql("INSERT INTO raw_queue VALUES (%d, '2026-02-10T00:00:00Z')" % ids[2])
    # Last month, around the cutoff (the 15th): before, after, and before
    # but still pending.
    move(stack, ids[3], last_month(10))
    move(stack, ids[4], last_month(20))
    move(stack, ids[5], last_month(5))
    stack.sql("INSERT INTO raw_queue VALUES (%d, '%s')" % (ids[5], last_month(5)))
    cutoff = last_month(15, 0)

    dry = stack.ctl("purge", "--older-than", cutoff, "--dry-run", json_out=True)
    assert dry["dry_run"] is True
    assert dry["raw_events"] == 3  # ids 0, 1 (January) and 3
    assert dry["partitions_dropped"] == ["raw_events_202601"]
    assert dry["partitions_kept"] == [
        {"name": "raw_events_202602", "reason": "events still queued for stage 1"}]
    assert dry["ingest_keys"] == 5 and dry["kept_pending"] == 2
    assert stack.count("raw_events") == 7
    assert stack.count("audit_log", "action = 'purge'") == 0

    out = stack.ctl("purge", "--older-than", cutoff, json_out=True)
    assert out["raw_events"] == 3 and out["ingest_keys"] == 5 and out["item_keys"] == 0
    assert out["partitions_dropped"] == ["raw_events_202601"]
    assert stack.scalar("SELECT to_regclass('raw_events_202601') IS NULL") == "t"
    assert stack.scalar("SELECT to_regclass('raw_events_202602') IS NOT NULL") == "t"
    left = [int(r[0]) for r in stack.sql("SELECT id FROM raw_events ORDER BY id")]
    assert left == [ids[2], ids[4], ids[5], ids[6]]
    assert stack.count("ingest_keys") == 2  # ids 4 and 6
    # Conversions and deliveries stay.
    assert stack.count("conversions") == 7
    assert stack.states() == {"delivered": 7}
    audit = stack.scalar("SELECT details->>'raw_events' FROM audit_log WHERE action = 'purge'")
    assert audit == "3"

    # Again: nothing more to do; the pending ones are still kept.
    again = stack.ctl("purge", "--older-than", cutoff, json_out=True)
    assert again["raw_events"] == 0 and again["kept_pending"] == 2

    # Once stage 1 has taken them, they can go.
    stack.start()
    wait_until(lambda: stack.count("raw_queue") == 0, what="stage 1 to take the queue")
    stack.stop()
    done = stack.ctl("purge", "--older-than", cutoff, json_out=True)
    assert done["raw_events"] == 2 and done["partitions_dropped"] == ["raw_events_202602"]
    assert [int(r[0]) for r in stack.sql("SELECT id FROM raw_events ORDER BY id")] == \
        [ids[4], ids[6]]


def test_purge_refuses_a_young_cutoff_and_bad_ages(make_stack):
    stack = make_stack().setup_demo()
    p = stack.ctl("purge", "--older-than", "6d", check=False)
    assert p.returncode == 1 and "younger than 7 days" in p.stderr
    p = stack.ctl("purge", "--older-than", "soon", check=False)
    assert p.returncode == 2
    p = stack.ctl("purge", check=False)
    assert p.returncode == 2
    out = stack.ctl("purge", "--older-than", "7d", "--dry-run", json_out=True)
    assert out["raw_events"] == 0
