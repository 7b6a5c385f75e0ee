-- The PostgreSQL role Dovecot connects as: it may read the three views Mailkeys made for
-- Dovecot and nothing else (views run with their owner's rights, so no grant on the tables
-- is needed). Run as a superuser or the database owner, e.g.
--     sudo -u postgres psql -d {{ pg.dbname }} -f mailkeys-dovecot-role.sql
-- Safe to run again (after a migration re-created a view, its grant must be given again).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{ pg.user }}') THEN
        CREATE ROLE "{{ pg.user }}" LOGIN;
    END IF;
END
$$;
{% if let Some(password) = pg.password %}ALTER ROLE "{{ pg.user }}" LOGIN PASSWORD '{{ password }}';
{% endif %}GRANT CONNECT ON DATABASE "{{ pg.dbname }}" TO "{{ pg.user }}";
GRANT USAGE ON SCHEMA public TO "{{ pg.user }}";
GRANT SELECT ON dovecot_app_passwords, dovecot_lookup_ids, dovecot_main_passwords
    TO "{{ pg.user }}";
