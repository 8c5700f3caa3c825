package store

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// The layout, in one place.
//
// Mappings are appended to small strings, one per egress, time bucket and
// slot, each entry a few bytes of binary (a 25-byte NAT entry):
//
//	ndr:m:<egress>/<bucket>/<level>.<slot>   string: entries, appended
//	ndr:c:<egress>/<bucket>                  string: records written to that egress and bucket
//	ndr:c:<egress>/<bucket>/z                string: the same count (low 32 bits) and how many of
//	                                         those records have no peer port (high bits)
//	ndr:e:<egress>                           hash: kind, id, vpc of the egress
//	ndr:g:<project>/<logstore>/<shard>/<cursor>  string: that log group is ingested
//
// APPEND is the cheapest write Redis has (no per-entry index to maintain, as
// a hash has) and a string costs its bytes plus one key, so a mapping costs
// ~35 bytes where a key of its own costs ~200. <egress> is the address the
// log names (the NAT EIP or its private IP, the LB VIP), prefixed with its
// scope when the address is private. <bucket> is the record's start time in
// BucketSeconds steps, so a lookup reads only the few buckets its time can
// fall in, and a bucket expires as a whole.
//
// A record logged without its peer's port (ALB) is stored under the
// peer's address alone, so a lookup that accepts such records (portless)
// reads a second slot at every level. The /z count tells it when none can
// be there: it is kept by every writer, so when its low half equals the
// bucket's count, every record in the bucket was counted by it (records
// written before it existed, by an older ndrtrace, make them differ), and
// its high half says how many have no peer port. A missing or differing
// count means the second slot is read, as before.
//
// A lookup reads a whole slot, so slots must stay small, but the number of
// records per egress and bucket ranges from a handful to millions. So a
// bucket is split into 4^level slots, the level growing with the bucket's
// record count: a writer increments the count and appends at the level the
// new total calls for; a reader reads the count, then the tuple's slot at
// every level up to it. Each level receives ~192 records per slot.
//
// Until 2026-12-02 a slot held a quarter of that (oldPerSlot), so a bucket
// was written one level higher for the same count. Readers read up to that
// level too (readTop): what an older writer appended there (in a rolling
// upgrade, and until it expires) is found, and an older reader, which reads
// up to the same level, finds what newer writers append below it. The
// level above a newer writer's top is one read of a missing key per bucket.
//
// Appending is not idempotent by itself, so ingest marks each log group
// once all its entries are acknowledged (a round trip after them) and skips
// marked groups: a retried or replayed range leaves the state as it was. A
// group whose write failed half way is written again in full; readers drop
// byte-identical entries, so the copies change no answer, while two records
// that differ only in their private endpoint stay two answers.
const (
	// BucketSeconds is the time step of buckets.
	BucketSeconds = 600
	// MaxSpan is the longest window indexed under one bucket. NAT records
	// cover about 10 minutes; a longer record is indexed again every
	// MaxSpan, so a lookup never needs to look further back than this.
	MaxSpan = 1200
	// perSlot is the record count per slot at which a bucket moves to the
	// next level. At 64 (oldPerSlot) a trigger range of 50,000 records over
	// four busy EIPs appended ~3 entries per command at level 6, and Redis's
	// APPENDs were a quarter of ingest's CPU end to end; at 256 a slot holds
	// ~5 KB at most, still one read, and a bucket a quarter of the keys.
	perSlot = 256
	// oldPerSlot is perSlot before 2026-12-02: readTop.
	oldPerSlot = 64
	// maxPrevious caps the retried upstreams kept per entry, so that an
	// entry's length fits its one-byte prefix.
	maxPrevious = 8
	// maxLevel caps the width at 4^9 = 262,144 slots per bucket (67M records
	// per egress per 10 minutes); beyond it slots just grow.
	maxLevel = 9
)

// levelFor returns the level at which s writes a bucket holding total
// records (perSlot, but for a test's OlderWriter).
func (s *Store) levelFor(total int64) int { return levelAt(total, s.perSlot) }

// readTop returns the highest level a reader reads in a bucket holding
// total records: where an older writer (oldPerSlot) would have written.
func readTop(total int64) int { return levelAt(total, oldPerSlot) }

// levelAt is the level at which a bucket holding total records writes when
// its slots hold per records before it moves up.
func levelAt(total, per int64) int {
	level := 0
	for capacity := per; total > capacity && level < maxLevel; capacity *= 4 {
		level++
	}
	return level
}

func bucketOf(unix int64) int64 { return unix / BucketSeconds }

// egressKey renders an egress for use inside keys and the wake channel.
func appendEgress(b []byte, e mapping.Egress) []byte {
	if e.Scope != "" {
		b = append(b, e.Scope...)
		b = append(b, '/')
	}
	return e.Addr.AppendTo(b)
}

// countKey, slotKey and metaKey render a key in *kb, which they keep so
// that the next key reuses its array: one allocation per key, the string.
func countKey(kb *[]byte, e mapping.Egress, bucket int64) string {
	b := append((*kb)[:0], "ndr:c:"...)
	b = appendEgress(b, e)
	b = append(b, '/')
	b = strconv.AppendInt(b, bucket, 10)
	*kb = b
	return string(b)
}

// zeroKey is the bucket's count of records without a peer port (see the
// layout). It shares the count key's prefix, which ACLs that name ndr:c:*
// already cover.
func zeroKey(kb *[]byte, e mapping.Egress, bucket int64) string {
	countKey(kb, e, bucket)
	b := append(*kb, "/z"...)
	*kb = b
	return string(b)
}

// zeroCount is a write's addition to a bucket's /z count.
func zeroCount(n, zero int64) int64 { return n | zero<<32 }

// onlyPorted reports whether a bucket holding count records has none
// without a peer port, from its /z count (z: false when missing).
func onlyPorted(count, z int64, haveZ bool) bool {
	return haveZ && z&(1<<32-1) == count && z>>32 == 0
}

func slotKey(kb *[]byte, e mapping.Egress, bucket int64, level int, slot uint32) string {
	b := append((*kb)[:0], "ndr:m:"...)
	b = appendEgress(b, e)
	b = append(b, '/')
	b = strconv.AppendInt(b, bucket, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(level), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(slot), 10)
	*kb = b
	return string(b)
}

func metaKey(kb *[]byte, e mapping.Egress) string {
	b := append((*kb)[:0], "ndr:e:"...)
	b = appendEgress(b, e)
	*kb = b
	return string(b)
}

// slotOf hashes what a lookup knows of a tuple (TupleHash, then the peer's
// port, finalised) into one of 4^level slots. The start time is not part of
// it: a lookup does not know it.
func slotOf(proto tuple.Proto, port uint16, peer tuple.Endpoint, level int) uint32 {
	return levelSlot(slotHash(TupleHash(proto, port, peer.Addr), peer.Port), level)
}

// slotHash is the hash slotOf takes a slot from at every level, from the
// tuple's TupleHash: a writer or reader of many levels computes it once.
func slotHash(tupleHash uint64, peerPort uint16) uint64 {
	h := fnvMix(fnvMix(tupleHash, byte(peerPort>>8)), byte(peerPort))
	// FNV's low bits depend weakly on the last bytes (often a constant
	// port); the finaliser of MurmurHash3 spreads every bit over all.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// levelSlot is a slot hash's slot among the 4^level of a level.
func levelSlot(h uint64, level int) uint32 { return uint32(h % (uint64(1) << (2 * level))) }

// Entry encoding: a length byte, then the key part and the value part. Key:
// flags, proto, port, peer addr, peer port, start; when the peer port was
// not logged (ALB) the private endpoint too (a layout older than whole-entry
// deduplication, kept so that stored entries read the same). Only
// byte-identical entries are the same record. Value: flags+kind, private addr, private
// port, window length (uvarint), then optional previous upstreams and
// client.
const (
	fPeer6    = 1 << 0
	fPrivKey  = 1 << 1
	fPrivKey6 = 1 << 2

	vKindMask = 0x03
	vPriv6    = 1 << 2
	vPrev     = 1 << 3
	vClient   = 1 << 4
	vClient6  = 1 << 5
)

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

func appendField(b []byte, m *mapping.Mapping) []byte {
	var flags byte
	if !m.Peer.Addr.Is4() {
		flags |= fPeer6
	}
	privKey := m.Peer.Port == 0 && m.Kind != mapping.KindNAT
	if privKey {
		flags |= fPrivKey
		if !m.Private.Addr.Is4() {
			flags |= fPrivKey6
		}
	}
	b = append(b, flags, byte(m.Proto))
	b = binary.BigEndian.AppendUint16(b, m.Port)
	b = appendAddr(b, m.Peer.Addr)
	b = binary.BigEndian.AppendUint16(b, m.Peer.Port)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Start))
	if privKey {
		b = appendAddr(b, m.Private.Addr)
		b = binary.BigEndian.AppendUint16(b, m.Private.Port)
	}
	return b
}

func appendValue(b []byte, m *mapping.Mapping) []byte {
	flags := byte(m.Kind) & vKindMask
	if !m.Private.Addr.Is4() {
		flags |= vPriv6
	}
	if len(m.Previous) > 0 {
		flags |= vPrev
	}
	if m.Client.IsValid() {
		flags |= vClient
		if !m.Client.Is4() {
			flags |= vClient6
		}
	}
	b = append(b, flags)
	b = appendAddr(b, m.Private.Addr)
	b = binary.BigEndian.AppendUint16(b, m.Private.Port)
	b = binary.AppendUvarint(b, uint64(m.End-m.Start))
	if len(m.Previous) > 0 {
		n := min(len(m.Previous), maxPrevious)
		b = append(b, byte(n))
		for _, p := range m.Previous[:n] {
			v6 := byte(0)
			if !p.Addr.Is4() {
				v6 = 1
			}
			b = append(b, v6)
			b = appendAddr(b, p.Addr)
			b = binary.BigEndian.AppendUint16(b, p.Port)
		}
	}
	if m.Client.IsValid() {
		b = appendAddr(b, m.Client)
	}
	return b
}

var errCorrupt = errors.New("corrupt entry")

type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || len(r.b) < n {
		r.err = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) addr(v6 bool) netip.Addr {
	if v6 {
		if v := r.take(16); v != nil {
			return netip.AddrFrom16([16]byte(v))
		}
		return netip.Addr{}
	}
	if v := r.take(4); v != nil {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.Addr{}
}

// appendEntry appends one length-prefixed entry.
func appendEntry(b []byte, m *mapping.Mapping) []byte {
	at := len(b)
	b = append(b, 0)
	b = appendField(b, m)
	b = appendValue(b, m)
	b[at] = byte(len(b) - at - 1)
	return b
}

// keyLen is the length of an entry's key part, from its flags.
func keyLen(flags byte) int {
	n := 1 + 1 + 2 + 4 + 2 + 4
	if flags&fPeer6 != 0 {
		n += 12
	}
	if flags&fPrivKey != 0 {
		n += 4 + 2
		if flags&fPrivKey6 != 0 {
			n += 12
		}
	}
	return n
}

// eachEntry calls fn with the bytes and the decoded mapping of every entry
// in a slot string; it stops at the first corrupt entry. It decodes every
// entry: the reference that scanEntries is tested against.
func eachEntry(b []byte, fn func(entry []byte, m mapping.Mapping)) error {
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n {
			return errCorrupt
		}
		e := b[1 : 1+n]
		b = b[1+n:]
		k := keyLen(e[0])
		if k >= len(e) {
			return errCorrupt
		}
		m, err := decodeEntry(e[:k], e[k:])
		if err != nil {
			return err
		}
		fn(e, m)
	}
	return nil
}

// scanEntries is eachEntry for the entries that p may match (all when p
// is nil): the others are only checked, not decoded, so that a slot stops
// at the same corrupt entry whichever entries are kept.
func scanEntries(b []byte, p *probe, fn func(entry []byte, m mapping.Mapping)) error {
	n := validPrefix(b)
	scanValid(b[:n], p, fn)
	if n < len(b) {
		return errCorrupt
	}
	return nil
}

// validPrefix is the length of the run of well-formed entries a slot string
// starts with: what a reader keeps of a slot with a corrupt tail. A slot
// read for many queries is checked once, then scanned by each (scanValid).
func validPrefix(b []byte) int {
	at := 0
	for at < len(b) {
		n := int(b[at])
		if n == 0 || len(b)-at < 1+n {
			break
		}
		e := b[at+1 : at+1+n]
		if k := keyLen(e[0]); k >= len(e) || !validValue(e[k:]) {
			break
		}
		at += 1 + n
	}
	return at
}

// scanValid decodes the entries of a valid prefix (see validPrefix) that
// p may match (all when p is nil), and calls fn with each. The probe is a
// pointer, not a func, so that its test inlines: it runs for every entry
// of every slot a lookup reads.
func scanValid(b []byte, p *probe, fn func(entry []byte, m mapping.Mapping)) {
	for len(b) > 0 {
		n := int(b[0])
		e := b[1 : 1+n]
		b = b[1+n:]
		k := keyLen(e[0])
		if p != nil && !p.may(e[:k]) {
			continue
		}
		if m, err := decodeEntry(e[:k], e[k:]); err == nil {
			fn(e, m)
		}
	}
}

// decodeEntry rebuilds a mapping (without the egress and its metadata) from
// the key and value parts of one entry.
func decodeEntry(field, value []byte) (mapping.Mapping, error) {
	var m mapping.Mapping
	r := reader{b: field}
	flags := r.byte()
	m.Proto = tuple.Proto(r.byte())
	m.Port = r.u16()
	m.Peer.Addr = r.addr(flags&fPeer6 != 0)
	m.Peer.Port = r.u16()
	if v := r.take(4); v != nil {
		m.Start = int64(binary.BigEndian.Uint32(v))
	}
	if r.err {
		return m, errCorrupt
	}

	r = reader{b: value}
	vflags := r.byte()
	m.Kind = mapping.Kind(vflags & vKindMask)
	m.Private.Addr = r.addr(vflags&vPriv6 != 0)
	m.Private.Port = r.u16()
	span, n := binary.Uvarint(r.b)
	if n <= 0 {
		return m, errCorrupt
	}
	r.b = r.b[n:]
	m.End = m.Start + int64(span)
	if vflags&vPrev != 0 {
		count := int(r.byte())
		for i := 0; i < count && !r.err; i++ {
			v6 := r.byte() == 1
			a := r.addr(v6)
			m.Previous = append(m.Previous, tuple.Endpoint{Addr: a, Port: r.u16()})
		}
	}
	if vflags&vClient != 0 {
		m.Client = r.addr(vflags&vClient6 != 0)
	}
	if r.err || len(r.b) != 0 {
		return m, errCorrupt
	}
	return m, nil
}

// validValue reports whether decodeEntry would accept an entry's value part
// (its key part always reads: keyLen sized it), without decoding it.
func validValue(v []byte) bool {
	addr := func(v6 bool) int {
		if v6 {
			return 16
		}
		return 4
	}
	if len(v) == 0 {
		return false
	}
	flags := v[0]
	v = v[1:]
	if n := addr(flags&vPriv6 != 0) + 2; len(v) >= n {
		v = v[n:]
	} else {
		return false
	}
	_, n := binary.Uvarint(v)
	if n <= 0 {
		return false
	}
	v = v[n:]
	if flags&vPrev != 0 {
		if len(v) == 0 {
			return false
		}
		count := int(v[0])
		v = v[1:]
		for range count {
			if len(v) == 0 {
				return false
			}
			n := 1 + addr(v[0] == 1) + 2
			if len(v) < n {
				return false
			}
			v = v[n:]
		}
	}
	if flags&vClient != 0 {
		n := addr(flags&vClient6 != 0)
		if len(v) < n {
			return false
		}
		v = v[n:]
	}
	return len(v) == 0
}

// probe is what an entry's key part must hold for its mapping to match a
// query (see matches): the peer's address family flag, then proto, port and
// peer address byte for byte, then the peer port (or 0 for a portless
// query). It lets a lookup decode only the entries of its tuple. It runs
// for every entry of every slot a lookup reads (75 MB for a batch of
// 10,000 alerts over a million records), so the first 8 bytes of a key
// part are compared as one word.
type probe struct {
	mask, want uint64   // the key part's first 8 bytes, little-endian: flags (the family bit), proto, port, peer address[:4]
	rest       [12]byte // peer address[4:] when it is IPv6
	v6         bool
	port       uint16
	portless   bool
}

func newProbe(q *Query) probe {
	p := probe{port: q.Peer.Port, portless: q.Portless, mask: probeMask}
	var head [8]byte
	head[1] = byte(q.Proto)
	binary.BigEndian.PutUint16(head[2:], q.Port)
	a := q.Peer.Addr
	switch {
	case a.Is4():
		v := a.As4()
		copy(head[4:], v[:])
	case a.Is6() && a.Zone() == "":
		v := a.As16()
		head[0] = fPeer6
		copy(head[4:], v[:4])
		p.v6, p.rest = true, [12]byte(v[4:])
	default:
		// Entries hold no zone, and always an address: nothing matches
		// (no key part has bits outside the mask).
		p.mask, p.want = 0, 1
		return p
	}
	p.want = binary.LittleEndian.Uint64(head[:])
	return p
}

// may is false when an entry with this key part cannot match the query.
// keyLen sized field for its address family: at least 14 bytes, 26 when
// the family bit says IPv6, which the word compared.
func (p *probe) may(field []byte) bool {
	if binary.LittleEndian.Uint64(field)&p.mask != p.want {
		return false
	}
	at := 8
	if p.v6 {
		if [12]byte(field[8:20]) != p.rest {
			return false
		}
		at = 20
	}
	port := binary.BigEndian.Uint16(field[at:])
	return port == p.port || p.portless && port == 0
}
