package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in           string
		maxDepth, dupDepth int
		dup                string // the duplicate's dotted name, "" for none
		deep, syntax       bool
	}{
		{name: "flat", in: `{"a":1,"b":[1,2,{"c":null}],"d":"x\"y"}`, maxDepth: 8},
		{name: "top duplicate", in: `{"alerts":[{"a":1}],"alerts":[{"a":2}]}`, maxDepth: 8, dup: "alerts"},
		{name: "escaped duplicate", in: `{"src_ip":"1.1.1.1","src\u005fip":"2.2.2.2"}`, maxDepth: 8, dup: "src_ip"},
		{name: "nested duplicate named with its path", in: `{"alerts":[{"a":1},{"a":1,"a":2}]}`, maxDepth: 8, dup: "alerts.1.a"},
		{name: "nested duplicate outside dupDepth", in: `{"alerts":[{"a":1,"a":2}]}`, maxDepth: 8, dupDepth: 1},
		{name: "same key in sibling objects", in: `[{"a":1},{"a":1}]`, maxDepth: 8},
		{name: "many keys", in: `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k17":7,"k18":8,"k3":9}`, maxDepth: 8, dup: "k3"},
		{name: "at the depth limit", in: `[[[1]]]`, maxDepth: 3},
		{name: "past the depth limit", in: `[[[[1]]]]`, maxDepth: 3, deep: true},
		{name: "objects count as depth", in: `{"a":{"b":{"c":{}}}}`, maxDepth: 3, deep: true},
		{name: "trailing garbage", in: `{} x`, maxDepth: 3, syntax: true},
		{name: "unterminated", in: `{"a":`, maxDepth: 3, syntax: true},
		{name: "empty", in: ``, maxDepth: 3, syntax: true},
		{name: "null", in: ` null `, maxDepth: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in), tt.maxDepth, tt.dupDepth)
			var de *DuplicateKeyError
			var depth *DepthError
			switch {
			case tt.dup != "":
				if !errors.As(err, &de) || de.Name() != tt.dup {
					t.Fatalf("Check = %v, want duplicate %q", err, tt.dup)
				}
			case tt.deep:
				if !errors.As(err, &depth) {
					t.Fatalf("Check = %v, want a depth error", err)
				}
			case tt.syntax:
				if err != ErrSyntax {
					t.Fatalf("Check = %v, want ErrSyntax", err)
				}
			default:
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
			}
		})
	}
}

func TestDeepInputIsCheap(t *testing.T) {
	// 3 million open brackets: refused at the limit, without recursion to
	// the bottom.
	b := bytes.Repeat([]byte("["), 3_000_000)
	var de *DepthError
	if err := Check(b, 32, 0); !errors.As(err, &de) || de.Max != 32 {
		t.Fatalf("Check = %v", err)
	}
}

// reference finds the first duplicate key with encoding/json's tokenizer.
func reference(b []byte) (dup bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	var walk func() bool
	walk = func() bool {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, _ := d.Token()
				ks, _ := k.(string)
				if seen[ks] {
					dup = true
				}
				seen[ks] = true
				if !walk() {
					return false
				}
			}
			d.Token()
		case json.Delim('['):
			for d.More() {
				if !walk() {
					return false
				}
			}
			d.Token()
		}
		return true
	}
	walk()
	return dup
}

// FuzzCheck: Check agrees with encoding/json on what is JSON, and with a
// tokenizer-based reference on whether a key repeats.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"alerts":[{"x":"\u0061"}]}`, `[1,2,{"b":[true,false,null]}]`, `"x"`, `-1.5e3`, `{"a":{"a":{}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, 10000, 0)
		valid := json.Valid(b)
		if err == ErrSyntax && valid {
			t.Fatalf("Check calls valid JSON a syntax error: %q", b)
		}
		if err == nil && !valid {
			t.Fatalf("Check accepts what encoding/json refuses: %q", b)
		}
		if !valid || strings.Count(string(b), "[")+strings.Count(string(b), "{") > 1000 {
			return
		}
		var de *DuplicateKeyError
		if got, want := errors.As(err, &de), reference(b); got != want {
			t.Fatalf("duplicate: Check %v (%v), reference %v: %q", got, err, want, b)
		}
	})
}
