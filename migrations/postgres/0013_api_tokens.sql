-- Bearer tokens for the JSON API (/api/v1), created by an admin. Only the SHA-256 of a token
-- is kept (the token holds 256 random bits, so a plain digest cannot be reversed). A token
-- acts with its creator's standing: disabling or demoting the creator stops it.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    read_write   BOOLEAN NOT NULL DEFAULT FALSE,
    created_by   BIGINT  NOT NULL REFERENCES users(id),
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at   BIGINT,
    revoked_by   BIGINT  REFERENCES users(id)
);
