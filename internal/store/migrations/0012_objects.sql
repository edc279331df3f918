-- What a message held, for its page in the console and the dashboard: its
-- files (attachments and archive members: name, declared and true type,
-- size, hashes), its distinct links, and the public relays of its Received
-- header fields, newest first; as JSON (store.Object), one row a message:
-- a row per object cost the mail path more (docs/performance.md).
-- Written with the verdict, replaced by the next one; the findings name the
-- same objects (findings.object).
CREATE TABLE message_objects (
	message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	objects    TEXT NOT NULL
) WITHOUT ROWID;
-- The first of those relays: where the message came from (the dashboard's
-- top attack sources).
ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT '';
