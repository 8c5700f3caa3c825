package slsemu

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	_ "modernc.org/sqlite" // the embedded SQL engine GetLogs runs SQL on
)

// sqlTable is a logstore's records as a SQLite table, for GetLogs with SQL.
// It is built from the index (which fields are columns, of which type) and
// kept up to date incrementally: each query first appends the log groups
// stored since the previous one, so a series of queries over a large
// logstore pays for loading its records once. A change of index rebuilds it.
type sqlTable struct {
	mu     sync.Mutex
	db     *sql.DB
	conn   *sql.Conn // the one connection, which owns the in-memory database
	index  []byte    // the index the table was built for
	cols   []sqlColumn
	loaded []int // per shard: frames already in the table
}

type sqlColumn struct {
	name string
	kind string // text, long, double
}

// Reserved fields every log has.
var reservedColumns = []sqlColumn{{"__time__", "long"}, {"__topic__", "text"}, {"__source__", "text"}}

// sqlTables holds each logstore's table. Tables of deleted logstores are
// left to the end of the process: the emulator is short-lived.
type sqlTables struct {
	mu sync.Mutex
	m  map[*logstore]*sqlTable
}

func (ts *sqlTables) get(ls *logstore) *sqlTable {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[*logstore]*sqlTable{}
	}
	t, ok := ts.m[ls]
	if !ok {
		t = &sqlTable{}
		ts.m[ls] = t
	}
	return t
}

// indexColumns reads the columns an index gives SQL: the fields with
// doc_value on, typed by the index.
func indexColumns(index []byte) ([]sqlColumn, error) {
	var idx struct {
		Keys map[string]struct {
			Type     string `json:"type"`
			DocValue bool   `json:"doc_value"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("index config: %w", err)
	}
	cols := append([]sqlColumn(nil), reservedColumns...)
	names := make([]string, 0, len(idx.Keys))
	for name := range idx.Keys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := idx.Keys[name]
		if !k.DocValue || strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") {
			continue
		}
		switch k.Type {
		case "text", "long", "double":
			cols = append(cols, sqlColumn{name, k.Type})
		}
	}
	return cols, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlType(kind string) string {
	switch kind {
	case "long":
		return "INTEGER"
	case "double":
		return "REAL"
	}
	return "TEXT"
}

// sync brings the table up to date with the logstore: rebuilt when the
// index changed, then the groups stored since the last sync appended.
// Caller holds t.mu.
func (t *sqlTable) sync(ctx context.Context, ls *logstore) error {
	ls.mu.Lock()
	index := ls.index
	ls.mu.Unlock()
	if index == nil {
		return newAPIError(http.StatusBadRequest, codeIndexConfigNotExist,
			"logstore %s has no index: SQL analysis needs fields with analytics (doc_value) on", ls.name)
	}
	if t.conn == nil || !bytes.Equal(index, t.index) {
		if err := t.rebuild(ctx, index, len(ls.shards)); err != nil {
			return err
		}
	}
	for i, sh := range ls.shards {
		frames := sh.snapshot()
		if len(frames) <= t.loaded[i] {
			continue
		}
		if err := t.insert(ctx, frames[t.loaded[i]:]); err != nil {
			return err
		}
		t.loaded[i] = len(frames)
	}
	return nil
}

func (t *sqlTable) rebuild(ctx context.Context, index []byte, shards int) error {
	cols, err := indexColumns(index)
	if err != nil {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "%v", err)
	}
	if t.conn == nil {
		db, err := sql.Open("sqlite", ":memory:")
		if err != nil {
			return fmt.Errorf("open sqlite: %w", err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			db.Close()
			return fmt.Errorf("sqlite connection: %w", err)
		}
		t.db, t.conn = db, conn
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = quoteIdent(c.name) + " " + sqlType(c.kind)
	}
	for _, stmt := range []string{
		"DROP TABLE IF EXISTS records",
		"CREATE TABLE records (" + strings.Join(defs, ", ") + ")",
		"CREATE INDEX records_time ON records (__time__)",
	} {
		if _, err := t.conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlite %q: %w", stmt, err)
		}
	}
	t.index, t.cols, t.loaded = index, cols, make([]int, shards)
	return nil
}

// insert appends the logs of frames, in one transaction.
func (t *sqlTable) insert(ctx context.Context, frames [][]byte) error {
	pos := make(map[string]int, len(t.cols))
	for i, c := range t.cols {
		pos[c.name] = i
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",")
	tx, err := t.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO records VALUES ("+marks+")")
	if err != nil {
		return fmt.Errorf("sqlite prepare insert: %w", err)
	}
	defer stmt.Close()
	row := make([]any, len(t.cols))
	var lg sls.LogGroup
	for _, f := range frames {
		lg.Reset()
		if err := lg.Unmarshal(groupOfFrame(f)); err != nil {
			return fmt.Errorf("stored log group: %w", err) // validated on PutLogs: cannot happen
		}
		for _, l := range lg.Logs {
			clear(row)
			row[0] = int64(l.GetTime())
			row[1] = lg.GetTopic()
			row[2] = lg.GetSource()
			for _, c := range l.Contents {
				i, ok := pos[c.GetKey()]
				if !ok || i < len(reservedColumns) {
					continue
				}
				row[i] = typedValue(t.cols[i].kind, c.GetValue())
			}
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				return fmt.Errorf("sqlite insert: %w", err)
			}
		}
	}
	return tx.Commit()
}

// typedValue converts a field's text to its index type; a number that does
// not parse is NULL, as on the service.
func typedValue(kind, v string) any {
	switch kind {
	case "long":
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n
		}
		return nil
	case "double":
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f
		}
		return nil
	}
	return v
}

// query runs an SLS analytic statement over the records in [from, to) and
// returns the column names and rows, every value as SLS renders it.
func (t *sqlTable) query(ctx context.Context, stmt string, from, to int64) ([]string, []map[string]string, error) {
	// log is the time range of the request; the statement is a subquery so
	// that it can only ever be one SELECT.
	q := "WITH log AS (SELECT * FROM records WHERE __time__ >= ? AND __time__ < ?) SELECT * FROM (" + translateSQL(stmt) + ")"
	rows, err := t.conn.QueryContext(ctx, q, from, to)
	if err != nil {
		return nil, nil, newAPIError(http.StatusBadRequest, codeParameterInvalid, "SQL: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite columns: %w", err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, fmt.Errorf("sqlite scan: %w", err)
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = renderValue(vals[i])
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, newAPIError(http.StatusBadRequest, codeParameterInvalid, "SQL: %v", err)
	}
	return cols, out, nil
}

// renderValue writes a SQL value the way GetLogs returns it: every value a
// string, NULL as "null".
func renderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []byte:
		return string(x)
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
