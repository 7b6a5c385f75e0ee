-- A second factor for web sign-in: TOTP, recovery codes, passkeys, and sessions that wait
-- for the second factor.

-- 'pending': the password was right and the second factor is still owed; such a session
-- grants nothing but the second-factor page. 'full': signed in.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full' CHECK (stage IN ('pending', 'full'));
-- When the owner last proved a second factor in this session (sign-in or re-authentication);
-- creating a credential asks again when this is older than reauth_after_secs.
ALTER TABLE sessions ADD COLUMN verified_at BIGINT NOT NULL DEFAULT 0;
-- The WebAuthn ceremony under way in this session (the server's half, JSON), if any.
ALTER TABLE sessions ADD COLUMN challenge TEXT;

-- One authenticator app per account. The secret is shown once at enrolment and is active
-- only once confirmed with a code.
CREATE TABLE totp_secrets (
    user_id      BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT    NOT NULL,
    confirmed_at BIGINT,
    -- The last 30-second step whose code was accepted: a code is never accepted twice.
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- Single-use recovery codes, kept as keyed hashes (HMAC-SHA-256 under the server key).
CREATE TABLE recovery_codes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, code_hash)
);

-- Passkeys and security keys (WebAuthn credentials, webauthn-rs's Passkey as JSON).
CREATE TABLE passkeys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    credential_id TEXT    NOT NULL UNIQUE,
    passkey       TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);
