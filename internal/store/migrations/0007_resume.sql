-- Where a held message's next analysis resumes: the name of the pipeline
-- stage that held it (the virtual analyzer waiting for a verdict); empty:
-- from the start.
ALTER TABLE messages ADD COLUMN resume_at TEXT NOT NULL DEFAULT '';
