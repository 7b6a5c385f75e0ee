-- The PostgreSQL role Dovecot connects as: it may read the three views Mailkeys made for
-- Dovecot and nothing else (views run with their owner's rights, so no grant on the tables
-- is needed). Run as a superuser or the database owner, e.g.
--     sudo -u postgres psql -d mailkeys -f mailkeys-dovecot-role.sql
-- Safe to run again (after a migration re-created a view, its grant must be given again).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mailkeys_dovecot') THEN
        CREATE ROLE "mailkeys_dovecot" LOGIN;
    END IF;
END
$$;
ALTER ROLE "mailkeys_dovecot" LOGIN PASSWORD 'CHANGE_ME_DOVECOT_DB_PASSWORD';
GRANT CONNECT ON DATABASE "mailkeys" TO "mailkeys_dovecot";
GRANT USAGE ON SCHEMA public TO "mailkeys_dovecot";
GRANT SELECT ON dovecot_app_passwords, dovecot_lookup_ids, dovecot_main_passwords
    TO "mailkeys_dovecot";
