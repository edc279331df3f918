-- How long each trail step took (the degradation contract: no message
-- waits on a service longer than its deadline), and what Email Reputation
-- said of the client during the SMTP session (edge position).
ALTER TABLE trail ADD COLUMN ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN ers TEXT NOT NULL DEFAULT '';

-- Smart Feedback records waiting to be sent to the hub; a scheduled flush
-- sends them in batches and deletes what the hub accepted.
CREATE TABLE feedback_outbox (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	kind    TEXT NOT NULL, -- file | domain | ip | url
	object  TEXT NOT NULL,
	verdict TEXT NOT NULL DEFAULT '',
	at      INTEGER NOT NULL
);
