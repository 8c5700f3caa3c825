package store

import (
	"net/netip"
	"strings"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// WakeChannel carries a message per egress of every flushed batch, so that
// waiting traces look again at once instead of at their next backoff step.
// A message is the egress (EgressString), a space and the batch's
// WakeFilter for it; a message that is the egress alone concerns every
// tuple of it.
const WakeChannel = "ndr:wake"

// wakeBits is the size of a WakeFilter: 512 bytes a message, and under 25%
// of false wake-ups for a batch of 1,000 tuples on one egress.
const wakeBits = 4096

// A WakeFilter is the set of tuples a batch wrote for one egress, one bit
// per hash of (protocol, egress port, peer address): what every lookup
// knows of its tuple (the peer's port may be missing from the logs). A
// waiting trace whose tuple's bit is clear is not concerned: a busy egress
// then wakes only the traces its records may answer, not all of them. A
// collision costs one needless look, never a missed one.
type WakeFilter [wakeBits / 8]byte

// TupleHash is the FNV-1a (64-bit) hash of what every lookup knows of a
// tuple besides its egress: protocol, egress port and peer address (the
// peer's port may be missing from the logs). Wake filters take their bit
// from its top bits; late resolution's index uses it whole.
func TupleHash(proto tuple.Proto, port uint16, peer netip.Addr) uint64 {
	h := fnvMix(fnvMix(fnvMix(fnvOffset, byte(proto)), byte(port>>8)), byte(port))
	// As16 is the same 16 bytes for an IPv4 address and its mapped form.
	b := peer.As16()
	if peer.Is4() || peer.Is4In6() {
		// ::ffff:a.b.c.d: ten zero bytes, each a multiplication by the
		// prime (x^0 = x), so one by its tenth power, then 0xff 0xff and
		// the four bytes. The same hash in 10 serial multiplications, not
		// 19: it is on every record's path, and the layout's slots and
		// every wake filter hang on it, so it must not change.
		h *= fnvPrime10
		for _, c := range b[10:] {
			h = fnvMix(h, c)
		}
		return h
	}
	for _, c := range b {
		h = fnvMix(h, c)
	}
	return h
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

// fnvPrime10 is fnvPrime to the tenth power, modulo 2^64.
var fnvPrime10 = func() uint64 {
	p := uint64(1)
	for range 10 {
		p *= fnvPrime
	}
	return p
}()

// fnvMix is one step of FNV-1a.
func fnvMix(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// wakeBit is a tuple's bit in a WakeFilter: TupleHash's top 12 bits (the
// multiplications carry every input byte into them).
func wakeBit(proto tuple.Proto, port uint16, peer netip.Addr) uint32 {
	return hashBit(TupleHash(proto, port, peer))
}

// hashBit is the wake bit of a TupleHash.
func hashBit(h uint64) uint32 { return uint32(h >> (64 - 12)) } // 2^12 = wakeBits

func (f *WakeFilter) add(m *mapping.Mapping) { f.addHash(TupleHash(m.Proto, m.Port, m.Peer.Addr)) }

// addHash adds the tuple whose TupleHash is h (see wakeBit).
func (f *WakeFilter) addHash(h uint64) {
	b := hashBit(h)
	f[b/8] |= 1 << (b % 8)
}

// Concerns reports whether the batch may hold a record for q. A nil filter
// (a message without one) concerns every query.
func (f *WakeFilter) Concerns(q *Query) bool {
	if f == nil {
		return true
	}
	b := wakeBit(q.Proto, q.Port, q.Peer.Addr)
	return f[b/8]&(1<<(b%8)) != 0
}

// Union returns the tuples of f and g in a new filter; nil (every tuple)
// absorbs the other.
func (f *WakeFilter) Union(g *WakeFilter) *WakeFilter {
	if f == nil || g == nil {
		return nil
	}
	u := *f
	for i := range u {
		u[i] |= g[i]
	}
	return &u
}

func appendWake(b []byte, e mapping.Egress, f *WakeFilter) []byte {
	b = appendEgress(b, e)
	b = append(b, ' ')
	return append(b, f[:]...)
}

// ParseWake splits a wake message into its egress and filter. A message
// whose filter is missing or not of the expected size concerns every tuple
// (f is nil): an older writer is still heard.
func ParseWake(msg string) (egress string, f *WakeFilter) {
	egress, bits, ok := strings.Cut(msg, " ")
	if !ok || len(bits) != len(f) {
		return egress, nil
	}
	f = new(WakeFilter)
	copy(f[:], bits)
	return egress, f
}
