-- Consecutive failed web sign-ins per typed username (known or not, so a lock reveals
-- nothing about which accounts exist). Kept in the database so that a lock holds across
-- every Mailkeys instance. Only web sign-in reads it: IMAP logins are Dovecot's business,
-- so locking the web account never cuts a user off their app passwords.
CREATE TABLE sign_in_failures (
    username     TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);
