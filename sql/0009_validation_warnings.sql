-- Validation sampling (GA4 `--validate-sample`): a sampled request goes to
-- the platform's validation endpoint first, and its warnings are kept as
-- delivery_attempts rows with outcome 'validation_warning'.  `adsengctl
-- stats` counts them per destination; this partial index keeps that count
-- to the (few) warning rows instead of every attempt.
CREATE INDEX delivery_attempts_validation_warning ON delivery_attempts (delivery_id)
	WHERE outcome = 'validation_warning';
