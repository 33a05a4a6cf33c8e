-- Asynchronous tasks: POST /process-image?async=true stores the task 'queued' together with its
-- upload, answers 202, and any running imgproc claims it later (FOR UPDATE SKIP LOCKED).
--
-- Life of an asynchronous task:
--   queued --claim (attempts + 1, owner, claimed_at)--> processing --finish/fail--> final
--      ^                                                   |
--      +--- release (no capacity), or requeue when the owner's sessions are gone (a crash) ---+
-- A finish or fail only applies to the attempt that claimed the row (attempts = the claim's
-- number), so a process that lost its claim to a requeue cannot store a second outcome.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('queued', 'processing', 'detected', 'undetected', 'processed', 'failed'));

-- How many times a process claimed the task; 0 for synchronous tasks, which are never claimed.
ALTER TABLE tasks ADD COLUMN attempts int NOT NULL DEFAULT 0;
-- When the current attempt started: ages for the sweeps count from here, not from created_at,
-- so a task that waited long in the queue is not taken for a stuck one once claimed.
ALTER TABLE tasks ADD COLUMN claimed_at timestamptz;

-- The upload of an asynchronous task, kept until the task reaches a final state. Separate from
-- tasks so that listing tasks never reads image bytes.
CREATE TABLE task_inputs (
    task_id bigint PRIMARY KEY REFERENCES tasks (id),
    image   bytea NOT NULL
);

-- Claiming takes the oldest queued tasks: a partial index keeps that cheap however long the
-- history grows.
CREATE INDEX tasks_queued_idx ON tasks (id) WHERE status = 'queued';
