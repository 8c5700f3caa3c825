package store

import (
	"net/netip"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Slots must share records evenly even when tuples differ only in a few
// bytes (one peer port, sequential peers), or one slot outgrows the rest.
func TestSlotsSpreadEvenly(t *testing.T) {
	for level := 1; level <= 6; level++ {
		width := 1 << (2 * level)
		n := width * 192 // what a level receives (perSlot)
		counts := make([]int, width)
		for i := 0; i < n; i++ {
			peer := tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{106, 11, byte(i >> 8), byte(i)}), Port: 443}
			counts[slotOf(tuple.TCP, uint16(1024+i%60000), peer, level)]++
		}
		worst := 0
		for _, c := range counts {
			worst = max(worst, c)
		}
		// Poisson(192) over at most 4096 slots stays well below 1.5x the mean.
		if worst > 288 {
			t.Errorf("level %d: the fullest of %d slots holds %d records (mean 192)", level, width, worst)
		}
	}
}

// A bucket is written at the level its count calls for and read up to readTop:
// the level an older writer (64 records per slot) wrote at, one above a
// newer writer's and never below it, so both find each other's entries.
func TestLevelForAndReadTop(t *testing.T) {
	for _, c := range []struct {
		total       int64
		write, read int
	}{
		{0, 0, 0}, {64, 0, 0}, {65, 0, 1}, {256, 0, 1}, {257, 1, 2}, {1024, 1, 2}, {1025, 2, 3},
		{64 << 16, 7, 8}, {256 << 16, 8, 9}, {256 << 18, 9, 9}, {1 << 40, 9, 9},
	} {
		if w, r := levelAt(c.total, perSlot), readTop(c.total); w != c.write || r != c.read {
			t.Errorf("total %d: written at level %d, read up to %d; want %d, %d", c.total, w, r, c.write, c.read)
		}
	}
	for total := int64(0); total < 1<<40; total = total*5/4 + 1 {
		if top, w := readTop(total), levelAt(total, perSlot); top < w || top > w+1 {
			t.Fatalf("total %d: readers read up to level %d, writers write at %d", total, top, w)
		}
	}
}

func TestCorruptSlotsAreRejected(t *testing.T) {
	// Round trips are covered end to end by store_test.
	for _, b := range [][]byte{{5, 1, 2}, {0}, {3, 0, 6, 0}} {
		if err := eachEntry(b, func([]byte, mapping.Mapping) {}); err == nil {
			t.Errorf("corrupt slot %v accepted", b)
		}
	}
}
