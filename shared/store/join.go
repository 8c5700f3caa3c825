package store

import "encoding/binary"

// probeMask keeps what a probe's word compares of a key part's first 8
// bytes: the flags' family bit, proto, port and peer address[:4].
const probeMask = ^uint64(0) &^ (0xff &^ fPeer6)

// slotJoin scans a slot once for all the probes that read it, instead of
// once per probe: the low levels' slots are read by hundreds of a batch's
// queries each (a bucket's level-0 slot by all of them), and a batch's
// scans passed over 3M entries for the 0.76M its slots hold. Each entry's
// word (probe.want's bytes) is looked up among the probes' in a small
// open-addressing table, and only the probes with that word test it whole
// (probe.may). The table is kept for the next slot.
type slotJoin struct {
	stamp []uint32 // a bucket is taken when its stamp is gen
	want  []uint64
	head  []int32 // the first of the probes with that word (index into the slot's run)
	next  []int32 // by probe: the next with the same word, or -1
	gen   uint32
	bits  uint
}

// joinMin is how many probes of one slot make a join worth its table.
const joinMin = 2

// reset empties the table for a slot of n probes.
func (j *slotJoin) reset(n int) {
	bits := uint(1)
	for 1<<bits < 2*n {
		bits++
	}
	if size := 1 << bits; len(j.stamp) < size {
		j.stamp, j.want, j.head = make([]uint32, size), make([]uint64, size), make([]int32, size)
		j.gen = 0
	}
	j.bits = bits
	j.gen++
	if j.gen == 0 { // wrapped: old stamps could pass for new ones
		clear(j.stamp)
		j.gen = 1
	}
	j.next = grow(j.next, n)
}

func (j *slotJoin) bucket(w uint64) uint64 { return (w * 0x9e3779b97f4a7c15) >> (64 - j.bits) }

// add enters probe i (of the slot's run) under its word.
func (j *slotJoin) add(i int32, w uint64) {
	size := uint64(1) << j.bits
	for h := j.bucket(w); ; h = (h + 1) & (size - 1) {
		if j.stamp[h] != j.gen {
			j.stamp[h], j.want[h], j.head[h], j.next[i] = j.gen, w, i, -1
			return
		}
		if j.want[h] == w {
			j.head[h], j.next[i] = i, j.head[h]
			return
		}
	}
}

// find returns the first probe entered under w, or -1; next chains the
// others.
func (j *slotJoin) find(w uint64) int32 {
	size := uint64(1) << j.bits
	for h := j.bucket(w); j.stamp[h] == j.gen; h = (h + 1) & (size - 1) {
		if j.want[h] == w {
			return j.head[h]
		}
	}
	return -1
}

// keyWord is the word of a key part that probes compare.
func keyWord(field []byte) uint64 { return binary.LittleEndian.Uint64(field) & probeMask }
