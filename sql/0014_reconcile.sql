-- Periodic reconcile (settings.reconcile_interval_s, set by `adsengctl
-- source reconcile SOURCE --interval D`).
--  reconciled_at:   when the last run started, good or not.  A daemon
--                   claims a due source by moving it to now in one UPDATE
--                   (FOR UPDATE SKIP LOCKED), so several daemons never run
--                   the same source at once, and a failing shop is tried
--                   once an interval, not in a loop.
--  reconciled_from: when the last good run started: the next run asks for
--                   what changed since then, so a failed run leaves no gap.
ALTER TABLE sources ADD COLUMN reconciled_at timestamptz,
                    ADD COLUMN reconciled_from timestamptz;
