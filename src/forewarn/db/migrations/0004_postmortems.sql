-- postmortems: one row per resolved customer-facing P1-P3 incident that owes a post-mortem.
--
-- Due 48 h after resolution for P1, 72 h for P2, one week for P3 (P4 owes none). The state is
-- the latest post-mortem audit row (stage 'postmortem'; actions drafting, in_review, published,
-- written by `forewarn postmortem start|review|publish`), else 'due'; `overdue` compares with
-- now(). P1 and P2 post-mortems are published on the status page (`publish_on_status_page`).
CREATE OR REPLACE VIEW postmortems AS
WITH
    owed AS
    (
        SELECT
            incident_id,
            title,
            severity,
            resolved_at,
            resolved_at + multiIf(severity = 'P1', toIntervalHour(48),
                                  severity = 'P2', toIntervalHour(72),
                                  toIntervalDay(7))                  AS due_at
        FROM incident_mttr
        WHERE severity IN ('P1', 'P2', 'P3') AND resolved_at IS NOT NULL AND NOT internal
    ),
    progress AS
    (
        SELECT
            assumeNotNull(incident_id)                 AS progress_incident_id,
            argMax(action, recorded_at)                AS latest_action,
            max(recorded_at)                           AS changed_at,
            argMaxIf(detail['url'], recorded_at, action = 'published') AS url,
            minIf(recorded_at, action = 'published')   AS published_at
        FROM audit FINAL
        WHERE stage = 'postmortem' AND incident_id IS NOT NULL
        GROUP BY progress_incident_id
    )
SELECT
    o.incident_id                                                         AS incident_id,
    o.title                                                               AS title,
    o.severity                                                            AS severity,
    o.resolved_at                                                         AS resolved_at,
    o.due_at                                                              AS due_at,
    if(p.progress_incident_id = '', 'due', p.latest_action)               AS state,
    if(p.progress_incident_id = '', NULL, p.changed_at)                   AS state_changed_at,
    if(p.url = '', NULL, p.url)                                           AS url,
    if(p.progress_incident_id = '' OR p.latest_action != 'published', NULL, p.published_at) AS published_at,
    (p.progress_incident_id = '' OR p.latest_action != 'published') AND now64(3, 'UTC') > o.due_at AS overdue,
    o.severity IN ('P1', 'P2')                                            AS publish_on_status_page
FROM owed AS o
LEFT JOIN progress AS p ON p.progress_incident_id = o.incident_id;
