-- Mailkeys schema, SQLite flavour. Times are Unix seconds (UTC) so both backends share one
-- representation; emails are stored lower-cased, which makes UNIQUE case-insensitive.
-- Flags are INTEGER 0/1 here (BOOLEAN on PostgreSQL): sqlx's Any driver cannot read
-- SQLite's BOOLEAN affinity, and 0/1 is what SQLite stores for TRUE/FALSE anyway.

CREATE TABLE users (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    email                   TEXT    NOT NULL UNIQUE,
    password_hash           TEXT    NOT NULL,
    is_admin                INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled                INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    must_reset              INTEGER NOT NULL DEFAULT 0 CHECK (must_reset IN (0, 1)),
    -- The user's own choice: may the main password log in over IMAP?
    main_imap_allowed       INTEGER NOT NULL DEFAULT 0 CHECK (main_imap_allowed IN (0, 1)),
    -- An admin's veto, which the user cannot lift.
    main_imap_admin_blocked INTEGER NOT NULL DEFAULT 0 CHECK (main_imap_admin_blocked IN (0, 1)),
    created_at              INTEGER NOT NULL,
    password_changed_at     INTEGER NOT NULL
);

CREATE TABLE app_passwords (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    lookup_id          TEXT    NOT NULL,
    password_hash      TEXT    NOT NULL,
    scope              TEXT    NOT NULL DEFAULT 'imap' CHECK (scope IN ('imap', 'imap+smtp')),
    -- NULL: any address; otherwise Dovecot allow_nets syntax (comma-separated CIDRs).
    allowed_nets       TEXT,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER,
    last_used_at       INTEGER,
    last_used_ip       TEXT,
    last_used_protocol TEXT,
    revoked_at         INTEGER,
    revoked_by         INTEGER REFERENCES users(id),
    revoked_reason     TEXT,
    -- Revoked rows stay for the audit trail, so a lookup id is never reused for a user.
    UNIQUE (user_id, lookup_id)
);
CREATE UNIQUE INDEX app_passwords_active_name ON app_passwords (user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE sessions (
    -- SHA-256 of the cookie value: a copy of the database does not yield live sessions.
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE setup_tokens (
    token_hash TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    actor_user_id   INTEGER REFERENCES users(id),
    subject_user_id INTEGER REFERENCES users(id),
    event           TEXT    NOT NULL,
    detail          TEXT    NOT NULL DEFAULT '',
    ip              TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, at);
-- Append-only: the application never updates or deletes audit rows, and the database agrees.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The contract Dovecot reads (see deploy/dovecot). Tables may change; these views may not
-- without a matching change to the shipped Dovecot queries.
CREATE VIEW dovecot_app_passwords AS
SELECT u.email         AS username,
       a.lookup_id     AS lookup_id,
       a.id            AS credential_id,
       a.password_hash AS password,
       a.scope         AS scope,
       a.allowed_nets  AS allowed_nets
FROM app_passwords a
JOIN users u ON u.id = a.user_id
WHERE a.revoked_at IS NULL
  AND (a.expires_at IS NULL OR a.expires_at > CAST(strftime('%s', 'now') AS INTEGER))
  AND NOT u.disabled
  AND NOT u.must_reset;

-- Every lookup id a user has ever had, live or not: a typed password that starts with one of
-- them is an app password attempt, so the main-password check (a costly argon2) is skipped.
CREATE VIEW dovecot_lookup_ids AS
SELECT u.email AS username, a.lookup_id AS lookup_id
FROM app_passwords a
JOIN users u ON u.id = a.user_id;

CREATE VIEW dovecot_main_passwords AS
SELECT u.email AS username, u.password_hash AS password
FROM users u
WHERE NOT u.disabled
  AND NOT u.must_reset
  AND u.main_imap_allowed
  AND NOT u.main_imap_admin_blocked;
