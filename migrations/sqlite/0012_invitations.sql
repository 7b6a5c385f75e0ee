-- Invitations: an admin creates an account from the browser (or the API, or the command
-- line) as a link the new user opens to choose a password. Only a digest of the link's token
-- is kept; a link works once, before it expires.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    email      TEXT    NOT NULL,
    is_admin   INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX invitations_email ON invitations (email);
