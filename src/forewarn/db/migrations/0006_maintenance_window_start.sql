-- Maintenance windows state when they begin.
--
-- incidents.window_starts_at (schemas/incident.avsc, schema id 19): for a maintenance incident,
-- when the announced work is planned to begin; opened_at is when it was scheduled, eta its end.
-- NULL for every other kind, and for versions stored before this column existed (readers such
-- as the status page then fall back to opened_at, as the drafts do).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS window_starts_at Nullable(DateTime64(3, 'UTC')) AFTER acknowledged_at;
