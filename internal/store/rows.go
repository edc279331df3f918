package store

import (
	"strings"
)

// insertRows inserts rows (each len(cols) values) into table with
// multi-row INSERTs: a message's trail, findings and feedback records are
// a dozen rows, and each statement costs a round through database/sql and
// cgo. Rows go in chunks of 16, 8, 4, 2 and 1, so that at most five
// statements per table are ever prepared (Tx caches them by text).
func insertRows(tx *Tx, table string, cols []string, rows [][]any) error {
	for len(rows) > 0 {
		n := 16
		for n > len(rows) {
			n /= 2
		}
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.Exec(insertText(table, cols, n), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertText is "INSERT INTO table (cols) VALUES (?,…),(?,…)…" for n rows.
func insertText(table string, cols []string, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+",", n), ",")
}
