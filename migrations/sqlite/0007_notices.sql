-- Notices of credential changes, by mail (src/services/notices). A row is written in the
-- transaction of the change it reports, so a rolled-back change sends nothing and a
-- committed one is never lost; a worker sends it through the SMTP relay afterwards.
CREATE TABLE notice_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The account's address when the notice was queued.
    recipient       TEXT    NOT NULL,
    -- What happened (a `Notice` variant) and its facts, as JSON; never a secret.
    kind            TEXT    NOT NULL,
    facts           TEXT    NOT NULL,
    -- The client address the change came from, if any.
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    -- Tries so far (a try is counted when a worker claims the row).
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A worker that claimed the row holds it until then; after that (it died) another may.
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX notice_queue_due ON notice_queue (status, next_attempt_at);

-- Browsers and client networks an account has signed in from: a sign-in from one it has
-- not is reported. `kind` 'device': the SHA-256 of a long-lived random cookie; 'network':
-- the client's IPv4 address or IPv6 /64.
CREATE TABLE known_devices (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('device', 'network')),
    value         TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);
