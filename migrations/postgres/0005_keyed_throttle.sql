-- Failed password attempts (web sign-in and every re-authentication), counted per account
-- and per client address. The old table kept whatever was typed into the email field in
-- clear (people type passwords there); it is dropped with its contents. Rows are keyed by
-- an HMAC of the normalised typed address ('account:<hex>') or of the client address
-- ('address:<hex>'), with a key only this database holds (server_secrets).
DROP TABLE sign_in_failures;
CREATE TABLE attempt_throttle (
    key_hash     TEXT PRIMARY KEY,
    -- Failures counted so far; an attempt is counted before it may be hashed, and the count
    -- decays by one per quiet period (src/domain/lockout.rs).
    failures     BIGINT NOT NULL,
    -- Failures allowed before the first lock: fewer for an account than for a client
    -- address (src/domain/lockout.rs). Kept in the row so that one statement can count an
    -- attempt for an account and for an address at once.
    free_failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL,
    -- After this the row says nothing the policy would act on; it is deleted.
    expires_at   BIGINT NOT NULL
);
CREATE INDEX attempt_throttle_expiry ON attempt_throttle (expires_at);

-- Secrets this installation generated for itself on first start.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A failed attempt names no account when the typed address has none; this keyed hash of
-- the typed address lets an admin still find those attempts for an address they know.
ALTER TABLE audit_log ADD COLUMN typed_key TEXT;
CREATE INDEX audit_log_typed_key ON audit_log (typed_key, at);
