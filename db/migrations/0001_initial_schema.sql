-- Initial schema: step kinds, pipelines built from them, and upload tasks.
--
-- Rows reference each other without ON DELETE CASCADE on purpose: deleting a pipeline or a step
-- kind that tasks or pipelines still use must fail rather than silently take history with it.

CREATE TABLE step_kinds (
    id          serial PRIMARY KEY,
    title       text NOT NULL UNIQUE,
    -- The name the service's step registry knows the implementation by.
    handler     text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE pipelines (
    id         serial PRIMARY KEY,
    title      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_steps (
    id           serial PRIMARY KEY,
    pipeline_id  int NOT NULL REFERENCES pipelines (id),
    position     int NOT NULL,
    step_kind_id int NOT NULL REFERENCES step_kinds (id),
    params       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    UNIQUE (pipeline_id, position)
);

CREATE TABLE tasks (
    id          bigserial PRIMARY KEY,
    pipeline_id int NOT NULL REFERENCES pipelines (id),
    status      text NOT NULL
                CHECK (status IN ('processing', 'detected', 'undetected', 'failed')),
    filename    text NOT NULL,
    data        jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- Few rows are in flight at any time; the partial index keeps the startup sweep of abandoned
-- tasks cheap however large the history grows.
CREATE INDEX tasks_processing_idx ON tasks (status) WHERE status = 'processing';
CREATE INDEX tasks_pipeline_id_idx ON tasks (pipeline_id);
CREATE INDEX pipeline_steps_step_kind_id_idx ON pipeline_steps (step_kind_id);
