package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// generator makes NAT session records shaped like a busy gateway's: four
// EIPs, 2,000 hosts, ports over the whole range, thousands of peers, windows
// up to ten minutes over ten minutes of start times.
type generator struct {
	records [][]mapping.Field
	base    int64
}

var eips = []string{"47.100.1.85", "47.100.1.86", "47.100.1.87", "47.100.1.88"}

func newGenerator(n int) *generator {
	rng := rand.New(rand.NewPCG(1, 2))
	g := &generator{base: 1738738200}
	g.records = make([][]mapping.Field, n)
	for i := range g.records {
		start := g.base + int64(rng.IntN(600))
		g.records[i] = []mapping.Field{
			{Key: "instance", Value: "ngw-bp1bench"}, {Key: "vpc_id", Value: "vpc-bp1bench"}, {Key: "protocol", Value: "6"},
			{Key: "pri_ip", Value: fmt.Sprintf("172.16.%d.%d", rng.IntN(8), 1+rng.IntN(250))}, {Key: "pri_port", Value: strconv.Itoa(30000 + rng.IntN(30000))},
			{Key: "nat_ip", Value: eips[i%len(eips)]}, {Key: "nat_port", Value: strconv.Itoa(1024 + rng.IntN(64000))},
			{Key: "pub_ip", Value: fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(220), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))}, {Key: "pub_port", Value: "443"},
			{Key: "bytes_from_vpc", Value: strconv.Itoa(rng.IntN(1 << 20))}, {Key: "pkts_from_vpc", Value: strconv.Itoa(rng.IntN(1000))},
			{Key: "bytes_from_pub", Value: strconv.Itoa(rng.IntN(1 << 20))}, {Key: "pkts_from_pub", Value: strconv.Itoa(rng.IntN(1000))},
			{Key: "start_time", Value: strconv.FormatInt(start, 10)}, {Key: "end_time", Value: strconv.FormatInt(start+int64(30+rng.IntN(570)), 10)},
		}
	}
	return g
}

// asMaps renders records as SLS would deliver them.
func (g *generator) asMaps(from, to int) []map[string]string {
	out := make([]map[string]string, 0, to-from)
	for _, r := range g.records[from:to] {
		m := make(map[string]string, len(r))
		for _, f := range r {
			m[f.Key] = f.Value
		}
		out = append(out, m)
	}
	return out
}

// logGroup renders every record as one SLS log group, as the SDK hands them
// to the ingest (built once, outside any timing).
func (g *generator) logGroup() *sls.LogGroup {
	lg := &sls.LogGroup{Logs: make([]*sls.Log, len(g.records))}
	t := uint32(g.base + 600)
	for i, r := range g.records {
		l := &sls.Log{Time: &t, Contents: make([]*sls.LogContent, len(r))}
		for j := range r {
			l.Contents[j] = &sls.LogContent{Key: &r[j].Key, Value: &r[j].Value}
		}
		lg.Logs[i] = l
	}
	return lg
}

// rawGroup is logGroup as ingest reads it: the LogGroupList bytes SLS
// sends, walked in place.
func (g *generator) rawGroup() (slslog.Group, int, error) {
	b, err := (&sls.LogGroupList{LogGroups: []*sls.LogGroup{g.logGroup()}}).Marshal()
	if err != nil {
		return slslog.Group{}, 0, err
	}
	gs, err := slslog.Groups(b, "")
	if err != nil {
		return slslog.Group{}, 0, err
	}
	return gs[0], len(b), nil
}
