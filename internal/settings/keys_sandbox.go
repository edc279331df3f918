package settings

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

func init() {
	keys = append(keys,
		Key{"sandbox.libvirt", "", "The virtual analyzer's libvirt host: a URI (qemu:///system, qemu+ssh://user@host/system?keyfile=…, qemu+tls://host/system) or the path of libvirtd's socket. Empty: no sandbox; the step is not-configured and skipped.",
			func(s *Settings, v string) error { s.Sandbox.Libvirt = v; return nil }},
		Key{"sandbox.image", "linux", "Name of the sandbox guest image; its instances are the domains mi-sbx-NAME-0, -1 …",
			func(s *Settings, v string) error {
				if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
					return fmt.Errorf("want lower-case letters, digits and dashes")
				}
				s.Sandbox.Image = v
				return nil
			}},
		Key{"sandbox.domain_template", "/usr/share/mailinspector/sandbox/linux-domain.xml", "The libvirt domain XML of an instance, a Go text/template with .Name, .Index, .MAC, .AgentKey, .Agent and .Disk (packer/sandbox-guest/linux-domain.xml).",
			func(s *Settings, v string) error { s.Sandbox.DomainTemplate = v; return nil }},
		Key{"sandbox.base_image", "/var/lib/libvirt/images/mailinspector/linux-guest.qcow2", "The guest image's path on the libvirt host (make sandbox-guest builds it). Each instance gets a qcow2 overlay on it in sandbox.storage_pool, made through libvirt, fresh whenever the instance is defined; the domain template names it {{.Disk}}. Empty: the template names each instance's disk itself.",
			func(s *Settings, v string) error { s.Sandbox.BaseImage = v; return nil }},
		Key{"sandbox.storage_pool", "mi-sandbox", "The libvirt storage pool (a directory pool on the libvirt host) where the instances' overlays are made.",
			func(s *Settings, v string) error { s.Sandbox.StoragePool = v; return nil }},
		Key{"sandbox.teardown", "destroy", "What happens to an instance after a run: destroy (powered off; the next run starts a new qemu from the ready snapshot) or pause (suspended: it runs nothing, and the next revert replaces its state in the same qemu, which is faster).",
			enum(func(s *Settings) *string { return &s.Sandbox.Teardown }, "destroy", "pause")},
		Key{"sandbox.instances", "0", "Sandbox instances run at once. 0: from this machine's cores and memory (one per core, one per free GiB beyond 2 GiB, at least one).",
			intIn(func(s *Settings) *int { return &s.Sandbox.Instances }, 0, 64)},
		Key{"sandbox.agent_base", "10.77.0.10:7480", "Address:port of instance 0's guest agent on the isolated sandbox network; instance N has the address N above it.",
			func(s *Settings, v string) error {
				ap, err := netip.ParseAddrPort(v)
				if err != nil || !ap.Addr().Is4() {
					return fmt.Errorf("want an IPv4 address and a port")
				}
				s.Sandbox.AgentBase = ap
				return nil
			}},
		Key{"sandbox.file_types", "application/x-executable,text/x-script,.sh,.py,.pl", "What goes to the sandbox: true types (as show message gives them) and file name extensions (.sh), comma-separated.",
			func(s *Settings, v string) error { s.Sandbox.FileTypes = splitList(v); return nil }},
		Key{"sandbox.submit", "unrated", "unrated: every file of sandbox.file_types that no engine convicted and the known-good list does not know; suspicious: only those another engine found suspicious (low risk or more); highly-suspicious: medium risk or more. sandbox.forced_types go in every mode.",
			enum(func(s *Settings) *string { return &s.Sandbox.Submit }, "unrated", "suspicious", "highly-suspicious")},
		Key{"sandbox.forced_types", "", "True types and extensions (.js) sent to the sandbox whatever sandbox.submit says, unless convicted or known good.",
			func(s *Settings, v string) error { s.Sandbox.ForcedTypes = splitList(v); return nil }},
		Key{"sandbox.submission_timeout", "10m", "How long a message waits for the sandbox's verdict (MTA mode); past it sandbox.on_timeout applies.",
			dur(func(s *Settings) *time.Duration { return &s.Sandbox.SubmissionTimeout }, time.Second)},
		Key{"sandbox.run_time", "60s", "How long a sample runs in the sandbox.",
			dur(func(s *Settings) *time.Duration { return &s.Sandbox.RunTime }, time.Second)},
		Key{"sandbox.call_timeout", "30s", "Longest wait for one libvirt call; past it the connection is dropped and dialled again.",
			dur(func(s *Settings) *time.Duration { return &s.Sandbox.CallTimeout }, 100*time.Millisecond)},
		Key{"sandbox.on_timeout", "quarantine", "What happens to a message whose sandbox verdict did not come in time: quarantine (reason va-timeout) or deliver.",
			enum(func(s *Settings) *string { return &s.Sandbox.OnTimeout }, "quarantine", "deliver")},
		Key{"sandbox.on_error", "quarantine", "What happens to a message whose samples the sandbox could not analyse (libvirt down, no image, the sample did not run): quarantine (reason va-error) or deliver.",
			enum(func(s *Settings) *string { return &s.Sandbox.OnError }, "quarantine", "deliver")},
		Key{"sandbox.fakenet", "", "The host's address on the sandbox network, where the fake internet answers the guests (DNS for every name, HTTP, HTTPS, SMTP) and records what they sent. Empty: none here (a remote sandbox host runs its own).",
			func(s *Settings, v string) error {
				if v == "" {
					s.Sandbox.FakeNet = netip.Addr{}
					return nil
				}
				a, err := netip.ParseAddr(v)
				if err != nil || !a.Is4() {
					return fmt.Errorf("want an IPv4 address")
				}
				s.Sandbox.FakeNet = a
				return nil
			}},
		Key{"sandbox.fakenet_smtp_port", "2525", "Port of the fake internet's SMTP listener. Not 25: the appliance's own SMTP listens on port 25 of every address once set up, the sandbox network's included. The Linux guest sends every connection to port 25 here (an nftables rule; the port reaches it as an SMBIOS OEM string); a guest of your own without such a redirect needs 25 here and smtp.listen off the sandbox address.",
			intIn(func(s *Settings) *int { return &s.Sandbox.FakeNetSMTPPort }, 1, 65535)},
		Key{"sandbox.urls", "off", "Links sent to the sandbox, which opens them through sandbox.proxy the way a click would: off; suspicious (links another engine found suspicious, not those already convicted); unrated (every link no engine rated, at most 5 per message). Needs sandbox.proxy and sandbox.fakenet.",
			enum(func(s *Settings) *string { return &s.Sandbox.URLs }, "off", "suspicious", "unrated")},
		Key{"sandbox.proxy", "off", "The sandbox network's way to the real web: off (guests see the fake internet only); direct (a proxy on sandbox.fakenet, port sandbox.proxy_port, fetches from the appliance to public addresses only); or http://[user:password@]host:port, the site's proxy that proxy goes through. Guests still have no route out: links go through it (and files, with sandbox.proxy_samples).",
			func(s *Settings, v string) error {
				if v == "off" || v == "direct" {
					s.Sandbox.Proxy = v
					return nil
				}
				u, err := url.Parse(v)
				if err != nil || u.Scheme != "http" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
					return fmt.Errorf("want off, direct or http://host:port")
				}
				s.Sandbox.Proxy = v
				return nil
			}},
		Key{"sandbox.proxy_port", "3128", "Port of the sandbox proxy on sandbox.fakenet.",
			intIn(func(s *Settings) *int { return &s.Sandbox.ProxyPort }, 1, 65535)},
		Key{"sandbox.proxy_allow", "", "Inside networks or addresses (comma-separated) the sandbox proxy may fetch from; everything else not on the public internet is refused (SSRF guard). Empty: public addresses only.",
			nets(func(s *Settings) *[]netip.Prefix { return &s.Sandbox.ProxyAllow })},
		Key{"sandbox.proxy_samples", "false", "Give files, not only links, the sandbox proxy (in http_proxy and https_proxy): a sample then reaches the real web through it (public addresses only), a second stage included. false: samples see the fake internet only.",
			boolean(func(s *Settings) *bool { return &s.Sandbox.ProxySamples })},
		Key{"sandbox.screenshot", "true", "Take the guest's display at the end of each run, for the report's HTML page (the domain needs a video device: the Linux guest's template has one).",
			boolean(func(s *Settings) *bool { return &s.Sandbox.Screenshot })},
		Key{"sandbox.isolation_check", "1.1.1.1:443,8.8.8.8:53,9.9.9.9:443", "Outside addresses (host:port) the guest tries to reach before each run; if one answers, the sandbox network is not isolated and nothing is run (va-error). Empty: no check.",
			func(s *Settings, v string) error {
				s.Sandbox.IsolationCheck = splitList(v)
				for _, a := range s.Sandbox.IsolationCheck {
					if err := hostPort(a); err != nil {
						return fmt.Errorf("%s: %w", a, err)
					}
				}
				return nil
			}},
	)
}
