-- How far the audit writers may have written each partition of the audit topic.
--
-- A writer claims a partition by adding a row with the next revision, its own writer id and a
-- through_offset past the highest offset it is about to store; it adds another (reserving the
-- next stretch) before it stores past that. So every stored audit row's Kafka offset is at or
-- below the latest through_offset of its partition. A writer that finds its own row still the
-- latest knows nobody else wrote in between, and needs no replay check for records past what
-- it stored itself; a new writer (a restart, a rebalance) checks everything up to the latest
-- through_offset it found. Without this every batch searched `audit` for each of its ids.
-- Rows stored before this table existed have no claim: a partition's first batch is checked.
-- ReplacingMergeTree keeps the latest revision per partition.
CREATE TABLE IF NOT EXISTS audit_progress
(
    topic          LowCardinality(String),
    partition      UInt32,
    revision       UInt64,
    through_offset Int64,
    writer         String,
    updated_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (topic, partition);
