-- Time to acknowledge, and notifications broken down by severity and kind.
--
-- incidents.acknowledged_at (schemas/incident.avsc, schema id 16): when a person first took the
-- incident on, the first PagerDuty acknowledge, else the first operator update moving it out of
-- investigating. Rows written before this column existed (and incidents nobody acknowledged,
-- such as maintenance) read NULL, so time_to_acknowledge_s is NULL for them rather than a guess.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS acknowledged_at Nullable(DateTime64(3, 'UTC')) AFTER flags;

-- incident_mttr, as in 0003, plus two columns at the end (so positional readers keep working):
--   acknowledged_at        earliest acknowledged_at over the versions (detection keeps the first)
--   time_to_acknowledge_s  seconds from the first signal to it
-- identified_at stays derived: updated_at of the first version in phase 'identified'.
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
            min(acknowledged_at)                                  AS first_acknowledged_at,
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
    dateDiff('millisecond', v.earliest_signal_at, v.latest_resolved_at) / 1000  AS mttr_s,
    v.first_acknowledged_at                                                   AS acknowledged_at,
    dateDiff('millisecond', v.earliest_signal_at, v.first_acknowledged_at) / 1000 AS time_to_acknowledge_s
FROM versions AS v
LEFT JOIN notified AS n ON n.notified_incident_id = v.incident_id;

-- notifications_by_severity_kind: notifications_per_channel, further split by the severity and
-- kind of the incident. Delivery receipts carry no severity or kind, so they come from the
-- incident version the message was about (incident_id, incident_version), else the incident's
-- latest version, else 'unknown'; a row that carries its own (commands, approvals) keeps it.
-- A separate view so notifications_per_channel keeps its grain (customers_reached per day and
-- channel would be summed across severities here).
CREATE OR REPLACE VIEW notifications_by_severity_kind AS
WITH
    at_version AS
    (
        SELECT incident_id AS v_incident_id, version AS v_version, any(severity) AS v_severity, any(kind) AS v_kind
        FROM incidents
        GROUP BY incident_id, version
    ),
    latest AS
    (
        SELECT incident_id AS l_incident_id, argMax(severity, version) AS l_severity, argMax(kind, version) AS l_kind
        FROM incidents
        GROUP BY incident_id
    )
SELECT
    toDate(coalesce(a.sent_at, a.recorded_at))                                            AS day,
    ifNull(a.channel, 'unknown')                                                          AS channel,
    toString(coalesce(a.severity, nullIf(v.v_severity, ''), nullIf(l.l_severity, ''), 'unknown')) AS severity,
    toString(coalesce(a.kind, nullIf(v.v_kind, ''), nullIf(l.l_kind, ''), 'unknown'))             AS kind,
    count()                                                                               AS notifications,
    countIf(a.action = 'delivered')                                                       AS delivered,
    countIf(a.action = 'failed')                                                          AS failed,
    countIf(a.action = 'dead_lettered')                                                   AS dead_lettered,
    countIf(a.action = 'duplicate')                                                       AS duplicate,
    countIf(a.action = 'dry_run')                                                         AS dry_run,
    uniqExactIf(a.customer_ref, a.action = 'delivered')                                   AS customers_reached,
    uniqExactIf(a.incident_id, a.action = 'delivered')                                    AS incidents_notified
FROM audit AS a FINAL
LEFT JOIN at_version AS v ON v.v_incident_id = a.incident_id AND v.v_version = a.incident_version
LEFT JOIN latest AS l ON l.l_incident_id = a.incident_id
WHERE a.stage = 'deliver'
GROUP BY day, channel, severity, kind;
