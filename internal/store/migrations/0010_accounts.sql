-- The appliance's accounts: who may log in (the web console) and with which
-- role. The password is an argon2id hash (internal/accounts); a login that
-- fails five times in a row locks the account for a while.
CREATE TABLE accounts (
	name         TEXT PRIMARY KEY,
	role         TEXT NOT NULL,             -- administrator | investigator | operator
	hash         TEXT NOT NULL DEFAULT '',  -- '' : no password set yet
	created      INTEGER NOT NULL,
	last_login   INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0
);
