-- The admin's account list: sorted by last activity (a web sign-in or an IMAP login with an
-- app password), searched and paged without scanning per-user subqueries; and admin
-- standing: a superadmin alone grants or removes admin rights, and acts on admins.
ALTER TABLE users ADD COLUMN last_activity_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN is_superadmin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET last_activity_at = GREATEST(created_at,
    COALESCE((SELECT MAX(last_used_at) FROM app_passwords a WHERE a.user_id = users.id), 0));
-- An existing installation's first admin (the one the setup link made) becomes superadmin.
UPDATE users SET is_superadmin = TRUE WHERE id = (SELECT MIN(id) FROM users WHERE is_admin);
CREATE INDEX users_activity ON users (last_activity_at, id);
CREATE INDEX app_passwords_live ON app_passwords (user_id, revoked_at, expires_at);
