-- Messages as received, their analysis trail and findings, and the
-- per-recipient delivery queue. Times are Unix nanoseconds (UTC).
CREATE TABLE messages (
	id            TEXT PRIMARY KEY,
	received      INTEGER NOT NULL,
	kind          TEXT NOT NULL DEFAULT 'inbound', -- inbound | dsn
	mail_from     TEXT NOT NULL,
	rcpt_to       TEXT NOT NULL,                   -- JSON list, as given by the client
	client_ip     TEXT NOT NULL DEFAULT '',
	helo          TEXT NOT NULL DEFAULT '',
	tls           TEXT NOT NULL DEFAULT '',
	subject       TEXT NOT NULL DEFAULT '',
	header_from   TEXT NOT NULL DEFAULT '',
	message_id    TEXT NOT NULL DEFAULT '',
	size          INTEGER NOT NULL,
	state         TEXT NOT NULL,
	risk          TEXT NOT NULL DEFAULT '',
	action        TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	analyse_after INTEGER NOT NULL DEFAULT 0,
	updated       INTEGER NOT NULL
);
CREATE INDEX messages_state ON messages(state, analyse_after);
CREATE INDEX messages_received ON messages(received);

CREATE TABLE recipients (
	message_id   TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	rcpt         TEXT NOT NULL,
	status       TEXT NOT NULL,                    -- pending | delivered | deferred | bounced
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	updated      INTEGER NOT NULL,
	PRIMARY KEY (message_id, rcpt)
);
CREATE INDEX recipients_due ON recipients(status, next_attempt);

CREATE TABLE trail (
	message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	service    TEXT NOT NULL DEFAULT '',
	outcome    TEXT NOT NULL,                      -- ok | finding | skipped | error
	detail     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, seq)
);

CREATE TABLE findings (
	message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	engine     TEXT NOT NULL,
	threat     TEXT NOT NULL DEFAULT '',
	risk       TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	location   TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, seq)
);
