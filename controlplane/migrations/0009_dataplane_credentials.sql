-- Per-data-plane credentials: a data plane enrols once with the shared enrolment token
-- (`dataplane-token`) and gets a credential bound to its id (an HMAC of the id and this
-- generation under the control plane's `dataplane-credential.key`; never stored). It registers,
-- ships usage and receives pushes with that credential only. 0: not enrolled yet. Revoking bumps
-- nothing: it marks the row, and the next enrolment moves to the next generation, so every
-- credential issued before is dead.
ALTER TABLE dataplanes ADD COLUMN credential_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dataplanes ADD COLUMN revoked BIGINT NOT NULL DEFAULT 0;
