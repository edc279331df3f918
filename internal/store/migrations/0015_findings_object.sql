-- Threat Connect's local page of an indicator (what this appliance has
-- seen of it, shown while the hub is out of reach) finds its findings by
-- object.
CREATE INDEX findings_object ON findings(object) WHERE object != '';
