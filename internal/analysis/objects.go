package analysis

import (
	"net/url"
	"path"
	"strings"
	"sync"

	"mailinspector/internal/message"
	"mailinspector/internal/netguard"
	"mailinspector/internal/store"
)

// The objects of a message the hub stages ask about: its URLs, its files
// and the names (domains and addresses) it carries, each found once per
// message and shared by every stage.

type asked struct {
	urlsOnce, namesOnce sync.Once
	urls                []message.URL
	urlsExtra           int
	names               []namedObject
	namesExtra          int
}

// messageURLs are the distinct URLs of the message, at most maxObjects.
// The slice is shared: callers must not change it.
func messageURLs(m *Message) ([]message.URL, int) {
	if m.Extract == nil {
		return nil, 0
	}
	m.asked.urlsOnce.Do(func() { m.asked.urls, m.asked.urlsExtra = distinctURLs(m) })
	return m.asked.urls, m.asked.urlsExtra
}

func distinctURLs(m *Message) (urls []message.URL, extra int) {
	seen := map[string]bool{}
	for _, u := range m.Extract.URLs {
		if seen[u.URL] {
			continue
		}
		seen[u.URL] = true
		if len(urls) == maxObjects {
			extra++
			continue
		}
		urls = append(urls, u)
	}
	return urls, extra
}

// fileObject is an attachment or archive member to ask about.
type fileObject struct {
	SHA256, Where, TrueType, DeclaredType string
	Size                                  int64
	Part                                  int // index in Extract.Parts; -1 for archive members
}

// messageFiles are the distinct files of the message (attachments and
// archive members) not found known-good, at most maxObjects.
func messageFiles(m *Message) (files []fileObject, extra int) {
	if m.Extract == nil {
		return nil, 0
	}
	seen := map[string]bool{}
	add := func(f fileObject) {
		if f.SHA256 == "" || seen[f.SHA256] || m.KnownGood[f.SHA256] != "" {
			return
		}
		seen[f.SHA256] = true
		if len(files) == maxObjects {
			extra++
			return
		}
		files = append(files, f)
	}
	for i := range m.Extract.Parts {
		p := &m.Extract.Parts[i]
		if p.Attachment {
			add(fileObject{p.SHA256, partLocation(p), p.TrueType, p.DeclaredType, p.Size, i})
		}
	}
	for _, mb := range m.Members {
		add(fileObject{mb.Member.SHA256, partLocation(&mb.Part) + ": " + mb.Member.Path, mb.Member.TrueType, "", mb.Member.Size, -1})
	}
	return files, extra
}

func orName(name, where string) string {
	if name != "" {
		return name
	}
	return where
}

type namedObject struct{ name, where string }

// messageNames are the distinct link hosts, the sender's domain and the
// public relay IPs of the message. The slice is shared once the extraction
// ran: callers must not change it.
func messageNames(m *Message) ([]namedObject, int) {
	if m.Extract == nil {
		return distinctNames(m)
	}
	m.asked.namesOnce.Do(func() { m.asked.names, m.asked.namesExtra = distinctNames(m) })
	return m.asked.names, m.asked.namesExtra
}

func distinctNames(m *Message) ([]namedObject, int) {
	seen := map[string]bool{}
	var out []namedObject
	extra := 0
	add := func(name, where string) {
		name = strings.ToLower(strings.Trim(name, "[]."))
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		if len(out) == maxObjects {
			extra++
			return
		}
		out = append(out, namedObject{name, where})
	}
	if _, d, ok := strings.Cut(m.Meta.From, "@"); ok {
		add(d, "envelope sender")
	}
	urls, _ := messageURLs(m)
	for _, u := range urls {
		if pu, err := url.Parse(u.URL); err == nil {
			add(pu.Hostname(), u.Where)
		}
	}
	if m.Header != nil {
		for _, ip := range receivedIPs(m.Header["Received"]) {
			if netguard.Reputable(ip) {
				add(ip.String(), "Received")
			}
		}
	}
	return out, extra
}

// maxStoredFiles bounds the files a message's record lists (its page and
// the dashboard); the analysis itself looks at every file.
const maxStoredFiles = 100

// maxStoredRelays bounds the relays a message's record lists.
const maxStoredRelays = 10

// StoredObjects are what a message's record keeps of what it held
// (store.Object): every attachment and archive member with its types, size
// and hashes, the distinct links the hub stages ask about, and the public
// relays of its Received fields, newest first. A message not taken apart
// (the extraction did not run) has its relays only.
func StoredObjects(m *Message) []store.Object {
	out := []store.Object{}
	if m.Extract != nil {
		files := 0
		for i := range m.Extract.Parts {
			p := &m.Extract.Parts[i]
			if !p.Attachment || files == maxStoredFiles {
				continue
			}
			files++
			out = append(out, store.Object{Kind: store.ObjectFile, Value: p.SHA256, Name: p.Filename, Location: partLocation(p),
				Declared: p.DeclaredType, TrueType: p.TrueType, Size: p.Size, SHA1: p.SHA1})
		}
		for _, mb := range m.Members {
			if files == maxStoredFiles {
				break
			}
			files++
			out = append(out, store.Object{Kind: store.ObjectFile, Value: mb.Member.SHA256, Name: path.Base(mb.Member.Path),
				Location: partLocation(&mb.Part) + ": " + mb.Member.Path, TrueType: mb.Member.TrueType, Size: mb.Member.Size})
		}
		urls, _ := messageURLs(m)
		for _, u := range urls {
			out = append(out, store.Object{Kind: store.ObjectURL, Value: u.URL, Name: u.Raw, Location: u.Where})
		}
	}
	if m.Header != nil {
		n := 0
		for _, ip := range receivedIPs(m.Header["Received"]) {
			if n < maxStoredRelays && netguard.Reputable(ip) {
				n++
				out = append(out, store.Object{Kind: store.ObjectIP, Value: ip.String(), Location: "Received"})
			}
		}
	}
	return out
}
