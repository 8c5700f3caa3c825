package slslog_test

import (
	"strconv"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// natPage is a pulled page's decompressed bytes: groups of per NAT session
// records each, shaped as the gateway writes them.
func natPage(tb testing.TB, groups, per int) []byte {
	tb.Helper()
	gl := &sls.LogGroupList{}
	t := uint32(1738738800)
	for g := 0; g < groups; g++ {
		lg := &sls.LogGroup{}
		for i := 0; i < per; i++ {
			n := g*per + i
			start := 1738738200 + n%600
			f := [][2]string{{"instance", "ngw-bp1bench"}, {"vpc_id", "vpc-bp1bench"}, {"protocol", "6"},
				{"pri_ip", "172.16." + strconv.Itoa(n%8) + "." + strconv.Itoa(1+n%250)}, {"pri_port", strconv.Itoa(30000 + n%30000)},
				{"nat_ip", "47.100.1.85"}, {"nat_port", strconv.Itoa(1024 + n%64000)},
				{"pub_ip", "106.11." + strconv.Itoa(n%256) + "." + strconv.Itoa(1+n%254)}, {"pub_port", "443"},
				{"bytes_from_vpc", "417"}, {"pkts_from_vpc", "6"}, {"bytes_from_pub", "421"}, {"pkts_from_pub", "4"},
				{"start_time", strconv.Itoa(start)}, {"end_time", strconv.Itoa(start + 300)}}
			l := &sls.Log{Time: &t}
			for _, kv := range f {
				l.Contents = append(l.Contents, content(kv[0], kv[1]))
			}
			lg.Logs = append(lg.Logs, l)
		}
		gl.LogGroups = append(gl.LogGroups, lg)
	}
	b, err := gl.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// parseGroups parses every record of groups, as ingest does, and returns how
// many were mapped.
func parseGroups(groups []slslog.Group, fields []mapping.Field, batch []mapping.Mapping) ([]mapping.Field, []mapping.Mapping, error) {
	for i := range groups {
		logs := groups[i].Logs()
		for {
			f, lt, ok := logs.Next(fields)
			if !ok {
				break
			}
			fields = f
			if m, r := natlog.Parse(f, groups[i].Topic, lt); r == "" {
				batch = append(batch, m)
			}
		}
		if err := logs.Err(); err != nil {
			return fields, batch, err
		}
	}
	return fields, batch, nil
}

// Reading a page in place and parsing its records allocates nothing per
// record: only the page's group list and cursors.
func TestRawReadAndParseDoNotAllocatePerRecord(t *testing.T) {
	const groups, per = 10, 1000
	page := natPage(t, groups, per)
	fields := make([]mapping.Field, 0, 32)
	batch := make([]mapping.Mapping, 0, groups*per)
	allocs := testing.AllocsPerRun(10, func() {
		gs, err := slslog.Groups(page, "1700000000000000009")
		if err != nil {
			t.Fatal(err)
		}
		var n []mapping.Mapping
		if fields, n, err = parseGroups(gs, fields, batch[:0]); err != nil || len(n) != groups*per {
			t.Fatalf("%d mapped, %v", len(n), err)
		}
	})
	// One slice of groups (grown by append) and a cursor per group.
	if allocs > 2*groups+8 {
		t.Fatalf("%.0f allocations for %d records in %d groups", allocs, groups*per, groups)
	}
}

// BenchmarkReadParse is read + parse without Redis, on one core: the raw walk
// against the SDK's decoding of the same page.
func BenchmarkReadParse(b *testing.B) {
	const groups, per = 10, 1000
	page := natPage(b, groups, per)
	fields := make([]mapping.Field, 0, 32)
	batch := make([]mapping.Mapping, 0, groups*per)
	run := func(b *testing.B, split func() ([]slslog.Group, error)) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			gs, err := split()
			if err != nil {
				b.Fatal(err)
			}
			if fields, batch, err = parseGroups(gs, fields, batch[:0]); err != nil || len(batch) != groups*per {
				b.Fatalf("%d mapped, %v", len(batch), err)
			}
		}
		b.ReportMetric(float64(b.N*groups*per)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*groups*per), "ns/record")
	}
	b.Run("raw", func(b *testing.B) {
		run(b, func() ([]slslog.Group, error) { return slslog.Groups(page, "1700000000000000009") })
	})
	b.Run("sdk", func(b *testing.B) {
		run(b, func() ([]slslog.Group, error) {
			gl, err := sls.LogsBytesDecode(page)
			if err != nil {
				return nil, err
			}
			gs := make([]slslog.Group, len(gl.LogGroups))
			for i, lg := range gl.LogGroups {
				gs[i] = slslog.FromSDK(lg)
			}
			return gs, nil
		})
	})
}
