package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

const good = `{"alert_id":"a1","time":"2025-02-05T14:57:10Z","protocol":"tcp","src_ip":"47.100.1.85","src_port":48155,"dst_ip":"106.11.22.203","dst_port":"443","severity":"high"}`

func TestDecodeSingle(t *testing.T) {
	items, batch := Decode([]byte(good))
	if batch || len(items) != 1 || items[0].Alert == nil {
		t.Fatalf("got %+v batch=%v", items, batch)
	}
	a := items[0].Alert
	want := tuple.FiveTuple{Proto: tuple.TCP,
		Src: mustEP("47.100.1.85:48155"), Dst: mustEP("106.11.22.203:443")}
	if a.ID != "a1" || a.Tuple != want || !a.Time.Equal(time.Date(2025, 2, 5, 14, 57, 10, 0, time.UTC)) || a.Category != Attack {
		t.Fatalf("got %+v", a)
	}
	if string(a.Raw) != good {
		t.Fatalf("raw alert not kept verbatim: %s", a.Raw)
	}
}

func mustEP(s string) tuple.Endpoint {
	e, err := tuple.ParseEndpoint(s)
	if err != nil {
		panic(err)
	}
	return e
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		name, body, field, id string
	}{
		{"not json", `alert!`, "body", ""},
		{"missing id", `{"time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "alert_id", ""},
		{"numeric id", `{"alert_id":7,"time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "alert_id", ""},
		{"missing time", `{"alert_id":"x","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"bad time", `{"alert_id":"x","time":"noon","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"exponent time", `{"alert_id":"x","time":1.7e9,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"bad protocol", `{"alert_id":"x","time":1738767430,"protocol":"gre2","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "protocol", "x"},
		{"bad src_ip", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "src_ip", "x"},
		{"missing dst_port for tcp", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2"}`, "dst_port", "x"},
		{"port out of range", `{"alert_id":"x","time":1738767430,"protocol":"udp","src_ip":"1.1.1.1","src_port":70000,"dst_ip":"2.2.2.2","dst_port":2}`, "src_port", "x"},
		{"mixed families", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2001:db8::1","dst_port":2}`, "dst_ip", "x"},
		{"bad category", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"category":"spam"}`, "category", "x"},
		{"bad asset_type", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"asset_type":"eip"}`, "asset_type", "x"},
		{"asset_id with key syntax", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"asset_id":"ngw:*"}`, "asset_id", "x"},
		{"alerts not an array", `{"alerts":{}}`, "alerts", ""},
		{"null body", `null`, "body", ""},
		{"array body", `[` + good + `]`, "body", ""},
		{"string body", `"alert"`, "body", ""},
		{"duplicate src_ip", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"src_ip":"3.3.3.3"}`, "src_ip", "x"},
		{"duplicate by escape", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"dst\u005fport":3}`, "dst_port", "x"},
		{"duplicate nested", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"detail":{"n":1,"n":2}}`, "detail.n", "x"},
		{"duplicate alerts", `{"alerts":[` + good + `],"alerts":[` + good + `]}`, "alerts", ""},
		{"time 1e20 as digits", `{"alert_id":"x","time":100000000000000000000,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"time 1e20 as string", `{"alert_id":"x","time":"100000000000000000000","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"time 0", `{"alert_id":"x","time":0,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"time before 2010", `{"alert_id":"x","time":"2009-12-31T23:59:59Z","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"time in the year 9999", `{"alert_id":"x","time":"9999-12-31T23:59:59Z","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"time of year 9999 in ms", `{"alert_id":"x","time":253402300799000,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "time", "x"},
		{"id with invalid UTF-8", "{\"alert_id\":\"a\xff\",\"time\":1738767430,\"protocol\":\"tcp\",\"src_ip\":\"1.1.1.1\",\"src_port\":1,\"dst_ip\":\"2.2.2.2\",\"dst_port\":2}", "alert_id", ""},
		{"id with a lone surrogate", `{"alert_id":"a\ud800","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "alert_id", ""},
		{"id with a reversed pair", `{"alert_id":"a\ude00\ud83d","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`, "alert_id", ""},
		{"nested too deep", `{"alert_id":"x","deep":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "body", ""},
		{"oversized alert", `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2,"pad":"` + strings.Repeat("p", MaxAlertBytes) + `"}`, "alert", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, _ := Decode([]byte(tt.body))
			if len(items) != 1 || items[0].Invalid == nil {
				t.Fatalf("got %+v", items)
			}
			inv := items[0].Invalid
			if inv.Field != tt.field || inv.ID != tt.id || !strings.Contains(inv.Reason, tt.field) {
				t.Fatalf("invalid = %+v, want field %q id %q", inv, tt.field, tt.id)
			}
			r := InvalidResult(inv)
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
			if !json.Valid(out) || r.Status != StatusInvalid {
				t.Fatalf("bad result %s", out)
			}
		})
	}
}

func TestDecodeICMPWithoutPortsAndOptionalFields(t *testing.T) {
	items, _ := Decode([]byte(`{"alert_id":"i","time":1738767430000,"protocol":1,"src_ip":"10.0.0.1","dst_ip":"8.8.8.8","category":"sensitive_data","asset_type":"nat","asset_id":"ngw-1"}`))
	a := items[0].Alert
	if a == nil || a.Tuple.Proto != tuple.ICMP || a.Category != SensitiveData || a.AssetType != mapping.KindNAT || a.AssetID != "ngw-1" || a.Time.Unix() != 1738767430 {
		t.Fatalf("got %+v %+v", a, items[0].Invalid)
	}
}

func TestDecodeBatchKeepsOrderAndBadElements(t *testing.T) {
	items, batch := Decode([]byte(`{"alerts":[` + good + `, 42, {"alert_id":"b"}]}`))
	if !batch || len(items) != 3 {
		t.Fatalf("got %d items batch=%v", len(items), batch)
	}
	if items[0].Alert == nil || items[1].Invalid == nil || string(items[1].Invalid.Raw) != "42" || items[2].Invalid == nil || items[2].Invalid.ID != "b" {
		t.Fatalf("got %+v", items)
	}
}

func TestDecodeNullBodySaysNotAnObject(t *testing.T) {
	items, _ := Decode([]byte(" null "))
	if inv := items[0].Invalid; inv == nil || inv.Reason != "body: not a JSON object" {
		t.Fatalf("got %+v", items[0])
	}
}

func TestDecodeTimeRange(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		time string
		ok   bool
	}{
		{`"2010-01-01T00:00:00Z"`, true},
		{`1262303999`, false}, // a second before 2010
		{`"2026-11-22T11:59:59Z"`, true},
		{`"2026-11-22T12:00:01Z"`, false}, // over a day ahead of now
		{`1790000000000`, true},
	} {
		body := `{"alert_id":"x","time":` + tt.time + `,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`
		items, _ := DecodeAt([]byte(body), now)
		if ok := items[0].Alert != nil; ok != tt.ok {
			t.Errorf("time %s: accepted=%v, want %v (%+v)", tt.time, ok, tt.ok, items[0].Invalid)
		}
	}
}

func TestDecodeIDsKeptExactly(t *testing.T) {
	for _, id := range []string{`a\ud83d\ude00`, "a\u00e9", "caf\u00e9", "\ufffd-on-purpose", "ï¿½-literal", "ok"} {
		body := `{"alert_id":"` + id + `","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`
		items, _ := Decode([]byte(body))
		if items[0].Alert == nil {
			t.Errorf("id %q refused: %+v", id, items[0].Invalid)
		}
	}
}

func TestDecodeBatchLimits(t *testing.T) {
	one := `{"alert_id":"x","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`
	body := `{"alerts":[` + strings.Repeat(one+",", MaxBatch) + one + `]}`
	items, batch := Decode([]byte(body))
	if !batch || len(items) != MaxBatch+1 || !TooMany(items) {
		t.Fatalf("got %d items, batch=%v", len(items), batch)
	}
	for _, it := range items {
		if it.Invalid == nil || it.Invalid.Field != "alerts" || string(it.Invalid.Raw) != one {
			t.Fatalf("item %+v", it)
		}
	}
	items, _ = Decode([]byte(`{"alerts":[` + strings.Repeat(one+",", MaxBatch-1) + one + `]}`))
	if TooMany(items) || items[MaxBatch-1].Alert == nil {
		t.Fatal("a batch at the limit was refused")
	}
	// A duplicate inside one alert of a batch makes that alert invalid,
	// not its neighbours.
	items, _ = Decode([]byte(`{"alerts":[` + one + `,{"alert_id":"d","alert_id":"e"},` + one + `]}`))
	if items[0].Alert == nil || items[2].Alert == nil || items[1].Invalid == nil || items[1].Invalid.Field != "alert_id" {
		t.Fatalf("got %+v", items)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"alerts":[` + good + `,{}]}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"alerts":[{"alert_id":"a","alert_id":"b"}],"alerts":[]}`))
	f.Add([]byte(`{"alert_id":"a\ud800","time":100000000000000000000}`))
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _ := DecodeAt(body, now)
		if len(items) == 0 && !json.Valid(body) {
			t.Fatal("no item for a non-JSON body")
		}
		for _, it := range items {
			if (it.Alert == nil) == (it.Invalid == nil) {
				t.Fatalf("item is neither or both: %+v", it)
			}
			var raw json.RawMessage
			if it.Alert != nil {
				raw = it.Alert.Raw
				if it.Alert.ID == "" || !utf8.ValidString(it.Alert.ID) {
					t.Fatalf("valid alert with id %q", it.Alert.ID)
				}
				if it.Alert.Time.Before(EarliestTime) || it.Alert.Time.After(now.Add(MaxAhead)) {
					t.Fatalf("time %v accepted", it.Alert.Time)
				}
				if len(raw) > MaxAlertBytes {
					t.Fatal("oversized alert accepted")
				}
			} else {
				raw = it.Invalid.Raw
				if it.Invalid.Field == "" {
					t.Fatal("invalid item names no field")
				}
			}
			// The alert always survives into a JSON result.
			if _, err := json.Marshal(Result{Alert: raw}); err != nil {
				t.Fatalf("alert %q cannot be carried in a result: %v", raw, err)
			}
		}
	})
}
