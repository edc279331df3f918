-- The hub's own database. Times are Unix seconds (UTC).
CREATE TABLE IF NOT EXISTS keys (
	name     TEXT PRIMARY KEY,
	key_hash TEXT NOT NULL UNIQUE, -- SHA-256 of the key; the key itself is printed once
	created  INTEGER NOT NULL
);

-- One row per imported feed; a re-import replaces the feed's rows in the
-- same transaction.
CREATE TABLE IF NOT EXISTS feeds (
	kind        TEXT PRIMARY KEY,
	rows        INTEGER NOT NULL,
	imported_at INTEGER NOT NULL,
	source      TEXT NOT NULL DEFAULT ''
);

-- Malicious and phishing URLs (urlhaus-csv, openphish-txt, phishtank-csv),
-- normalised as the appliance normalises links.
CREATE TABLE IF NOT EXISTS urls (
	feed       TEXT NOT NULL,
	url        TEXT NOT NULL,
	host       TEXT NOT NULL,
	domain     TEXT NOT NULL, -- registered domain (public suffix + 1)
	threat     TEXT NOT NULL, -- malware_download, phishing, …
	tags       TEXT NOT NULL DEFAULT '',
	first_seen INTEGER NOT NULL DEFAULT 0,
	ref        TEXT NOT NULL DEFAULT '' -- the feed's own page for it
);
CREATE INDEX IF NOT EXISTS urls_url ON urls(url);
CREATE INDEX IF NOT EXISTS urls_host ON urls(host);
CREATE INDEX IF NOT EXISTS urls_domain ON urls(domain);
CREATE INDEX IF NOT EXISTS urls_feed ON urls(feed);

-- Files by SHA-256: malware samples (malwarebazaar-csv) and known-good
-- software (known-good-sha256).
CREATE TABLE IF NOT EXISTS hashes (
	feed       TEXT NOT NULL,
	sha256     TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	file_type  TEXT NOT NULL DEFAULT '',
	signature  TEXT NOT NULL DEFAULT '',
	first_seen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hashes_sha256 ON hashes(sha256);
CREATE INDEX IF NOT EXISTS hashes_feed ON hashes(feed);

-- Networks that should not route (spamhaus-drop-json).
CREATE TABLE IF NOT EXISTS networks (
	feed  TEXT NOT NULL,
	cidr  TEXT NOT NULL,
	first TEXT NOT NULL, -- first and last address as 32 hex digits (IPv4 mapped into IPv6) so text order is address order
	last  TEXT NOT NULL,
	ref   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS networks_range ON networks(first, last);

-- Smart Feedback from appliances: what each saw. The census counts are
-- aggregated from here.
CREATE TABLE IF NOT EXISTS sightings (
	appliance TEXT NOT NULL,
	kind      TEXT NOT NULL, -- file | domain | ip | url
	object    TEXT NOT NULL,
	verdict   TEXT NOT NULL DEFAULT '',
	at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_object ON sightings(kind, object);

-- Activation codes issued (hub licence issue); /v1/licence answers an
-- appliance id with the newest.
CREATE TABLE IF NOT EXISTS licences (
	serial    TEXT PRIMARY KEY,
	appliance TEXT NOT NULL, -- the appliance id, MI-XXXX-XXXX-XXXX
	edition   TEXT NOT NULL,
	seats     INTEGER NOT NULL,
	issued    INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	code      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS licences_appliance ON licences(appliance, issued);
