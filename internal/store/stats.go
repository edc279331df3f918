package store

import (
	"context"
	"strconv"
	"time"
)

// Stats are the dashboard's figures over a period: detections by risk in
// time buckets, and the threats, recipients and sources most seen in the
// detected messages (risk high, medium or low; the unrated are counted in
// the buckets, apart, as what could not be judged).
type Stats struct {
	Since, Until time.Time
	Bucket       time.Duration
	// Buckets[i] counts the messages received in [Since+i*Bucket,
	// Since+(i+1)*Bucket) by risk.
	Buckets    []map[string]int
	Threats    []Count
	Recipients []Count
	Sources    []Count // the first public relay of each message
}

// Count is a value and how many detected messages had it.
type Count struct {
	Value string
	N     int
}

// detected are the risks of a detection.
const detected = `('high', 'medium', 'low')`

// statsTop is how long the top lists are.
const statsTop = 10

// Stats counts the messages received in [since, until) in buckets of
// bucket. Each count walks the risk index (messages_risk: risk, received)
// for the period only: a month of a million-message year is read in tens
// of milliseconds (BenchmarkWebPagesMillion).
func (db *DB) Stats(ctx context.Context, since, until time.Time, bucket time.Duration) (*Stats, error) {
	st := &Stats{Since: since, Until: until, Bucket: bucket}
	n := int((until.Sub(since) + bucket - 1) / bucket)
	st.Buckets = make([]map[string]int, n)
	for i := range st.Buckets {
		st.Buckets[i] = map[string]int{}
	}
	rows, err := db.r.QueryContext(ctx, `SELECT risk, (received - ?) / ?, COUNT(*) FROM messages
		WHERE risk IN ('high', 'medium', 'low', 'unrated') AND received >= ? AND received < ? GROUP BY 1, 2`,
		since.UnixNano(), bucket.Nanoseconds(), since.UnixNano(), until.UnixNano())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var risk string
		var b, c int
		if err := rows.Scan(&risk, &b, &c); err != nil {
			rows.Close()
			return nil, err
		}
		if b >= 0 && b < n {
			st.Buckets[b][risk] += c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	period := []any{since.UnixNano(), until.UnixNano()}
	for _, q := range []struct {
		sql string
		out *[]Count
	}{
		{`SELECT f.threat, COUNT(DISTINCT m.id) FROM messages m JOIN findings f ON f.message_id = m.id
			WHERE m.risk IN ` + detected + ` AND m.received >= ? AND m.received < ? AND f.threat != ''
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ` + strconv.Itoa(statsTop), &st.Threats},
		{`SELECT lower(j.value), COUNT(*) FROM messages m, json_each(m.rcpt_to) j
			WHERE m.risk IN ` + detected + ` AND m.received >= ? AND m.received < ?
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ` + strconv.Itoa(statsTop), &st.Recipients},
		{`SELECT source, COUNT(*) FROM messages
			WHERE risk IN ` + detected + ` AND received >= ? AND received < ? AND source != ''
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ` + strconv.Itoa(statsTop), &st.Sources},
	} {
		rows, err := db.r.QueryContext(ctx, q.sql, period...)
		if err != nil {
			return nil, err
		}
		*q.out = []Count{}
		for rows.Next() {
			var c Count
			if err := rows.Scan(&c.Value, &c.N); err != nil {
				rows.Close()
				return nil, err
			}
			*q.out = append(*q.out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return st, nil
}
