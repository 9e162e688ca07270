-- The newest full snapshot a leader built, signed as the data planes got it, kept so that a
-- control plane that starts or takes the lead resumes from it (its rows, plus those stamped
-- after `seq`) instead of reading every row, and keeps sending deltas of the base the data
-- planes already hold (store/base.rs). One base at a time: `snapshot_base` names it, and its
-- bytes are `parts` rows of `snapshot_base_parts` under its version (written one part per
-- transaction, so a hundred megabytes never hold the write lock at once). `ages`: the creation
-- time of each provider key, in the snapshot's order (projects' keys, then pooled ones), which
-- orders keys of equal priority and is not in the snapshot.
CREATE TABLE snapshot_base (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    parts BIGINT NOT NULL,
    ages BYTEA NOT NULL
);
CREATE TABLE snapshot_base_parts (
    version BIGINT NOT NULL,
    part BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (version, part)
);
