-- Failed IMAP logins as Dovecot reports them (auth policy, report after auth), counted per
-- username and client address, so users and admins can see who is trying.
CREATE TABLE imap_login_failures (
    username   TEXT NOT NULL,
    ip         TEXT NOT NULL,
    failures   INTEGER NOT NULL,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (username, ip)
);
