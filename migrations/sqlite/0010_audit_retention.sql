-- Audit retention. The log stays append-only for the application: UPDATE is always refused,
-- and DELETE only for rows older than `allowed_before`, which is 0 except inside the one
-- cleanup transaction (services::audit_log::clean_up), which raises it, deletes, sets it back
-- to 0 and records its own audit entry before committing. No other connection ever sees it
-- raised: SQLite has one writer at a time, and on PostgreSQL the change is never committed.
CREATE TABLE audit_cleanup (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    allowed_before INTEGER NOT NULL
);
INSERT INTO audit_cleanup (id, allowed_before) VALUES (1, 0);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= (SELECT allowed_before FROM audit_cleanup WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- The audit page and export filter by time and by actor over the whole log.
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at);
