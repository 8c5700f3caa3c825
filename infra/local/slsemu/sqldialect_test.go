package slsemu

import (
	"database/sql/driver"
	"strings"
	"testing"
	"time"
)

func TestSplitQuery(t *testing.T) {
	tests := []struct {
		q, search, sql string
		hasSQL         bool
	}{
		{"* | SELECT count(*) AS PV", "*", "SELECT count(*) AS PV", true},
		{"*|select 1", "*", "select 1", true},
		{"status: 500", "status: 500", "", false},
		{"", "", "", false},
		// A '|' inside a literal or a quoted name does not split.
		{`"a|b" | select 'x|y' as "c|d"`, `"a|b"`, `select 'x|y' as "c|d"`, true},
		{"* | select a | b", "*", "select a | b", true},
	}
	for _, tc := range tests {
		s, q, has := splitQuery(tc.q)
		if s != tc.search || q != tc.sql || has != tc.hasSQL {
			t.Errorf("splitQuery(%q) = %q, %q, %v; want %q, %q, %v", tc.q, s, q, has, tc.search, tc.sql, tc.hasSQL)
		}
	}
}

// The statements are the SLS documentation's examples (query and analysis
// quick start, NAT session-log tracing, date and time functions).
func TestTranslateSQL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT count(*) AS PV", "SELECT count(*) AS PV FROM log LIMIT 100"},
		{"SELECT count(*) as PV, date_trunc('minute', __time__) as time GROUP BY time ORDER BY time",
			"SELECT count(*) as PV, date_trunc('minute', __time__) as time FROM log GROUP BY time ORDER BY time LIMIT 100"},
		{"SELECT request_method, count(*) as count, __time__ - __time__ %300 as time GROUP BY time, request_method ORDER BY time",
			"SELECT request_method, count(*) as count, __time__ - __time__ %300 as time FROM log GROUP BY time, request_method ORDER BY time LIMIT 100"},
		// The seed's first query keeps its FROM log and gets the default LIMIT.
		{"select sum(bytes_from_vpc) as total_bytes, date_trunc('minute', __time__) as ts_min from log where pub_ip = '47.110.22.157' group by ts_min",
			"select sum(bytes_from_vpc) as total_bytes, date_trunc('minute', __time__) as ts_min from log where pub_ip = '47.110.22.157' group by ts_min LIMIT 100"},
		// Words inside literals, quoted names, comments and subqueries are
		// not clauses.
		{"select 'from' as a, \"limit\" as b /* from */ where x = 1", "select 'from' as a, \"limit\" as b /* from */ FROM log where x = 1 LIMIT 100"},
		{"select max(n) as m from (select count(1) as n from log group by pri_ip) limit 5", "select max(n) as m from (select count(1) as n from log group by pri_ip) limit 5"},
		{"select 1;", "select 1 FROM log LIMIT 100"},
	}
	for _, tc := range tests {
		if got := translateSQL(tc.in); got != tc.want {
			t.Errorf("translateSQL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestDateTrunc(t *testing.T) {
	at := time.Date(2025, 2, 5, 14, 57, 42, 0, time.UTC) // a Wednesday
	tests := []struct {
		unit string
		x    any
		want any
	}{
		{"minute", at.Unix(), time.Date(2025, 2, 5, 14, 57, 0, 0, time.UTC).Unix()},
		{"MINUTE", at.Unix(), time.Date(2025, 2, 5, 14, 57, 0, 0, time.UTC).Unix()},
		{"second", at.Unix(), at.Unix()},
		{"hour", at.Unix(), time.Date(2025, 2, 5, 14, 0, 0, 0, time.UTC).Unix()},
		{"day", at.Unix(), time.Date(2025, 2, 5, 0, 0, 0, 0, time.UTC).Unix()},
		{"week", at.Unix(), time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC).Unix()},
		{"month", at.Unix(), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC).Unix()},
		{"quarter", at.Unix(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
		{"year", at.Unix(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
		// A timestamp string keeps its type.
		{"hour", "2017-05-17 09:45:00.848", "2017-05-17 09:00:00.000"},
		{"minute", nil, nil},
	}
	for _, tc := range tests {
		got, err := dateTrunc(nil, []driver.Value{tc.unit, tc.x})
		if err != nil || got != tc.want {
			t.Errorf("date_trunc(%q, %v) = %v, %v; want %v", tc.unit, tc.x, got, err, tc.want)
		}
	}
	if _, err := dateTrunc(nil, []driver.Value{"fortnight", at.Unix()}); err == nil || !strings.Contains(err.Error(), "fortnight") {
		t.Errorf("unknown unit: %v", err)
	}
}

// FuzzSplitQuery: splitting never loses text (search and SQL put back
// together are the query, up to the separator and outer spaces), and the
// FROM/LIMIT translation keeps the statement as a prefix-preserving edit.
func FuzzSplitQuery(f *testing.F) {
	for _, s := range []string{"* | select 1", `"a|b" | select 'x'`, "x", "* | select a from log limit 3", "'unterminated | x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		search, stmt, has := splitQuery(q)
		if !has {
			if search != strings.TrimSpace(q) || stmt != "" {
				t.Fatalf("no SQL but split %q into %q, %q", q, search, stmt)
			}
			return
		}
		if !strings.Contains(q, "|") || !strings.HasPrefix(strings.TrimSpace(q), search) || !strings.HasSuffix(strings.TrimSpace(q), stmt) {
			t.Fatalf("split %q into %q, %q", q, search, stmt)
		}
		out := translateSQL(stmt)
		if !strings.Contains(strings.ToLower(out), "limit") || !strings.Contains(strings.ToLower(out), "from") {
			t.Fatalf("translateSQL(%q) = %q: no FROM or LIMIT", stmt, out)
		}
	})
}
