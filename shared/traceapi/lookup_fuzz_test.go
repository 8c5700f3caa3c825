package traceapi

import (
	"encoding/json"
	"testing"
)

// FuzzLookupIDs: a body is a lookup request only when it is an object
// whose one key is "lookup"; an accepted one holds the ids the JSON array
// spells, at most MaxLookup of them.
func FuzzLookupIDs(f *testing.F) {
	for _, s := range []string{`{"lookup":["a","b"]}`, `{"lookup":[]}`, `{"lookup":"a"}`, `{"lookup":["a"],"alert_id":"x"}`, `{"alert_id":"lookup"}`, ` {"lookup":[1]} `, "{\"lookup\":[]}\v"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, ok, err := lookupIDs(body)
		if !ok {
			if ids != nil || err != nil {
				t.Fatalf("not a lookup, yet ids=%v err=%v", ids, err)
			}
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil || len(top) != 1 || top["lookup"] == nil {
			t.Fatalf("taken for a lookup: %q", body)
		}
		if err != nil {
			return
		}
		var want []string
		if json.Unmarshal(top["lookup"], &want) != nil || len(want) != len(ids) || len(ids) > MaxLookup {
			t.Fatalf("ids %q from %q", ids, body)
		}
		for i := range ids {
			if ids[i] != want[i] {
				t.Fatalf("id %d: %q, want %q", i, ids[i], want[i])
			}
		}
	})
}
