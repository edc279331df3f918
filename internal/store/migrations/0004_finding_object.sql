-- The object a finding is about (a file's SHA-256, a URL), for object-level
-- exceptions and for looking the object up elsewhere.
ALTER TABLE findings ADD COLUMN object TEXT NOT NULL DEFAULT '';
