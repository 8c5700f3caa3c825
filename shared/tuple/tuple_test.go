package tuple

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseProto(t *testing.T) {
	tests := []struct {
		in      string
		want    Proto
		wantErr bool
	}{
		{"tcp", TCP, false},
		{"TCP", TCP, false},
		{" udp ", UDP, false},
		{"icmp", ICMP, false},
		{"6", TCP, false},
		{"17", UDP, false},
		{"1", ICMP, false},
		{"255", 255, false},
		{"256", 0, true},
		{"-1", 0, true},
		{"sctp", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseProto(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseProto(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseAddrAndEndpoint(t *testing.T) {
	a, err := ParseAddr("::ffff:10.0.0.1")
	if err != nil || a != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("mapped address not unmapped: %v %v", a, err)
	}
	if _, err := ParseAddr("fe80::1%eth0"); err == nil {
		t.Fatal("zoned address accepted")
	}
	if _, err := ParseAddr("300.1.1.1"); err == nil {
		t.Fatal("bad address accepted")
	}
	e, err := ParseEndpoint("[2001:db8::1]:443")
	if err != nil || e.Port != 443 || e.Addr != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("ParseEndpoint v6: %v %v", e, err)
	}
	if e.String() != "[2001:db8::1]:443" {
		t.Fatalf("String = %q", e.String())
	}
	if _, err := ParseEndpoint("10.0.0.1"); err == nil {
		t.Fatal("endpoint without port accepted")
	}
	if _, err := ParsePort("65536"); err == nil {
		t.Fatal("port 65536 accepted")
	}
}

func TestIsPrivate(t *testing.T) {
	for s, want := range map[string]bool{
		"10.1.2.3": true, "172.16.10.13": true, "192.168.0.1": true, "100.100.1.1": true,
		"47.1.2.85": false, "106.11.22.203": false, "fd00::1": true, "2001:db8::1": false,
	} {
		if got := IsPrivate(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPrivate(%s) = %v", s, got)
		}
	}
}

// TestIsPrivateEveryV4 compares IsPrivate's fast path with netip's rules
// (and the CGNAT prefix) over every IPv4 /16: the classes depend on the
// first two bytes only, so this covers every IPv4 address's answer.
func TestIsPrivateEveryV4(t *testing.T) {
	for hi := range 1 << 16 {
		for _, lo := range [][2]byte{{0, 0}, {1, 2}, {255, 255}} {
			a := netip.AddrFrom4([4]byte{byte(hi >> 8), byte(hi), lo[0], lo[1]})
			want := a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
			if got := IsPrivate(a); got != want {
				t.Fatalf("IsPrivate(%s) = %v, want %v", a, got, want)
			}
			// The same address mapped into IPv6 takes netip's path.
			m := netip.AddrFrom16(a.As16())
			if got, want := IsPrivate(m), m.IsPrivate() || m.IsLoopback() || m.IsLinkLocalUnicast(); got != want {
				t.Fatalf("IsPrivate(%s) = %v, want %v", m, got, want)
			}
		}
	}
}

// FuzzParsePort checks the fast path against the rule it stands in for:
// strconv.ParseUint of the trimmed string, 16 bits; errors agree too.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"443", "0", "65535", "65536", "00080", "000080", " 22 ", "-1", "", "1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePort(s)
		want, werr := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
		if (err == nil) != (werr == nil) || err == nil && uint64(got) != want {
			t.Fatalf("ParsePort(%q) = %d, %v; strconv: %d, %v", s, got, err, want, werr)
		}
	})
}

// FuzzParseProto checks the numeric fast path likewise: a number is
// strconv's 8-bit reading of the trimmed string; names are the table's.
func FuzzParseProto(f *testing.F) {
	for _, s := range []string{"6", "17", "255", "256", "0006", " 6", "tcp", "ICMPv6", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseProto(s)
		names := map[string]Proto{"tcp": TCP, "udp": UDP, "icmp": ICMP, "icmpv6": ICMPv6, "ipv6-icmp": ICMPv6}
		trimmed := strings.TrimSpace(s)
		if p, ok := names[strings.ToLower(trimmed)]; ok {
			if err != nil || got != p {
				t.Fatalf("ParseProto(%q) = %v, %v; want %v", s, got, err, p)
			}
			return
		}
		want, werr := strconv.ParseUint(trimmed, 10, 8)
		if (err == nil) != (werr == nil) || err == nil && uint64(got) != want {
			t.Fatalf("ParseProto(%q) = %d, %v; strconv: %d, %v", s, got, err, want, werr)
		}
	})
}

// FuzzParseAddr checks the dotted-quad fast path against the rule it
// stands in for: netip.ParseAddr of the trimmed string, unmapped, without
// a zone; errors agree too. Whatever the fast path takes is IPv4 and
// prints back as s.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"172.16.20.21", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3",
		" 10.0.0.1", "10.0.0.1 ", "::ffff:10.0.0.1", "fd00::1", "fe80::1%eth0", "1.2.3.4%x", "", "1.2.3.", ".1.2.3", "1.2.3.0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAddr(s)
		want, werr := netip.ParseAddr(strings.TrimSpace(s))
		if werr == nil && want.Zone() != "" {
			werr = errors.New("zone")
		}
		if (err == nil) != (werr == nil) || err == nil && got != want.Unmap() {
			t.Fatalf("ParseAddr(%q) = %v, %v; netip: %v, %v", s, got, err, want, werr)
		}
		if a, ok := dottedQuad(s); ok && (!a.Is4() || a.String() != s) {
			t.Fatalf("dottedQuad(%q) = %v", s, a)
		}
	})
}

// BenchmarkParseAddr reads the addresses of a NAT record: a private host,
// an EIP and a peer.
func BenchmarkParseAddr(b *testing.B) {
	addrs := []string{"172.16.20.21", "47.100.1.85", "106.11.22.203"}
	for b.Loop() {
		for _, s := range addrs {
			if _, err := ParseAddr(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
