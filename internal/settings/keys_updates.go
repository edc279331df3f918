package settings

import (
	"fmt"
	"path/filepath"
)

// absPath is a setting that names a file or folder on the appliance by
// its absolute path ("" for none). Whether it exists is checked where it
// is used, never here: a file gone missing must not keep the daemon, and
// the mail, from starting.
func absPath(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		*field(s) = v
		if v != "" && !filepath.IsAbs(v) {
			return fmt.Errorf("want an absolute path")
		}
		return nil
	}
}

func init() {
	keys = append(keys,
		Key{"engine.clamd_database", "", "The database directory (DatabaseDirectory) of the clamd in engine.clamd: the appliance installs ClamAV and YARA update bundles into it and sends clamd RELOAD. The image's clamd loads from /var/lib/clamav. Empty: ClamAV bundles are refused.",
			absPath(func(s *Settings) *string { return &s.Engine.ClamdDatabase })},
		Key{"updates.trusted_keys", "", "Comma-separated public key files (PEM, mailinspector bundle keygen's FILE.pub) trusted to sign update bundles besides the keys of the keyring (a private hub's, a site's own). A key the keyring retired is never trusted.",
			func(s *Settings, v string) error {
				s.Updates.TrustedKeys = splitList(v)
				for _, f := range s.Updates.TrustedKeys {
					if !filepath.IsAbs(f) {
						return fmt.Errorf("%q: want absolute paths", f)
					}
				}
				return nil
			}},
		Key{"updates.root_keyring", "", "A root keyring file ({\"threshold\": N, \"keys\": [PEM, …]}) used instead of the build's to check keyring documents (a private hub that publishes its own). Empty: the build's.",
			absPath(func(s *Settings) *string { return &s.Updates.RootKeyring })},
		Key{"feedback.share_urls", "false", "Smart Feedback also sends the URLs of the links in messages (a URL can carry a recipient's address or a personal token). false: only files' SHA-256, domains and public IPs. Message bodies and people's addresses are never sent.",
			func(s *Settings, v string) error {
				switch v {
				case "true", "false":
					s.Feedback.ShareURLs = v == "true"
					return nil
				}
				return fmt.Errorf("want true or false")
			}},
		Key{"feedback.outbox_max", "1000000", "Smart Feedback records kept on disk for the hub at most; past it, during an outage too, the oldest are dropped (counted in show services).",
			intIn(func(s *Settings) *int { return &s.Feedback.OutboxMax }, 100, 100_000_000)},
		Key{"licence.issuer_key", "", "Public key file (PEM) of the licence issuer, for activation codes entered before the appliance has reached the hub (an air-gapped site). Empty: the key the hub shows at the first licence check, pinned then.",
			absPath(func(s *Settings) *string { return &s.Licence.IssuerKey })},
		Key{"licence.trial_days", "30", "Days from the appliance's first start during which it runs as a trial without an activation code.",
			intIn(func(s *Settings) *int { return &s.Licence.TrialDays }, 0, 365)},
		Key{"licence.grace_days", "30", "Days after the licence expires during which updates go on (grace); then they stop. Mail flow and scanning never stop.",
			intIn(func(s *Settings) *int { return &s.Licence.GraceDays }, 0, 365)},
		Key{"updates.seed_dir", "", "Folder of signed bundles installed at start for each kind that has none yet, with every check (the image's: /usr/share/mailinspector/bundles, the project's signatures). Empty: none.",
			absPath(func(s *Settings) *string { return &s.Updates.SeedDir })},
		Key{"updates.keep", "3", "Versions of each kind of bundle kept on disk, the live one included (update rollback goes back to the one before).",
			intIn(func(s *Settings) *int { return &s.Updates.Keep }, 2, 20)},
	)
}
