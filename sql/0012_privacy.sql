-- Privacy (GDPR) requests of a source's sender (Shopify's customers/redact
-- and shop/redact): what was already sent stays countable, only its clear
-- identifiers go.
--
-- redacted_at marks a conversion whose payload was stripped at a privacy
-- request: it keeps what the platforms already received as hashes (the
-- SHA-256 identifiers of `ids`) and its business fields (event, value,
-- currency, order id, items, consent), and loses the clear ones (client IP,
-- user agent, landing URL, click ids, Google's plain-text address parts).
-- Customer Match leaves such a conversion out, so the next audience sync
-- removes the person from the platform's list.
ALTER TABLE conversions ADD COLUMN redacted_at timestamptz;

-- The payload p without anything but hashes among its identifiers.  A
-- hash is 64 lowercase hex digits (what pii.c writes); a scheme left with
-- none disappears.
CREATE FUNCTION adseng_redact_payload(p jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT (p - 'client_ip' - 'user_agent' - 'page_url' - 'click' - 'ids')
	       || CASE WHEN x.h IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('ids', x.h) END
	FROM (SELECT jsonb_object_agg(s.key, s.v) AS h
	      FROM (SELECT s.key,
	                   (SELECT jsonb_object_agg(f.key, f.value) FROM jsonb_each(s.value) f
	                    WHERE jsonb_typeof(f.value) = 'string'
	                      AND f.value #>> '{}' ~ '^[0-9a-f]{64}$') AS v
	            FROM jsonb_each(CASE WHEN jsonb_typeof(p->'ids') = 'object'
	                                 THEN p->'ids' ELSE '{}'::jsonb END) s
	            WHERE jsonb_typeof(s.value) = 'object') s
	      WHERE s.v IS NOT NULL) x
$$;
