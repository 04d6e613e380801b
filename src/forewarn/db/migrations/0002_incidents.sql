-- One row per incident version (schemas/incident.avsc), so analysts can replay how an incident
-- moved through its phases. (incident_id, version) is the identity: replays of the incidents
-- topic fold together under ReplacingMergeTree, the writer skips versions already stored, and
-- the views aggregate with argMax/min so a leftover copy never changes a number.
-- Partitioned by the month the incident opened, which every version of it shares.
CREATE TABLE IF NOT EXISTS incidents
(
    incident_id        String,
    version            Int64,
    dedup_key          String,
    title              String,
    service            LowCardinality(String),
    region             LowCardinality(String),
    symptom            LowCardinality(String),
    phase              LowCardinality(String),
    severity           LowCardinality(String),
    kind               LowCardinality(String),
    change             LowCardinality(String),
    internal           Bool,
    opened_at          DateTime64(3, 'UTC'),
    updated_at         DateTime64(3, 'UTC'),
    first_signal_at    DateTime64(3, 'UTC'),
    resolved_at        Nullable(DateTime64(3, 'UTC')),
    eta                Nullable(DateTime64(3, 'UTC')),
    next_update_at     Nullable(DateTime64(3, 'UTC')),
    cause              Nullable(String),
    summary            String,
    rule               Nullable(String),
    signal_ids         Array(String),
    affected_services  Array(String),
    parent_incident_id Nullable(String),
    customer_id        Nullable(String),
    share_affected     Nullable(Float64),
    flags              Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(opened_at)
ORDER BY (incident_id, version);
