-- Login history: one row per IMAP login Dovecot reports (auth policy, report after auth),
-- successful or not, for a user's recent logins and the admin's activity chart. Kept for
-- 30 days (services::activity::LOGIN_HISTORY_DAYS), pruned by the daily maintenance.
-- user_id is the account the typed username names, if any; credential_id the app password
-- that logged in, if one did (NULL on a success: the main password).
CREATE TABLE imap_logins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            BIGINT  NOT NULL,
    user_id       BIGINT  REFERENCES users(id) ON DELETE CASCADE,
    username      TEXT    NOT NULL,
    credential_id BIGINT  REFERENCES app_passwords(id) ON DELETE SET NULL,
    ip            TEXT    NOT NULL,
    protocol      TEXT    NOT NULL,
    succeeded     BOOLEAN NOT NULL
);
CREATE INDEX imap_logins_user ON imap_logins (user_id, at);
CREATE INDEX imap_logins_at ON imap_logins (at);

-- Bulk revocations run as jobs after the admin's confirmation: the page that follows the
-- run reads its progress here, written after each batch. A job still 'running' when a
-- process starts belonged to a process that stopped: start-up marks it 'interrupted'.
CREATE TABLE bulk_jobs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_user_id BIGINT  REFERENCES users(id),
    filter        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('running', 'done', 'failed', 'interrupted')),
    matched       BIGINT  NOT NULL,
    revoked       BIGINT  NOT NULL DEFAULT 0,
    accounts      BIGINT  NOT NULL DEFAULT 0,
    batches       BIGINT  NOT NULL DEFAULT 0,
    not_kicked    BIGINT  NOT NULL DEFAULT 0,
    started_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX bulk_jobs_state ON bulk_jobs (state);
