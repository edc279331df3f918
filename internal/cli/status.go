package cli

import (
	"fmt"
	"sort"
	"strings"
)

// Status is `show status`: the appliance at a glance.
type Status struct {
	Version  string         `json:"version"`
	Mode     string         `json:"mode"`
	Started  string         `json:"started"`
	Uptime   string         `json:"uptime"`
	Messages map[string]int `json:"messages"` // by state
	Disk     DiskStatus     `json:"disk"`
	Services map[string]int `json:"services"` // how many services in each state
	Licence  string         `json:"licence"`
	SIEM     []SIEMStatus   `json:"siem"` // one per collector of siem.servers
}

// SIEMStatus is one syslog collector of SIEM export.
type SIEMStatus struct {
	Collector string `json:"collector"`
	Connected bool   `json:"connected"`
	Sent      uint64 `json:"sent"`
	Pending   int64  `json:"pending_bytes"` // queued on disk, not yet known to have arrived
	Dropped   uint64 `json:"dropped"`       // the oldest events the queue's bound let go
	LastError string `json:"last_error,omitempty"`
}

// DiskStatus is the data disk.
type DiskStatus struct {
	Path        string  `json:"path"`
	UsedPercent float64 `json:"used_percent"`
	HighWater   int     `json:"high_water_percent"`
	Full        bool    `json:"full"` // past the high-water mark: new mail gets 452 4.3.1
	TotalBytes  uint64  `json:"total_bytes"`
	FreeBytes   uint64  `json:"free_bytes"`
	SpoolBytes  int64   `json:"spool_bytes"`
}

func statusText(s *Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Mail Inspector %s, mode %s, up %s (since %s)\n", s.Version, s.Mode, s.Uptime, s.Started)
	fmt.Fprintf(&b, "messages  %s\n", counts(s.Messages))
	d := s.Disk
	fmt.Fprintf(&b, "disk      %s: %.1f%% used, %s free of %s; spool %s; high-water %d%%", term(d.Path), d.UsedPercent,
		size(int64(d.FreeBytes)), size(int64(d.TotalBytes)), size(d.SpoolBytes), d.HighWater)
	if d.Full {
		b.WriteString(" PASSED: new mail is answered 452 4.3.1")
	}
	fmt.Fprintf(&b, "\nservices  %s\n", counts(s.Services))
	fmt.Fprintf(&b, "licence   %s", term(s.Licence))
	for _, c := range s.SIEM {
		state := "connected"
		if !c.Connected {
			state = "NOT CONNECTED"
		}
		fmt.Fprintf(&b, "\nsiem      %s: %s, %d sent, %s waiting, %d dropped", term(c.Collector), state, c.Sent, size(c.Pending), c.Dropped)
		if c.LastError != "" {
			fmt.Fprintf(&b, "; last error %s", term(c.LastError))
		}
	}
	return b.String()
}

// counts prints "a 3, b 1" in name order; "none" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", term(k), m[k])
	}
	return strings.Join(parts, ", ")
}

// size is a byte count for people.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// SettingValue is one key of show settings.
type SettingValue struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Changed bool   `json:"changed"` // differs from the default
}

func settingsText(vs []SettingValue) string {
	if len(vs) == 0 {
		return "no such settings"
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString("\n")
		}
		mark := " "
		if v.Changed {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s %s = %s", mark, term(v.Key), term(v.Value))
	}
	return b.String()
}
