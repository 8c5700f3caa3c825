package investigate

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	from := time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC)
	ok := []struct {
		name, body string
		want       Request
	}{
		{"design example", `{"dst_ip":"47.110.22.157","dst_port":80,"egress_ip":"47.100.1.85","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z","top":10}`,
			Request{netip.MustParseAddr("47.110.22.157"), 80, netip.MustParseAddr("47.100.1.85"), from, from.Add(20 * time.Minute), 10}},
		{"defaults, Unix times, port as string", `{"dst_ip":" 47.110.22.157 ","dst_port":"443","from":1738767000,"to":1738767600000}`,
			Request{netip.MustParseAddr("47.110.22.157"), 443, netip.Addr{}, from, from.Add(10 * time.Minute), DefaultTop}},
		{"exactly 24 h, nulls", `{"dst_ip":"2001:db8::1","dst_port":null,"egress_ip":null,"from":"2025-02-05T14:50:00Z","to":"2025-02-06T14:50:00Z","top":50}`,
			Request{netip.MustParseAddr("2001:db8::1"), 0, netip.Addr{}, from, from.Add(24 * time.Hour), 50}},
		{"mapped IPv4", `{"dst_ip":"::ffff:47.110.22.157","from":"2025-02-05T14:50:00Z","to":"2025-02-05T23:00:00+08:00"}`,
			Request{netip.MustParseAddr("47.110.22.157"), 0, netip.Addr{}, from, from.Add(10 * time.Minute), DefaultTop}},
	}
	for _, tc := range ok {
		got, err := ParseRequest([]byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}

	badReqs := []struct{ body, field string }{
		{`not json`, ""},
		{`{"dst_ip":"47.110.22.157","from":1,"to":2} {}`, ""},
		{`{"dst_ip":"47.110.22.157","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z","dst":"x"}`, ""}, // unknown field
		{`{"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":"47.110.22.157' or '1'='1","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":"fe80::1%eth0' --","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":"fe80::1%eth0","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":47,"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":"0.0.0.0","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
		{`{"dst_ip":"47.110.22.157","egress_ip":"47.100.1.85; drop","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "egress_ip"},
		{`{"dst_ip":"47.110.22.157","dst_port":"80 or 1=1","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_port"},
		{`{"dst_ip":"47.110.22.157","dst_port":70000,"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_port"},
		{`{"dst_ip":"47.110.22.157","dst_port":8.5,"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_port"},
		{`{"dst_ip":"47.110.22.157","top":"10) union select","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "top"},
		{`{"dst_ip":"47.110.22.157","top":0,"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "top"},
		{`{"dst_ip":"47.110.22.157","top":51,"from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z"}`, "top"},
		{`{"dst_ip":"47.110.22.157","from":"yesterday') --","to":"2025-02-05T15:10:00Z"}`, "from"},
		{`{"dst_ip":"47.110.22.157","to":"2025-02-05T15:10:00Z"}`, "from"},
		{`{"dst_ip":"47.110.22.157","from":"2025-02-05T14:50:00Z"}`, "to"},
		{`{"dst_ip":"47.110.22.157","from":"2025-02-05T15:10:00Z","to":"2025-02-05T15:10:00Z"}`, "to"},
		{`{"dst_ip":"47.110.22.157","from":"2025-02-05T14:50:00Z","to":"2025-02-06T14:50:01Z"}`, "to"},
		{`{"dst_ip":"47.110.22.157","from":"2005-02-05T14:50:00Z","to":"2005-02-05T15:10:00Z"}`, "from"},
	}
	for _, tc := range badReqs {
		_, err := ParseRequest([]byte(tc.body))
		var br *BadRequest
		if !errors.As(err, &br) || br.Field != tc.field {
			t.Errorf("%s: err %v, want a bad request naming %q", tc.body, err, tc.field)
		}
	}
}

// FuzzParseRequest: whatever the body, a request that parses is within the
// limits, and the SQL rendered from it holds no quote, semicolon or comment
// other than the ones the templates put there.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"dst_ip":"47.110.22.157","dst_port":80,"egress_ip":"47.100.1.85","from":"2025-02-05T14:50:00Z","to":"2025-02-05T15:10:00Z","top":10}`,
		`{"dst_ip":"2001:db8::1","from":1738767000,"to":"1738767600"}`,
		`{"dst_ip":"fe80::1%x","from":1,"to":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			var br *BadRequest
			if !errors.As(err, &br) {
				t.Fatalf("error is not a BadRequest: %v", err)
			}
			return
		}
		if !r.DstIP.IsValid() || r.DstIP.Zone() != "" || !r.To.After(r.From) || r.To.Sub(r.From) > MaxRange || r.Top < 1 || r.Top > MaxTop {
			t.Fatalf("accepted out-of-bounds request %+v", r)
		}
		f := filter{dst: r.DstIP, port: r.DstPort}
		if r.EgressIP.IsValid() {
			f.natIPs = []netip.Addr{r.EgressIP}
		}
		w := f.where()
		if strings.Count(w, "'")%2 != 0 || strings.ContainsAny(w, ";-/*\\\"") {
			t.Fatalf("rendered %q from %s", w, body)
		}
		if !safeSQL.MatchString(w) {
			t.Fatalf("rendered %q from %s", w, body)
		}
	})
}

// safeSQL is what a WHERE clause rendered from parsed values can be.
var safeSQL = regexp.MustCompile(`^pub_ip = '[0-9a-f.:]+'( and pub_port = [0-9]+)?( and nat_ip in \('[0-9a-f.:]+'(, '[0-9a-f.:]+')*\))?$`)
