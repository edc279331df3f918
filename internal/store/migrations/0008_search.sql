-- Message tracking (show messages with filters): risk with the time
-- received, so that the newest of a risk come first without a sort, and the
-- threat of a finding. The other exact fields (action, message-id, client
-- IP) are found by a walk of the time index: an index each cost the mail
-- path more than the few hundred milliseconds it saves a search over a
-- million messages (docs/performance.md).
CREATE INDEX messages_risk ON messages(risk, received);
CREATE INDEX findings_threat ON findings(threat, message_id);
