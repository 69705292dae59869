-- The PostgreSQL half of the data isolation that Terraform cannot express (the google
-- provider creates databases and IAM users, not roles and grants). Idempotent: the
-- deploy workflow (.github/workflows/deploy.yml, through scripts/apply-database-grants.sh) runs it
-- once per service, before `terraform apply` and again after it, as the deployer's IAM
-- database user (a member of cloudsqlsuperuser), through the Cloud SQL Auth Proxy:
--
--   psql "host=127.0.0.1 port=5432 dbname=postgres user=<deployer>@<project>.iam" \
--     -v ON_ERROR_STOP=1 -v service=cart -v db=cartflow_cart \
--     -v login=cartflow-cart@<project>.iam -f terraform/sql/bootstrap-database.sql
--
-- (`terraform output -json database_users` lists service, db and login.)
--
-- For each service's database it makes:
--   cartflow_<svc>_owner  NOLOGIN: owns the database, schema public and every object in
--                         it. Migrations run as this role.
--   cartflow_<svc>_app    NOLOGIN: CONNECT to this database, USAGE on its schema, DML on
--                         its tables and sequences. Nothing else.
--   <login>               the service account's IAM user: member of the two above, of
--                         no other role; no CREATEROLE, CREATEDB or SUPERUSER.
-- and revokes everything PUBLIC had on the database (CONNECT, TEMPORARY) and its schema,
-- so another service's login cannot even connect. The last statement fails the deploy
-- if any of the three roles can create roles or databases or is in cloudsqlsuperuser.
--
-- Migrations: the services apply their sqlx migrations at start-up, so today the login
-- is also a member of the owner role and its sessions in this database run as it
-- (ALTER ROLE ... IN DATABASE ... SET role): every table is owned by the owner role,
-- never by a login. When the services get a migrate-only mode, a separate migration
-- job signs in, and the two `owner` lines marked (*) below move to that job's login:
-- the service's login then holds only the app role.
--
-- First deployment, or the move from the former built-in users (cartflow_<svc>, with
-- passwords): run `terraform apply -target=google_sql_user.service
-- -target=google_sql_user.deployer` first, then this script (it hands everything the
-- former user owned to the owner role, below), then the full apply, which removes the
-- built-in users and their secrets.

SET client_min_messages = warning;
\set owner cartflow_ :service _owner
\set app cartflow_ :service _app
\set legacy cartflow_ :service
-- psql's \set concatenates; service names use "-", role names "_".
SELECT replace(:'owner', '-', '_') AS owner, replace(:'app', '-', '_') AS app,
       replace(:'legacy', '-', '_') AS legacy \gset

SELECT format('CREATE ROLE %I NOLOGIN', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I NOLOGIN', :'app')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" NOLOGIN NOCREATEROLE NOCREATEDB;
ALTER ROLE :"app" NOLOGIN NOCREATEROLE NOCREATEDB;

-- PostgreSQL 15 needs membership to hand a database to a role.
GRANT :"owner" TO CURRENT_USER;
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";

-- The login: its own app role; (*) and, while the services migrate at start, the owner.
GRANT :"app" TO :"login";
GRANT :"owner" TO :"login";
ALTER ROLE :"login" IN DATABASE :"db" SET role = :'owner';

\connect :db
SET client_min_messages = warning;

-- The former built-in user's objects go to the owner role (a no-op when it never existed).
SELECT stmt FROM (VALUES (1, format('GRANT %I TO CURRENT_USER', :'legacy')),
                         (2, format('REASSIGN OWNED BY %I TO %I', :'legacy', :'owner'))) AS s(n, stmt)
WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'legacy') ORDER BY n \gexec

ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app";

-- Fail the deploy if a role of this service could create roles or databases, or
-- belongs to cloudsqlsuperuser (which has CREATEROLE).
SELECT format('DO $fail$ BEGIN RAISE EXCEPTION %L; END $fail$',
              'role ' || rolname || ' may create roles or databases, or is in cloudsqlsuperuser')
FROM pg_roles
WHERE rolname IN (:'owner', :'app', :'login')
  AND (rolsuper OR rolcreaterole OR rolcreatedb
       OR pg_has_role(rolname, 'cloudsqlsuperuser', 'MEMBER')) \gexec
