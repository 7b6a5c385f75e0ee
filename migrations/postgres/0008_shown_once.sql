-- A new app password waiting for its one showing (post/redirect/get): the create form
-- answers with a redirect, and the page it leads to shows the password once. The password
-- is sealed (ChaCha20-Poly1305) with a key derived from the browser session's cookie token,
-- which the database never holds (sessions keeps only its SHA-256): a copy of this table
-- opens nothing. A row lives minutes; the profile download removes it, expired rows are
-- purged, and it goes with its session or its app password.
CREATE TABLE shown_once (
    session_hash    TEXT    NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
    app_password_id BIGINT  NOT NULL REFERENCES app_passwords(id) ON DELETE CASCADE,
    -- base64 of nonce and ciphertext.
    sealed          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    -- When the page showed it; a second showing is refused.
    viewed_at       BIGINT,
    PRIMARY KEY (session_hash, app_password_id)
);
CREATE INDEX shown_once_expiry ON shown_once (expires_at);
