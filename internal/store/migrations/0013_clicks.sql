-- Time-of-click: each link the click rewriter wrapped, by its opaque token
-- (random, never derived from the link), with what it was at delivery and
-- until when it leads anywhere; and every click, with what the link was
-- judged at that moment and what the service did.
CREATE TABLE click_links (
	token      TEXT PRIMARY KEY,
	message_id TEXT NOT NULL,
	rcpt       TEXT NOT NULL DEFAULT '',  -- the recipient, when the copy had one
	url        TEXT NOT NULL,             -- normalised: what is judged and where Allow goes
	raw        TEXT NOT NULL,             -- as written, for unwrapping
	risk       TEXT NOT NULL DEFAULT '',  -- at delivery: none, unrated, low, …
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX click_links_message ON click_links(message_id);
CREATE INDEX click_links_expires ON click_links(expires);

CREATE TABLE clicks (
	seq        INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL,
	token      TEXT NOT NULL,
	message_id TEXT NOT NULL,
	rcpt       TEXT NOT NULL DEFAULT '',
	url        TEXT NOT NULL,
	risk_then  TEXT NOT NULL DEFAULT '',
	risk_now   TEXT NOT NULL DEFAULT '',
	action     TEXT NOT NULL,             -- allow, warn, block, continue
	evaluation TEXT NOT NULL DEFAULT '',  -- done, or skipped: why
	client_ip  TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	scanner    TEXT NOT NULL DEFAULT ''   -- why it looks automated; never used to block
);
CREATE INDEX clicks_message ON clicks(message_id);
CREATE INDEX clicks_at ON clicks(at);
