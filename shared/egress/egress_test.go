package egress

import (
	"context"
	"net/netip"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

func TestParseStatic(t *testing.T) {
	book, err := ParseStatic(`[{"type":"nat","id":"ngw-1","vpc_id":"vpc-1","public_ip":"47.1.2.3","private_ip":"172.16.10.13"},
		{"type":"alb","id":"alb-1","public_ip":"39.1.1.1","private_ip":"10.0.0.5"}]`)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := book.Lookup(context.Background(), netip.MustParseAddr("47.1.2.3"))
	if len(es) != 1 {
		t.Fatalf("got %v", es)
	}
	got := es[0].StoredAs()
	want := []mapping.Egress{{Addr: netip.MustParseAddr("47.1.2.3")}, {Scope: "vpc-1", Addr: netip.MustParseAddr("172.16.10.13")}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("StoredAs = %v", got)
	}
	es, _ = book.Lookup(context.Background(), netip.MustParseAddr("39.1.1.1"))
	if got := es[0].StoredAs(); got[1].Scope != "alb-1" {
		t.Fatalf("ALB private twin scoped by %q", got[1].Scope)
	}
	for _, bad := range []string{`{}`, `[{"type":"eip","public_ip":"1.1.1.1"}]`, `[{"type":"nat","public_ip":"x"}]`,
		`[{"type":"nat","public_ip":"1.1.1.1","private_ip":"10.0.0.1"}]`, `[{"type":"nat","id":"ngw 1","public_ip":"1.1.1.1"}]`} {
		if _, err := ParseStatic(bad); err == nil {
			t.Errorf("ParseStatic(%s) accepted", bad)
		}
	}
}
