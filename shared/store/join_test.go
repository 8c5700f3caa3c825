package store

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The join's table finds, for any word, exactly the probes entered under
// it in this slot: none of an earlier slot's, across resets of any size
// and the stamp's wrap.
func TestSlotJoin(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var j slotJoin
	for round := range 200 {
		if round == 100 {
			j.gen = math.MaxUint32 // the next reset wraps
		}
		n := 1 + rng.IntN(300)
		words := make([]uint64, 1+rng.IntN(n)) // fewer words than probes: some share
		for i := range words {
			words[i] = rng.Uint64() & probeMask
		}
		want := map[uint64][]int32{}
		j.reset(n)
		for i := range n {
			w := words[rng.IntN(len(words))]
			j.add(int32(i), w)
			want[w] = append(want[w], int32(i))
		}
		for _, w := range append(words, rng.Uint64()&probeMask, 0) {
			var got []int32
			for i := j.find(w); i >= 0; i = j.next[i] {
				got = append(got, i)
			}
			slices.Sort(got)
			if !slices.Equal(got, want[w]) {
				t.Fatalf("round %d (%d probes), word %x: found %v, want %v", round, n, w, got, want[w])
			}
		}
	}
}
