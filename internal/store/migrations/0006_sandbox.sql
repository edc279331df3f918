-- The virtual analyzer's samples: one row per SHA-256, analysed once and
-- its verdict reused. state: pending (submitted, no verdict yet), done,
-- error (the sandbox failed; error says why), timeout.
CREATE TABLE sandbox_analyses (
	sha256    TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	image     TEXT NOT NULL,
	state     TEXT NOT NULL,
	risk      TEXT NOT NULL DEFAULT '',
	summary   TEXT NOT NULL DEFAULT '',
	error     TEXT NOT NULL DEFAULT '',
	report    TEXT NOT NULL DEFAULT '', -- JSON: sandbox.AnalysisReport
	html      TEXT NOT NULL DEFAULT '', -- the self-contained page
	submitted INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0
);
