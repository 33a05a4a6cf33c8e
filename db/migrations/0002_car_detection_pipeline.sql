-- The step kinds the service implements and the default car-detection pipeline.

INSERT INTO step_kinds (title, handler, description) VALUES
    ('Decode JPEG',   'decode_jpeg', 'Decode the uploaded JPEG into pixels'),
    ('Resize',        'resize',      'Resize to width x height with the given interpolation'),
    ('Normalize',     'normalize',   'Min-max normalise pixel values to [alpha, beta]'),
    ('Encode JPEG',   'encode_jpeg', 'Encode pixels as JPEG with the given quality'),
    ('Base64 encode', 'base64',      'Base64-encode the bytes for the detector request'),
    ('ML detection',  'detect',      'Send the image to the ML detector and record its answer');

-- Explicit id: clients and the service's default configuration refer to pipeline 1.
INSERT INTO pipelines (id, title) VALUES (1, 'car-detection');
-- The explicit id bypassed the sequence; move it on so the next pipeline does not collide.
SELECT setval(pg_get_serial_sequence('pipelines', 'id'), (SELECT max(id) FROM pipelines));

INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)
SELECT 1, s.position, k.id, s.params::jsonb
FROM (VALUES
    (1, 'decode_jpeg', '{}'),
    (2, 'resize',      '{"width": 640, "height": 640, "interpolation": "linear"}'),
    (3, 'normalize',   '{"alpha": 0, "beta": 255}'),
    (4, 'encode_jpeg', '{"quality": 95}'),
    (5, 'base64',      '{}'),
    (6, 'detect',      '{}')
) AS s (position, handler, params)
JOIN step_kinds k ON k.handler = s.handler;
