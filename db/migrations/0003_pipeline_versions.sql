-- Pipelines become versioned data: every change, whether made through the repository or by plain
-- SQL on `pipelines` / `pipeline_steps`, bumps the pipeline's version once per transaction,
-- records what the pipeline looked like at commit in `pipeline_versions`, and tells every running
-- process through NOTIFY pipeline_changed, '<pipeline id>'.
--
-- How it works (all triggers, so an UPDATE typed into psql is treated like an API call):
--
--   pipeline_steps INSERT/UPDATE/DELETE ──row trigger──▶ imgproc_touch_pipeline(id)
--   step_kinds UPDATE OF handler        ──row trigger──▶ imgproc_touch_pipeline(id) per user
--        UPDATE pipelines SET version = version + 1, changed_txid = txid_current()
--         WHERE id = $1 AND changed_txid IS DISTINCT FROM txid_current()
--        (the WHERE makes the bump happen once per transaction however many rows change; the
--        row lock it takes also serialises concurrent editors of one pipeline, so versions never
--        collide)
--   pipelines UPDATE of title/description/retired_at ──BEFORE row trigger──▶ same bump, on NEW
--   pipelines INSERT ──BEFORE row trigger──▶ changed_txid = txid_current(): a pipeline created
--        with its steps in one transaction stays at version 1
--   pipelines INSERT/UPDATE ──DEFERRABLE INITIALLY DEFERRED constraint trigger, at commit──▶
--        if this transaction changed the pipeline: upsert the (id, version) snapshot from the
--        final rows, then pg_notify('pipeline_changed', id). NOTIFY folds identical payloads of
--        one transaction into one, so listeners hear of each committed change once.
--   pipelines DELETE ──row trigger──▶ pg_notify (delivered at commit like every NOTIFY)
--
-- Limits: TRUNCATE is not tracked; `version` and `changed_txid` are the triggers' to maintain
-- (setting them by hand bypasses the snapshot); SET CONSTRAINTS ... IMMEDIATE followed by more
-- changes in the same transaction would leave the snapshot of the earlier state.

-- --- pipelines ---------------------------------------------------------------------------------
ALTER TABLE pipelines
    ADD COLUMN version      int NOT NULL DEFAULT 1,
    -- NULL while the pipeline is active. A pipeline that tasks refer to is retired rather than
    -- deleted, so its history (tasks and versions) stays.
    ADD COLUMN retired_at   timestamptz,
    ADD COLUMN description  text NOT NULL DEFAULT '',
    -- The transaction that last bumped `version`; lets the triggers bump only once per
    -- transaction. Not meaningful outside the triggers.
    ADD COLUMN changed_txid bigint;

-- A retired pipeline's title may be taken again by a new one.
ALTER TABLE pipelines DROP CONSTRAINT pipelines_title_key;
CREATE UNIQUE INDEX pipelines_active_title_idx ON pipelines (title) WHERE retired_at IS NULL;

-- --- pipeline_versions ------------------------------------------------------------------------
CREATE TABLE pipeline_versions (
    pipeline_id int NOT NULL REFERENCES pipelines (id),
    version     int NOT NULL,
    title       text NOT NULL,
    description text NOT NULL,
    -- [{"handler": "resize", "params": {...}}, ...] in step order.
    steps       jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, version)
);

-- The steps of a pipeline as they are now, in the snapshot's shape.
CREATE FUNCTION imgproc_pipeline_steps_json(pipeline int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('handler', k.handler, 'params', s.params)
                              ORDER BY s.position), '[]'::jsonb)
    FROM pipeline_steps s
    JOIN step_kinds k ON k.id = s.step_kind_id
    WHERE s.pipeline_id = pipeline
$$;

INSERT INTO pipeline_versions (pipeline_id, version, title, description, steps)
SELECT id, version, title, description, imgproc_pipeline_steps_json(id) FROM pipelines;

-- --- tasks -------------------------------------------------------------------------------------
-- NULL only for rows written by a binary that did not know versions; existing rows ran version 1.
ALTER TABLE tasks ADD COLUMN pipeline_version int;
UPDATE tasks SET pipeline_version = 1;
-- A task names the exact snapshot it ran (NULL versions are not checked).
ALTER TABLE tasks ADD FOREIGN KEY (pipeline_id, pipeline_version)
    REFERENCES pipeline_versions (pipeline_id, version);

-- 'processed': pipelines that end with an image rather than a detection.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('processing', 'detected', 'undetected', 'processed', 'failed'));

-- Task listings are newest first, per pipeline or overall, paged by id (keyset): this index
-- serves the per-pipeline case, including the foreign key checks the old single-column index
-- served; the primary key serves the unfiltered case.
DROP INDEX tasks_pipeline_id_idx;
CREATE INDEX tasks_pipeline_id_id_idx ON tasks (pipeline_id, id DESC);

-- --- triggers ----------------------------------------------------------------------------------
-- Created after the backfill so the migration itself neither bumps versions nor notifies.

-- Bumps the pipeline's version unless this transaction already did.
CREATE FUNCTION imgproc_touch_pipeline(pipeline int) RETURNS void
LANGUAGE sql AS $$
    UPDATE pipelines
       SET version = version + 1, changed_txid = txid_current(), updated_at = now()
     WHERE id = pipeline AND changed_txid IS DISTINCT FROM txid_current()
$$;

CREATE FUNCTION imgproc_pipeline_steps_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM imgproc_touch_pipeline(OLD.pipeline_id);
    END IF;
    -- A step moved to another pipeline changes both.
    IF TG_OP <> 'DELETE' THEN
        PERFORM imgproc_touch_pipeline(NEW.pipeline_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pipeline_steps_inserted_or_deleted
    AFTER INSERT OR DELETE ON pipeline_steps
    FOR EACH ROW EXECUTE FUNCTION imgproc_pipeline_steps_changed();
-- An UPDATE that changes nothing (SET params = params) is not a new version.
CREATE TRIGGER pipeline_steps_updated
    AFTER UPDATE ON pipeline_steps
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION imgproc_pipeline_steps_changed();

-- Renaming a handler changes what every pipeline using the kind runs.
CREATE FUNCTION imgproc_step_kind_handler_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM imgproc_touch_pipeline(pipeline_id)
       FROM (SELECT DISTINCT pipeline_id FROM pipeline_steps WHERE step_kind_id = NEW.id) AS used;
    RETURN NULL;
END
$$;

CREATE TRIGGER step_kinds_handler_changed
    AFTER UPDATE OF handler ON step_kinds
    FOR EACH ROW WHEN (OLD.handler IS DISTINCT FROM NEW.handler)
    EXECUTE FUNCTION imgproc_step_kind_handler_changed();

-- BEFORE, on NEW itself: an AFTER trigger would have to UPDATE the row again. The bump does not
-- set title, description or retired_at, so this never fires for its own update.
CREATE FUNCTION imgproc_pipeline_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- Version 1 (the column default) already describes everything inserted with it.
        NEW.changed_txid := txid_current();
    ELSIF OLD.changed_txid IS DISTINCT FROM txid_current() THEN
        NEW.version := OLD.version + 1;
        NEW.changed_txid := txid_current();
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER pipelines_inserted
    BEFORE INSERT ON pipelines
    FOR EACH ROW EXECUTE FUNCTION imgproc_pipeline_row_changed();
CREATE TRIGGER pipelines_updated
    BEFORE UPDATE OF title, description, retired_at ON pipelines
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
                       OR OLD.description IS DISTINCT FROM NEW.description
                       OR OLD.retired_at IS DISTINCT FROM NEW.retired_at)
    EXECUTE FUNCTION imgproc_pipeline_row_changed();

-- At commit. Reads the pipeline again rather than using NEW: NEW is the row as it was when the
-- event was queued, and steps may have changed since. May run several times per transaction
-- (once per queued event); every run writes the same snapshot.
CREATE FUNCTION imgproc_pipeline_snapshot() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    p pipelines%ROWTYPE;
BEGIN
    SELECT * INTO p FROM pipelines WHERE id = NEW.id;
    -- Deleted later in the transaction (the delete trigger notifies), or updated without any
    -- change to its definition (e.g. only updated_at).
    IF NOT FOUND OR p.changed_txid IS DISTINCT FROM txid_current() THEN
        RETURN NULL;
    END IF;
    INSERT INTO pipeline_versions (pipeline_id, version, title, description, steps)
    VALUES (p.id, p.version, p.title, p.description, imgproc_pipeline_steps_json(p.id))
    ON CONFLICT (pipeline_id, version) DO UPDATE
        SET title = EXCLUDED.title, description = EXCLUDED.description, steps = EXCLUDED.steps;
    PERFORM pg_notify('pipeline_changed', p.id::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER pipelines_snapshot
    AFTER INSERT OR UPDATE ON pipelines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION imgproc_pipeline_snapshot();

CREATE FUNCTION imgproc_pipeline_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pipeline_changed', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER pipelines_deleted
    AFTER DELETE ON pipelines
    FOR EACH ROW EXECUTE FUNCTION imgproc_pipeline_deleted();
