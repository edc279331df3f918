package siem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/durable"
)

// Queue is one collector's records on disk: numbered segment files of
// length-prefixed records, appended at the end, read from a cursor that
// moves once the collector has them. Past MaxBytes the oldest segments go
// (their unread records counted in Dropped): a long outage costs the
// oldest events, never the daemon's disk.
type Queue struct {
	dir string
	max int64

	mu      sync.Mutex
	segs    []segment // oldest first; the last is written
	total   int64
	w       *os.File
	cursor  Pos // what the collector has
	saved   Pos // the cursor as the file has it
	savedAt time.Time
	dropped uint64
	// notify has a value when a record was appended.
	notify chan struct{}
	// rf reads the segment the sender is in.
	rf    *os.File
	rfSeg uint64
}

// Pos is a place in the queue: a segment and an offset in it.
type Pos struct {
	Seg uint64
	Off int64
}

func (p Pos) before(q Pos) bool { return p.Seg < q.Seg || p.Seg == q.Seg && p.Off < q.Off }

type segment struct {
	n       uint64
	size    int64
	records int
}

const (
	segmentBytes = 1 << 20
	maxRecord    = 1 << 20
	cursorFile   = "cursor"
	segSuffix    = ".seg"
)

func (q *Queue) segPath(n uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", n, segSuffix))
}

// OpenQueue opens or creates the queue in dir, bounded to maxBytes. A
// record torn by a crash at the end of the last segment is cut off.
func OpenQueue(dir string, maxBytes int64) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	q := &Queue{dir: dir, max: maxBytes, notify: make(chan struct{}, 1)}
	names, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		size, records, err := scanSegment(name)
		if err != nil {
			return nil, err
		}
		q.segs = append(q.segs, segment{n: n, size: size, records: records})
		q.total += size
	}
	if len(q.segs) == 0 {
		q.segs = []segment{{n: 1}}
	}
	last := q.segs[len(q.segs)-1]
	if q.w, err = os.OpenFile(q.segPath(last.n), os.O_CREATE|os.O_WRONLY, 0o640); err != nil {
		return nil, err
	}
	// Cut a torn record off the end.
	if err := q.w.Truncate(last.size); err != nil {
		return nil, err
	}
	if _, err := q.w.Seek(last.size, io.SeekStart); err != nil {
		return nil, err
	}
	q.cursor = Pos{Seg: q.segs[0].n}
	if data, err := os.ReadFile(filepath.Join(dir, cursorFile)); err == nil {
		var p Pos
		if _, err := fmt.Sscanf(string(data), "%d %d", &p.Seg, &p.Off); err == nil && q.cursor.before(p) {
			q.cursor = p
		}
	}
	q.saved = q.cursor
	return q, nil
}

// scanSegment measures a segment: the bytes of its whole records and how
// many there are.
func scanSegment(path string) (int64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	var off int64
	n := 0
	var h [4]byte
	for {
		if _, err := f.ReadAt(h[:], off); err != nil {
			break
		}
		l := int64(binary.BigEndian.Uint32(h[:]))
		if l > maxRecord || off+4+l > st.Size() {
			break
		}
		off += 4 + l
		n++
	}
	return off, n, nil
}

// Append adds a record at the end.
func (q *Queue) Append(rec []byte) error {
	if len(rec) > maxRecord {
		return fmt.Errorf("siem: record of %d bytes", len(rec))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	last := &q.segs[len(q.segs)-1]
	if last.size > 0 && last.size+4+int64(len(rec)) > segmentBytes {
		if err := q.w.Close(); err != nil {
			return err
		}
		n := last.n + 1
		w, err := os.OpenFile(q.segPath(n), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		q.w = w
		q.segs = append(q.segs, segment{n: n})
		last = &q.segs[len(q.segs)-1]
	}
	buf := make([]byte, 4+len(rec))
	binary.BigEndian.PutUint32(buf, uint32(len(rec)))
	copy(buf[4:], rec)
	if _, err := q.w.Write(buf); err != nil {
		// Whatever part went stays past size: overwritten by the next record.
		q.w.Seek(last.size, io.SeekStart)
		return err
	}
	last.size += int64(len(buf))
	last.records++
	q.total += int64(len(buf))
	q.bound()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// bound drops the oldest segments while the queue is over its bound,
// counting the records in them nobody has sent.
func (q *Queue) bound() {
	for q.total > q.max && len(q.segs) > 1 {
		old := q.segs[0]
		switch {
		case q.cursor.Seg > old.n:
		case q.cursor.Seg == old.n && q.cursor.Off > 0:
			q.dropped += uint64(old.records - recordsBefore(q.segPath(old.n), q.cursor.Off))
		default:
			q.dropped += uint64(old.records)
		}
		os.Remove(q.segPath(old.n))
		q.segs = q.segs[1:]
		q.total -= old.size
		if q.cursor.Seg <= old.n {
			q.cursor = Pos{Seg: q.segs[0].n}
		}
	}
}

// recordsBefore counts the records of a segment before off.
func recordsBefore(path string, off int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var h [4]byte
	n := 0
	for at := int64(0); at < off; n++ {
		if _, err := f.ReadAt(h[:], at); err != nil {
			break
		}
		at += 4 + int64(binary.BigEndian.Uint32(h[:]))
	}
	return n
}

// Cursor is where the collector's records begin: the first one not sent
// (or sent but not yet known to have arrived).
func (q *Queue) Cursor() Pos {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cursor
}

// Read returns the record at p and the place of the next one; ok is false
// when nothing is there yet. A p the bound has dropped reads from the
// oldest record left.
func (q *Queue) Read(p Pos) (rec []byte, next Pos, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.Seg < q.segs[0].n {
		p = Pos{Seg: q.segs[0].n}
	}
	for i := range q.segs {
		s := q.segs[i]
		if s.n < p.Seg {
			continue
		}
		if s.n > p.Seg {
			p = Pos{Seg: s.n}
		}
		if p.Off >= s.size {
			continue // a finished segment: the next one
		}
		if q.rf == nil || q.rfSeg != s.n {
			if q.rf != nil {
				q.rf.Close()
			}
			if q.rf, err = os.Open(q.segPath(s.n)); err != nil {
				q.rf = nil
				return nil, p, false, err
			}
			q.rfSeg = s.n
		}
		var h [4]byte
		if _, err := q.rf.ReadAt(h[:], p.Off); err != nil {
			return nil, p, false, err
		}
		l := int64(binary.BigEndian.Uint32(h[:]))
		rec = make([]byte, l)
		if _, err := q.rf.ReadAt(rec, p.Off+4); err != nil {
			return nil, p, false, err
		}
		return rec, Pos{Seg: s.n, Off: p.Off + 4 + l}, true, nil
	}
	return nil, p, false, nil
}

// Commit moves the cursor to p: the records before it have arrived.
// Segments wholly before it are deleted; the cursor reaches the disk at
// most once a second (and at Close): a crash resends at most that much.
func (q *Queue) Commit(p Pos) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.cursor.before(p) {
		return nil
	}
	q.cursor = p
	for len(q.segs) > 1 && q.segs[0].n < p.Seg {
		os.Remove(q.segPath(q.segs[0].n))
		q.total -= q.segs[0].size
		q.segs = q.segs[1:]
	}
	if time.Since(q.savedAt) >= time.Second {
		return q.saveCursor()
	}
	return nil
}

func (q *Queue) saveCursor() error {
	if q.saved == q.cursor {
		return nil
	}
	q.savedAt = time.Now()
	if err := durable.WriteFile(filepath.Join(q.dir, cursorFile), []byte(fmt.Sprintf("%d %d\n", q.cursor.Seg, q.cursor.Off)), 0o640); err != nil {
		return err
	}
	q.saved = q.cursor
	return nil
}

// Sync makes the appended records and the cursor durable.
func (q *Queue) Sync() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return errors.Join(q.w.Sync(), q.saveCursor())
}

// QueueStats are the bytes on disk, those not yet sent, and how many
// records the bound dropped since the queue was opened.
type QueueStats struct {
	Bytes, Pending int64
	Dropped        uint64
}

// Stats reports the queue's size and drops.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{Bytes: q.total, Dropped: q.dropped}
	for _, s := range q.segs {
		switch {
		case s.n > q.cursor.Seg:
			st.Pending += s.size
		case s.n == q.cursor.Seg:
			st.Pending += s.size - q.cursor.Off
		}
	}
	return st
}

// Notify has a value after an append.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Close syncs and closes the files.
func (q *Queue) Close() error {
	err := q.Sync()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rf != nil {
		q.rf.Close()
	}
	return errors.Join(err, q.w.Close())
}
