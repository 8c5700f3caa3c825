package pending

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ndrtrace/ndrtrace/shared/alert"
)

// An entry's value parses back into what was written (its open-until time
// and its result), and anything else is refused or parsed without panic;
// a parsed value always re-encodes to the same entry.
func FuzzEntry(f *testing.F) {
	f.Add(int64(1738767600), "a1", "untraced", `{"alert_id":"a1"}`, "1738767600 {}")
	f.Add(int64(0), "x", "traced", `{}`, "0 {\"alert_id\":\"x\",\"status\":\"traced\"}")
	f.Add(int64(-1), "", "", `null`, "nope")
	f.Fuzz(func(t *testing.T, until int64, id, status, raw, value string) {
		// Alert ids and statuses are valid UTF-8 by the time they are kept
		// (alert refuses other ids), and JSON would alter the others.
		if utf8.ValidString(id) && utf8.ValidString(status) {
			r := alert.Result{AlertID: id, Status: alert.Status(status)}
			if json.Valid([]byte(raw)) {
				r.Alert = json.RawMessage(raw)
			}
			v, err := encodeEntry(until, &r)
			if err == nil {
				e, ok := decodeEntry(v)
				if !ok || e.until != until || e.result.AlertID != id || e.result.Status != r.Status || e.raw != v {
					t.Fatalf("round trip of %q: %+v %v", v, e, ok)
				}
			}
		}
		// Arbitrary values: a parsed one is a number, a space and the rest,
		// and a decoded one's rest is JSON.
		if u, js, ok := resultJSON(value); ok {
			head, tail, _ := strings.Cut(value, " ")
			if n, err := strconv.ParseInt(head, 10, 64); err != nil || n != u || tail != js {
				t.Fatalf("%q split into %d and %q", value, u, js)
			}
			if _, ok := decodeEntry(value); ok && !json.Valid([]byte(js)) {
				t.Fatalf("%q decoded with a tail that is not JSON", value)
			}
		}
	})
}

// Index fields and fingerprints convert both ways; other fields are not
// fingerprints.
func FuzzFingerprintField(f *testing.F) {
	f.Add(uint64(0), "")
	f.Add(uint64(1<<63+5), "12345678")
	f.Fuzz(func(t *testing.T, fp uint64, field string) {
		if got, ok := fpOf(fpField(fp)); !ok || got != fp {
			t.Fatalf("%d -> %q -> %d %v", fp, fpField(fp), got, ok)
		}
		if back, ok := fpOf(field); ok != (len(field) == 8) || ok && fpField(back) != field {
			t.Fatalf("field %q: %d %v", field, back, ok)
		}
	})
}
