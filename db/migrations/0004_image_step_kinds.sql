-- Step kinds added with the step catalogue, so that pipelines written directly in SQL can use
-- them too (the API adds a missing kind by itself). The code's registry (GET /steps) stays the
-- authority on what each handler takes and does; these rows name them for foreign keys.
INSERT INTO step_kinds (title, handler, description) VALUES
    ('Grayscale',        'grayscale',     'Convert to one gray channel (or three equal ones)'),
    ('Crop',             'crop',          'Keep the rectangle x, y, width, height'),
    ('Letterbox resize', 'letterbox',     'Resize keeping the aspect ratio, pad to the target'),
    ('Flip',             'flip',          'Mirror horizontally, vertically or both'),
    ('Rotate',           'rotate',        'Rotate clockwise by 90, 180 or 270 degrees'),
    ('Gaussian blur',    'gaussian_blur', 'Blur with an odd kernel size and sigma'),
    ('Encode',           'encode',        'Encode as JPEG or PNG')
ON CONFLICT DO NOTHING;
