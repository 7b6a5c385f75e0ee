-- When the Dovecot auth-policy listener last accepted a report, and last refused one (wrong
-- or missing secret). The self-check (`mailkeys dovecot check`, Admin -> Dovecot) reads it,
-- possibly from another process than the listener's.
CREATE TABLE dovecot_reports (
    kind    TEXT PRIMARY KEY,
    last_at INTEGER NOT NULL
);
