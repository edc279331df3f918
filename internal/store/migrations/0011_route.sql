-- Where an administrator sent a message's waiting recipients (queue
-- reroute ID HOST[:PORT]): delivery goes to that host instead of the
-- configured route; empty: the configured route.
ALTER TABLE messages ADD COLUMN route TEXT NOT NULL DEFAULT '';
