-- Anchors of each data plane's audit chain: the chain hash at the two ends of every usage batch
-- (`audit verify --anchors` checks a log against them), and the alerts raised when a batch
-- does not agree with them (a log cut short, rewritten, or a range never shipped).
CREATE TABLE audit_anchors (
    dataplane TEXT NOT NULL,
    segment BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL,
    hash TEXT NOT NULL,
    received_at_us BIGINT NOT NULL,
    PRIMARY KEY (dataplane, segment, byte_offset)
);
CREATE TABLE audit_alerts (
    id BIGINT PRIMARY KEY,
    dataplane TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE INDEX audit_alerts_by_dataplane ON audit_alerts (dataplane, id);
