package slsemu

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// The SLS query language as GetLogs takes it, and what the emulator does
// with each construct before handing the SQL to SQLite. SQL itself is never
// interpreted here: SQLite parses and runs it. Only these SLS-dialect
// constructs are translated, each documented with the SLS reference it
// follows and tested in sqldialect_test.go against that reference's
// examples:
//
//   - "<search> | <sql>" (SLS "query and analysis statement"): the part
//     before the first '|' outside quotes is the search statement, the rest
//     the analytic SQL. The emulator accepts only "*" (or nothing) as the
//     search: every log of the time range.
//   - "FROM log": the table of an analytic statement is the logstore, named
//     log, and may be left out (the SLS docs recommend leaving it out). The
//     emulator binds log to the logstore's records within [from, to) (a
//     common table expression) and, when the statement has no top-level
//     FROM, inserts "FROM log" where the clause belongs.
//   - LIMIT: an SLS analytic statement without LIMIT returns at most 100
//     rows; the emulator appends "LIMIT 100" to such a statement.
//   - date_trunc(unit, x): SLS truncates x to the unit; x is a Unix
//     timestamp (like __time__) or a timestamp string, and the result has
//     x's type. A SQLite function of that name implements it (UTC).
//   - Field types come from the logstore's index: only fields with
//     doc_value (analytics) on are columns; long fields are INTEGER, double
//     REAL, text TEXT, and a value that does not parse as its field's
//     number type is NULL. __time__ (INTEGER), __topic__ and __source__ are
//     always there. So sum(bytes_from_vpc) sums integers only when the index
//     says the field is long, as on the service.
//
// Everything else (count, sum, group by an alias, order by, in, between,
// arithmetic such as __time__ - __time__ % 60) is SQL that SQLite and SLS
// share.

// defaultSQLLimit is the number of rows an SLS analytic statement without
// LIMIT returns.
const defaultSQLLimit = 100

// splitQuery splits a GetLogs query into its search statement and its SQL
// (empty when there is no '|' outside quotes).
func splitQuery(q string) (search, sqlText string, hasSQL bool) {
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '|':
			return strings.TrimSpace(q[:i]), strings.TrimSpace(q[i+1:]), true
		}
	}
	return strings.TrimSpace(q), "", false
}

// sqlToken is one top-level word of a statement: its text (lower-cased)
// and where it starts.
type sqlToken struct {
	word string
	at   int
}

// topLevelWords returns the bare words (keywords and identifiers) of a
// statement that are outside parentheses, string literals, quoted
// identifiers and comments: enough to find its clauses without parsing it.
func topLevelWords(s string) []sqlToken {
	var out []sqlToken
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				j++
			}
			i = j + 1
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if depth == 0 {
				out = append(out, sqlToken{strings.ToLower(s[i:j]), i})
			}
			i = j
		default:
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// translateSQL applies the FROM log and LIMIT rules to an SLS analytic
// statement.
func translateSQL(stmt string) string {
	stmt = strings.TrimRight(strings.TrimSpace(stmt), ";")
	words := topLevelWords(stmt)
	hasFrom, hasLimit := false, false
	clauseAt := -1 // first top-level clause that follows FROM
	for _, w := range words {
		switch w.word {
		case "from":
			hasFrom = true
		case "limit":
			hasLimit = true
		}
		if clauseAt < 0 {
			switch w.word {
			case "where", "group", "having", "order", "limit":
				clauseAt = w.at
			}
		}
	}
	if !hasFrom {
		if clauseAt < 0 {
			stmt += " FROM log"
		} else {
			stmt = stmt[:clauseAt] + "FROM log " + stmt[clauseAt:]
		}
	}
	if !hasLimit {
		stmt += " LIMIT " + strconv.Itoa(defaultSQLLimit)
	}
	return stmt
}

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("date_trunc", 2, dateTrunc)
}

// sqlTimestampLayout is how SLS writes a timestamp value.
const sqlTimestampLayout = "2006-01-02 15:04:05.000"

// dateTrunc is SLS's date_trunc(unit, x): a Unix timestamp in gives a Unix
// timestamp out, a timestamp string gives a timestamp string.
func dateTrunc(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	unit, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("date_trunc: unit must be a string")
	}
	var t time.Time
	unix := true
	switch x := args[1].(type) {
	case nil:
		return nil, nil
	case int64:
		t = time.Unix(x, 0).UTC()
	case float64:
		t = time.Unix(int64(x), 0).UTC()
	case string:
		p, err := parseSQLTimestamp(x)
		if err != nil {
			return nil, fmt.Errorf("date_trunc: %w", err)
		}
		t, unix = p, false
	default:
		return nil, fmt.Errorf("date_trunc: unsupported argument %T", x)
	}
	switch strings.ToLower(unit) {
	case "second":
		t = t.Truncate(time.Second)
	case "minute":
		t = t.Truncate(time.Minute)
	case "hour":
		t = t.Truncate(time.Hour)
	case "day":
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case "week": // ISO weeks start on Monday
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		t = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case "month":
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "quarter":
		t = time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
	case "year":
		t = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return nil, fmt.Errorf("date_trunc: unit %q is not one of second, minute, hour, day, week, month, quarter, year", unit)
	}
	if unix {
		return t.Unix(), nil
	}
	return t.Format(sqlTimestampLayout), nil
}

func parseSQLTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{sqlTimestampLayout, "2006-01-02 15:04:05", time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}
