-- Views analysts query instead of the raw tables, so nobody has to remember FINAL.
--
-- incident_mttr: one row per incident, all durations in seconds from the first signal
-- (the moment the problem started, which is what customers experience):
--   first_notified_at  earliest successful external send: stage 'deliver', action 'delivered',
--                      channel other than 'internal'; sent_at, else the time it was recorded
--   identified_at      updated_at of the first version in phase 'identified'
--   resolved_at        from the latest version, so a reopened incident is not counted resolved
-- Attributes (title, severity, kind, phase, ...) come from the latest version.
CREATE OR REPLACE VIEW incident_mttr AS
WITH
    versions AS
    (
        SELECT
            incident_id,
            argMax(title, version)                                AS latest_title,
            argMax(service, version)                              AS latest_service,
            argMax(region, version)                               AS latest_region,
            argMax(severity, version)                             AS latest_severity,
            argMax(kind, version)                                 AS latest_kind,
            argMax(phase, version)                                AS latest_phase,
            argMax(internal, version)                             AS latest_internal,
            argMax(resolved_at, version)                          AS latest_resolved_at,
            min(opened_at)                                        AS first_opened_at,
            min(first_signal_at)                                  AS earliest_signal_at,
            minIfOrNull(updated_at, phase = 'identified')         AS first_identified_at,
            uniqExact(version)                                    AS version_count
        FROM incidents
        GROUP BY incident_id
    ),
    notified AS
    (
        SELECT
            assumeNotNull(incident_id)                      AS notified_incident_id,
            toNullable(min(coalesce(sent_at, recorded_at))) AS first_delivered_at
        FROM audit
        WHERE stage = 'deliver'
          AND action = 'delivered'
          AND incident_id IS NOT NULL
          AND ifNull(channel, '') != 'internal'
        GROUP BY notified_incident_id
    )
SELECT
    v.incident_id                                                             AS incident_id,
    v.latest_title                                                            AS title,
    v.latest_service                                                          AS service,
    v.latest_region                                                           AS region,
    v.latest_severity                                                         AS severity,
    v.latest_kind                                                             AS kind,
    v.latest_phase                                                            AS phase,
    v.latest_internal                                                         AS internal,
    v.version_count                                                           AS versions,
    v.first_opened_at                                                         AS opened_at,
    v.earliest_signal_at                                                      AS first_signal_at,
    n.first_delivered_at                                                      AS first_notified_at,
    v.first_identified_at                                                     AS identified_at,
    v.latest_resolved_at                                                      AS resolved_at,
    dateDiff('millisecond', v.earliest_signal_at, n.first_delivered_at) / 1000 AS time_to_notify_s,
    dateDiff('millisecond', v.earliest_signal_at, v.first_identified_at) / 1000 AS time_to_identify_s,
    dateDiff('millisecond', v.earliest_signal_at, v.latest_resolved_at) / 1000  AS mttr_s
FROM versions AS v
LEFT JOIN notified AS n ON n.notified_incident_id = v.incident_id;

-- notifications_per_channel: outcomes of the deliver stage per day and channel. Reads through
-- FINAL so a replayed receipt is counted once.
CREATE OR REPLACE VIEW notifications_per_channel AS
SELECT
    toDate(coalesce(sent_at, recorded_at))                       AS day,
    ifNull(channel, 'unknown')                                   AS channel,
    count()                                                      AS notifications,
    countIf(action = 'delivered')                                AS delivered,
    countIf(action = 'failed')                                   AS failed,
    countIf(action = 'dead_lettered')                            AS dead_lettered,
    countIf(action = 'duplicate')                                AS duplicate,
    countIf(action = 'dry_run')                                  AS dry_run,
    uniqExactIf(customer_ref, action = 'delivered')              AS customers_reached,
    uniqExactIf(incident_id, action = 'delivered')               AS incidents_notified
FROM audit FINAL
WHERE stage = 'deliver'
GROUP BY day, channel;
