-- The audit log: who changed what, from where, and whether it worked.
-- Append-only: rows are never updated, and deleted only once older than a
-- year (retention of the audit log, never shorter).
CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,           -- Unix nanoseconds
	who     TEXT NOT NULL,              -- the account
	via     TEXT NOT NULL DEFAULT '',   -- where from: control socket peer, SSH client, tty
	kind    TEXT NOT NULL,              -- quarantine, queue, settings, ...
	command TEXT NOT NULL,
	ok      INTEGER NOT NULL,
	detail  TEXT NOT NULL DEFAULT '',   -- the outcome, or the error
	before  TEXT NOT NULL DEFAULT '',
	after   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit(at);
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_kept_a_year BEFORE DELETE ON audit
WHEN old.at > (CAST(strftime('%s', 'now') AS INTEGER) - 365 * 86400) * 1000000000
BEGIN
	SELECT RAISE(ABORT, 'audit entries are kept at least a year');
END;
