package natlog

import "testing"

func BenchmarkParse(b *testing.B) {
	rec := record(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, r := Parse(rec, "", 1738767999); r != "" {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
