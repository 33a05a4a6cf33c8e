-- Which service instance owns a task, so that the sweep of abandoned tasks fails only the rows
-- of instances that are gone rather than every 'processing' row in a database that several
-- gateways share.
--
-- `owner` is the PostgreSQL application_name of the session that inserted the row
-- ("imgproc:<instance id>", see db::instance_application_name). A row is abandoned when no
-- session with that application_name is connected any more (pg_stat_activity). NULL for rows
-- written by older binaries, by plain SQL, or by a session without an application_name: nothing
-- can vouch for those, so the sweep treats them as abandoned, as it treated every row before.
ALTER TABLE tasks ADD COLUMN owner text;

-- The sweep and any "my rows" query look only at rows still in flight, a handful however large
-- the history grows; partial like tasks_processing_idx, so finished rows cost nothing here.
CREATE INDEX tasks_processing_owner_idx ON tasks (owner) WHERE status = 'processing';
