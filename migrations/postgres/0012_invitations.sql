-- Invitations: an admin creates an account from the browser (or the API, or the command
-- line) as a link the new user opens to choose a password. Only a digest of the link's token
-- is kept; a link works once, before it expires.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    email      TEXT    NOT NULL,
    is_admin   BOOLEAN NOT NULL DEFAULT FALSE,
    created_by BIGINT  REFERENCES users(id),
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invitations_email ON invitations (email);
