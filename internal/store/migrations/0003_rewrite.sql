-- How delivery rewrites a message (the tag action): JSON of
-- store.Rewrite, empty for none.
ALTER TABLE messages ADD COLUMN rewrite TEXT NOT NULL DEFAULT '';
