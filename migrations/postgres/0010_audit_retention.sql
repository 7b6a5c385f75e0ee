-- Audit retention. The log stays append-only for the application: UPDATE is always refused,
-- and DELETE only for rows older than `allowed_before`, which is 0 except inside the one
-- cleanup transaction (services::audit_log::clean_up), which raises it, deletes, sets it back
-- to 0 and records its own audit entry before committing: no other transaction ever sees it
-- raised.
CREATE TABLE audit_cleanup (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    allowed_before BIGINT NOT NULL
);
INSERT INTO audit_cleanup (id, allowed_before) VALUES (1, 0);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.at < (SELECT allowed_before FROM audit_cleanup WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at);
