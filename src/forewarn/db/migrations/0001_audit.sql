-- Every decision and send, one row per AuditRecord (schemas/audit_record.avsc).
--
-- audit_id is deterministic, so a replayed decision carries the same id: ReplacingMergeTree
-- keyed on it folds copies together when parts merge. Merges are eventual, so the writer also
-- skips ids already stored and every analyst view reads through FINAL or aggregates that
-- ignore copies. Partitioned by month so retention can drop whole months.
CREATE TABLE IF NOT EXISTS audit
(
    audit_id          String,
    recorded_at       DateTime64(3, 'UTC'),
    stage             LowCardinality(String),
    action            LowCardinality(String),
    incident_id       Nullable(String),
    incident_version  Nullable(Int64),
    notification_id   Nullable(String),
    customer_ref      Nullable(String) COMMENT 'keyed hash of the customer id, never an address',
    channel           LowCardinality(Nullable(String)),
    severity          LowCardinality(Nullable(String)),
    kind              LowCardinality(Nullable(String)),
    phase             LowCardinality(Nullable(String)),
    rule              Nullable(String),
    signal_at         Nullable(DateTime64(3, 'UTC')),
    draft_source      LowCardinality(Nullable(String)),
    draft_version     Nullable(Int32),
    verdicts          Array(String),
    approver          Nullable(String),
    sent_at           Nullable(DateTime64(3, 'UTC')),
    provider_response Nullable(String),
    detail            Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY audit_id;
