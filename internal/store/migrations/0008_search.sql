-- Message tracking (show messages with filters): the exact-match fields
-- an administrator searches by, each with received so that the newest
-- come first without a sort, and the threat of a finding.
CREATE INDEX messages_risk ON messages(risk, received);
CREATE INDEX messages_action ON messages(action, received);
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_client_ip ON messages(client_ip, received);
CREATE INDEX findings_threat ON findings(threat, message_id);
