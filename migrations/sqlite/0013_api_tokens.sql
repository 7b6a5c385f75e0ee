-- Bearer tokens for the JSON API (/api/v1), created by an admin. Only the SHA-256 of a token
-- is kept (the token holds 256 random bits, so a plain digest cannot be reversed). A token
-- acts with its creator's standing: disabling or demoting the creator stops it.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    read_write   INTEGER NOT NULL DEFAULT 0 CHECK (read_write IN (0, 1)),
    created_by   INTEGER NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    last_used_ip TEXT,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES users(id)
);
