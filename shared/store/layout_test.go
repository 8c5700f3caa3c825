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
		n := width * 48
		counts := make([]int, width)
		for i := 0; i < n; i++ {
			peer := tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{106, 11, byte(i >> 8), byte(i)}), Port: 443}
			counts[slotOf(tuple.TCP, uint16(1024+i%60000), peer, level)]++
		}
		worst := 0
		for _, c := range counts {
			worst = max(worst, c)
		}
		// Poisson(48) over at most 4096 slots stays well below 2x the mean.
		if worst > 96 {
			t.Errorf("level %d: the fullest of %d slots holds %d records (mean 48)", level, width, worst)
		}
	}
}

func TestLevelFor(t *testing.T) {
	for _, c := range []struct {
		total int64
		want  int
	}{{0, 0}, {64, 0}, {65, 1}, {256, 1}, {257, 2}, {64 << 16, 8}, {64 << 18, 9}, {1 << 40, 9}} {
		if got := levelFor(c.total); got != c.want {
			t.Errorf("levelFor(%d) = %d, want %d", c.total, got, c.want)
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
