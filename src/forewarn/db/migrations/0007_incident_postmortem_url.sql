-- Post-mortem versions carry the published report's URL.
--
-- incidents.postmortem_url (schemas/incident.avsc, schema id 22): on the version detection
-- publishes when a P1/P2 post-mortem is published (change 'postmortem'), the http(s) URL the
-- person gave `forewarn postmortem publish --url`. NULL on every other version and on versions
-- stored before this column existed; for those the URL is the audit row of the publication
-- (stage 'postmortem', action 'published', detail['url']), as the postmortems view reads it.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS postmortem_url Nullable(String) AFTER window_starts_at;
