-- Pipelines with the local detectors (core/object_detectors): people with OpenCV's HOG people
-- detector, faces and number plates with cascades from Debian's opencv-data. Each is a complete
-- chain: decode, scale down to fit (keeping the aspect, so that scale_to_input maps the boxes
-- back to the upload exactly), detect. Their tasks store every box found as a list in `data`.
--
-- A pipeline is created only if no active pipeline has its title yet (an operator may have made
-- one with that name); ids come from the sequence.

INSERT INTO step_kinds (title, handler, description) VALUES
    ('Fit within',       'fit_within',     'Scale to fit inside width x height, keeping the aspect ratio'),
    ('People (HOG)',     'detect_people',  'Find people with OpenCV''s HOG people detector'),
    ('Cascade detector', 'detect_cascade', 'Find objects with a Haar or LBP cascade from opencv-data')
ON CONFLICT DO NOTHING;

WITH created AS (
    INSERT INTO pipelines (title, description) VALUES
        ('people-detection', 'People with OpenCV''s HOG detector; every box, in the upload''s coordinates'),
        ('face-detection',   'Frontal faces with a Haar cascade; every box, in the upload''s coordinates'),
        ('plate-detection',  'Russian-style number plates with a Haar cascade; every box, in the upload''s coordinates')
    ON CONFLICT DO NOTHING
    RETURNING id, title
)
INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)
SELECT c.id, s.position, k.id, s.params::jsonb
FROM created c
JOIN (VALUES
    ('people-detection', 1, 'decode_jpeg',    '{}'),
    ('people-detection', 2, 'fit_within',     '{"width": 640, "height": 640}'),
    ('people-detection', 3, 'detect_people',  '{"min_confidence": 0.75, "scale_to_input": true}'),
    ('face-detection',   1, 'decode_jpeg',    '{}'),
    ('face-detection',   2, 'fit_within',     '{"width": 800, "height": 800}'),
    ('face-detection',   3, 'detect_cascade', '{"cascade": "haarcascade_frontalface_default", "min_neighbors": 5, "min_width": 24, "min_height": 24, "scale_to_input": true}'),
    ('plate-detection',  1, 'decode_jpeg',    '{}'),
    ('plate-detection',  2, 'fit_within',     '{"width": 1280, "height": 1280}'),
    ('plate-detection',  3, 'detect_cascade', '{"cascade": "haarcascade_russian_plate_number", "min_neighbors": 3, "scale_to_input": true}')
) AS s (title, position, handler, params) ON s.title = c.title
JOIN step_kinds k ON k.handler = s.handler;
