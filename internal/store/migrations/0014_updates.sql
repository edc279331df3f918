-- Signed update bundles (internal/updates): per kind, the highest version
-- ever verified (the rollback guard: never lowered, not even by a
-- rollback) and the version live now; and every attempt with its outcome.
CREATE TABLE update_kinds (
	kind      TEXT PRIMARY KEY,
	channel   TEXT NOT NULL,
	highwater INTEGER NOT NULL,   -- the highest version whose signature and files verified
	live      INTEGER NOT NULL,   -- 0: none live
	key_id    TEXT NOT NULL DEFAULT '',
	since     INTEGER NOT NULL    -- when live became live
) WITHOUT ROWID;

CREATE TABLE update_history (
	seq     INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	kind    TEXT NOT NULL DEFAULT '',   -- '' when the bundle could not be read
	version INTEGER NOT NULL DEFAULT 0,
	source  TEXT NOT NULL,              -- hub, import, rollback, schedule
	outcome TEXT NOT NULL,              -- installed, refused, failed, rolled-back, checked, unreachable
	detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX update_history_at ON update_history(at);
