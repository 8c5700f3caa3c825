package slslog

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The raw walk accepts every input the SDK's decoder (gogo/protobuf code
// generated from log.proto) accepts, so that switching readers never turns a
// page SLS sent into an error. protowire is stricter than that decoder in
// three ways, which the helpers below relax to the decoder's rules:
//   - a 10-byte varint whose last byte is 2..127 overflows 64 bits:
//     protowire refuses it, the decoder drops the high bits;
//   - a tag's field number is the low 32 bits of tag>>3 (int32), where
//     protowire refuses anything above MaxInt32;
//   - an unknown group is skipped by counting start and end markers of any
//     field number (inner tags are not checked), where protowire requires
//     the end marker to name the group's field and every inner field number
//     to be valid.
// The varints themselves are still read by protowire.

// Error codes of the walk's own checks (n < 0 as protowire's); protowire's
// codes are forwarded as they are.
const (
	malformed = -100 // an end group where none is open, a reserved wire type, a field number ≤ 0
	truncated = -101 // a length beyond the bytes left
)

// wireErr says what error code n means.
func wireErr(n int) error {
	switch n {
	case malformed:
		return fmt.Errorf("%w: bad tag or wire type", ErrWire)
	case truncated:
		return fmt.Errorf("%w: length beyond the message", ErrWire)
	}
	return fmt.Errorf("%w: %v", ErrWire, protowire.ParseError(n))
}

// varint reads a varint as the SDK's decoder does: up to ten bytes, bits
// beyond 64 dropped.
func varint(b []byte) (uint64, int) {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 && len(b) >= 10 && b[9] < 0x80 {
		// The first nine bytes continue (or protowire would have
		// stopped there) and the tenth ends the varint: only its low
		// bit fits in 64 bits.
		var t [10]byte
		copy(t[:], b)
		t[9] &= 1
		return protowire.ConsumeVarint(t[:])
	}
	return v, n
}

// tag reads a field's tag as the SDK's decoder does outside a group: an end
// group marker or a field number ≤ 0 is malformed.
func tag(b []byte) (int32, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 { // one byte: fields 1-15, the usual case
		num, typ := int32(b[0]>>3), protowire.Type(b[0]&7)
		if num == 0 || typ == protowire.EndGroupType {
			return 0, 0, malformed
		}
		return num, typ, 1
	}
	v, n := varint(b)
	if n < 0 {
		return 0, 0, n
	}
	num, typ := int32(v>>3), protowire.Type(v&7)
	if num <= 0 || typ == protowire.EndGroupType {
		return 0, 0, malformed
	}
	return num, typ, n
}

// bytesValue reads a length-delimited value.
func bytesValue(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 { // shorter than 128 bytes
		m := int(b[0])
		if m >= len(b) {
			return nil, truncated
		}
		return b[1 : 1+m], 1 + m
	}
	m, n := varint(b)
	if n < 0 {
		return nil, n
	}
	if m > uint64(len(b[n:])) {
		return nil, truncated
	}
	return b[n:][:m], n + int(m)
}

// skip passes over the value of a field of wire type typ whose tag was just
// read, as the SDK's decoder skips unknown fields.
func skip(typ protowire.Type, b []byte) int {
	depth, n := 0, 0
	for {
		var m int
		switch typ {
		case protowire.VarintType:
			_, m = varint(b[n:])
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(b[n:])
		case protowire.Fixed64Type:
			_, m = protowire.ConsumeFixed64(b[n:])
		case protowire.BytesType:
			_, m = bytesValue(b[n:])
		case protowire.StartGroupType:
			depth++
		case protowire.EndGroupType:
			if depth == 0 {
				return malformed
			}
			depth--
		default:
			return malformed
		}
		if m < 0 {
			return m
		}
		n += m
		if depth == 0 {
			return n
		}
		v, m := varint(b[n:])
		if m < 0 {
			return m
		}
		n += m
		typ = protowire.Type(v & 7)
	}
}
