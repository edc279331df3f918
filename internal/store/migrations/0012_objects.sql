-- What a message held, for its page in the console and the dashboard: its
-- files (attachments and archive members: name, declared and true type,
-- size, hashes), its distinct links, and the public relays of its Received
-- header fields, newest first (the first is where it came from: the
-- dashboard's attack source). Written with the verdict, replaced by the
-- next one; the findings name the same objects (findings.object).
CREATE TABLE objects (
	message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	kind       TEXT NOT NULL,                  -- file | url | ip
	value      TEXT NOT NULL,                  -- SHA-256, normalised URL, address
	name       TEXT NOT NULL DEFAULT '',       -- file name; the URL as written
	location   TEXT NOT NULL DEFAULT '',       -- where in the message
	declared   TEXT NOT NULL DEFAULT '',       -- what the name or Content-Type claims
	true_type  TEXT NOT NULL DEFAULT '',       -- from the first bytes
	size       INTEGER NOT NULL DEFAULT 0,
	sha1       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, seq)
);
