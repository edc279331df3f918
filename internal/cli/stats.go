package cli

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Stats is show stats: the dashboard's figures over a period.
type Stats struct {
	Period string `json:"period"` // 24h, 7d, 30d
	Since  string `json:"since"`
	Until  string `json:"until"`
	// BucketSeconds is each bucket's length: an hour, six hours, a day.
	BucketSeconds int64         `json:"bucket_seconds"`
	Buckets       []StatsBucket `json:"buckets"`
	// The detected messages' (risk high, medium, low) top threat types,
	// recipients and sources (the first public relay), most first.
	Threats    []Count `json:"threats"`
	Recipients []Count `json:"recipients"`
	Sources    []Count `json:"sources"`
}

// StatsBucket counts the messages received in one bucket by risk; Unix is
// its start in seconds.
type StatsBucket struct {
	Unix    int64 `json:"unix"`
	High    int   `json:"high"`
	Medium  int   `json:"medium"`
	Low     int   `json:"low"`
	Unrated int   `json:"unrated"`
}

// Count is a value and how many detected messages had it.
type Count struct {
	Value string `json:"value"`
	N     int    `json:"n"`
}

// StatsPeriods are the periods show stats takes, with their bucket.
var StatsPeriods = []struct {
	Name           string
	Length, Bucket time.Duration
}{
	{"24h", 24 * time.Hour, time.Hour},
	{"7d", 7 * 24 * time.Hour, 6 * time.Hour},
	{"30d", 30 * 24 * time.Hour, 24 * time.Hour},
}

// statsWindow is the period ending with the bucket now is in (buckets on
// whole UTC hours and days).
func statsWindow(name string, now time.Time) (since, until time.Time, bucket time.Duration, err error) {
	for _, p := range StatsPeriods {
		if p.Name == name {
			until = now.UTC().Truncate(p.Bucket).Add(p.Bucket)
			return until.Add(-p.Length), until, p.Bucket, nil
		}
	}
	return since, until, 0, fmt.Errorf("%w: the period is 24h, 7d or 30d", ErrUsage)
}

func showStats(ctx context.Context, b Backend, a []string) (any, error) {
	name := "24h"
	if len(a) == 1 {
		name = strings.ToLower(a[0])
	}
	since, until, bucket, err := statsWindow(name, time.Now())
	if err != nil {
		return nil, err
	}
	st, err := b.Stats(ctx, since, until, bucket)
	if err != nil {
		return nil, err
	}
	st.Period = name
	return st, nil
}

func statsText(s *Stats) string {
	var b strings.Builder
	var total StatsBucket
	for _, x := range s.Buckets {
		total.High, total.Medium, total.Low, total.Unrated = total.High+x.High, total.Medium+x.Medium, total.Low+x.Low, total.Unrated+x.Unrated
	}
	fmt.Fprintf(&b, "Detections, last %s (%s to %s): high %d, medium %d, low %d; unrated %d\n", s.Period, s.Since, s.Until,
		total.High, total.Medium, total.Low, total.Unrated)
	for _, l := range []struct {
		title string
		c     []Count
	}{{"Threat types", s.Threats}, {"Top recipients", s.Recipients}, {"Top sources", s.Sources}} {
		b.WriteString(l.title + ":")
		if len(l.c) == 0 {
			b.WriteString(" none")
		}
		b.WriteString("\n")
		for _, c := range l.c {
			fmt.Fprintf(&b, "  %6d  %s\n", c.N, term(c.Value))
		}
	}
	var rows [][]string
	for _, x := range s.Buckets {
		if x.High+x.Medium+x.Low+x.Unrated > 0 {
			rows = append(rows, []string{time.Unix(x.Unix, 0).UTC().Format("2006-01-02 15:04"), fmt.Sprint(x.High), fmt.Sprint(x.Medium),
				fmt.Sprint(x.Low), fmt.Sprint(x.Unrated)})
		}
	}
	b.WriteString(table("No detection in the period.", []string{"FROM (UTC)", "HIGH", "MEDIUM", "LOW", "UNRATED"}, rows))
	return strings.TrimRight(b.String(), "\n")
}
