package slslog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ndrtrace/ndrtrace/shared/lblog"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// Values each field takes in generated records: every shape the parsers
// accept, and some they reject.
var shapes = map[string][]string{
	"instance":             {"ngw-bp1abc", "ngw 1", ""},
	"intstance":            {"ngw-old"},
	"vpc_id":               {"vpc-bp1xyz", "", "vpc:1*"},
	"protocol":             {"6", "17", "1", "tcp", "udp", "TCP", "", "tcpx"},
	"portocol":             {"6", "17"},
	"pri_ip":               {"172.16.20.21", "10.0.0.7", "fd00::21", "", "172.16.1"},
	"pri_port":             {"47176", "1", "65535", "", "-1"},
	"nat_ip":               {"47.100.1.85", "172.16.10.13", "2408:4000::85", "", "47.1.1"},
	"nat_port":             {"48155", "0", "70000", ""},
	"pub_ip":               {"106.11.22.203", "2001:db8::1", "::ffff:1.2.3.4", ""},
	"pub_port":             {"443", "0", "x"},
	"start_time":           {"1738767300", "1738767300000", "1738767300.5", "2025-02-05T14:55:00Z", "2025-02-05 22:55:00", "0", "99999999999999999999.5", "soon"},
	"end_time":             {"1738767900", "1738767900000", "2025-02-05T15:05:00+08:00", "1738771000", ""},
	"__topic__":            {lblog.TopicALB, lblog.TopicCLB, "other"},
	"app_lb_id":            {"alb-bp1abc", "alb 1", ""},
	"slbid":                {"lb-bp1xyz", ""},
	"client_ip":            {"47.96.1.10", "2408:4000:1::7", "", "client"},
	"client_port":          {"51234", "-", "", "0", "65536"},
	"vip_addr":             {"39.100.1.20", "172.16.0.5", "fd00::5", "", "vip"},
	"slb_vport":            {"443", "80", "0", "https"},
	"upstream_addr":        {"192.168.1.10:8080", "192.168.1.9:8080, 192.168.1.10:8080", "[2408:4002::9]:80", "1.1.1.1:1 : 2.2.2.2:2", "-", "", "bad"},
	"time":                 {"2025-02-05T22:57:10+08:00", "1738767430", "1738767430123", "1738767430.25", "2025-02-05T14:57:10.400Z", "100", "-"},
	"request_time":         {"0.005", "1.5, 2", "-", "-, 3", "999999999", "fast"},
	"http_x_forwarded_for": {"203.0.113.7, 10.1.1.1", "[2001:db8::7]", "unknown", ""},
	"bytes_from_vpc":       {"417", strings.Repeat("9", 200)}, // a value longer than 127 bytes: a two-byte length
	"status":               {"200", "中文"},
}

var natKeys = []string{"instance", "intstance", "vpc_id", "protocol", "portocol", "pri_ip", "pri_port", "nat_ip", "nat_port", "pub_ip", "pub_port", "start_time", "end_time", "bytes_from_vpc"}
var lbKeys = []string{"__topic__", "app_lb_id", "slbid", "client_ip", "client_port", "vip_addr", "slb_vport", "upstream_addr", "time", "request_time", "http_x_forwarded_for", "status"}

// genRecord draws a NAT or LB record: usually the documented shape with a
// few fields drawn from their variants, sometimes absent or repeated.
func genRecord(rng *rand.Rand) *sls.Log {
	keys := natKeys
	if rng.IntN(2) == 0 {
		keys = lbKeys
	}
	t := uint32(1738767999 - rng.IntN(3))
	if rng.IntN(20) == 0 {
		t = 1000 // a log time before 2010
	}
	l := &sls.Log{Time: &t}
	if rng.IntN(5) == 0 {
		ns := uint32(rng.IntN(1e9))
		l.TimeNs = &ns
	}
	for _, k := range keys {
		v := shapes[k][0]
		if rng.IntN(4) == 0 {
			v = shapes[k][rng.IntN(len(shapes[k]))]
		}
		switch rng.IntN(30) {
		case 0:
			continue // absent
		case 1: // repeated: the parsers see both, in order
			l.Contents = append(l.Contents, content(k, shapes[k][rng.IntN(len(shapes[k]))]))
		}
		if (k == "intstance" || k == "portocol" || k == "__topic__") && rng.IntN(3) != 0 {
			continue
		}
		l.Contents = append(l.Contents, content(k, v))
	}
	if rng.IntN(10) == 0 {
		l.Contents = append(l.Contents, content("", "")) // an empty key and value
	}
	return l
}

func content(k, v string) *sls.LogContent { return &sls.LogContent{Key: &k, Value: &v} }

func genGroup(rng *rand.Rand) *sls.LogGroup {
	lg := &sls.LogGroup{}
	if topics := []string{"", lblog.TopicALB, lblog.TopicCLB, "nat"}; rng.IntN(4) != 0 {
		topic := topics[rng.IntN(len(topics))]
		lg.Topic = &topic
	}
	if rng.IntN(2) == 0 {
		src, cat := "10.0.0."+strconv.Itoa(rng.IntN(255)), "cat"
		lg.Source, lg.Category = &src, &cat
	}
	for i := rng.IntN(4); i > 0; i-- {
		k, v := "__tag__:__receive_time__", strconv.Itoa(1738767999+i)
		if i == 2 {
			k, v = "__tag__:__hostname__", strings.Repeat("h", 150)
		}
		lg.LogTags = append(lg.LogTags, &sls.LogTag{Key: &k, Value: &v})
	}
	for i := 1 + rng.IntN(40); i > 0; i-- {
		lg.Logs = append(lg.Logs, genRecord(rng))
	}
	return lg
}

// seen is what a reader gave for one record, parsed both ways.
type seen struct {
	Cursor, Topic string
	LogTime       int64
	Fields        []mapping.Field
	NAT, LB       mapping.Mapping
	NATR, LBR     mapping.Reject
}

func readAll(t *testing.T, read slslog.Reader, c sls.ClientInterface, r slslog.Range) ([]seen, int) {
	t.Helper()
	var out []seen
	var fields []mapping.Field
	groups, err := read(context.Background(), c, r, func(page []slslog.Group) error {
		for i := range page {
			g := &page[i]
			if g.Cursor == "" {
				return fmt.Errorf("group %d without a cursor", i)
			}
			logs := g.Logs()
			for {
				var lt int64
				var ok bool
				if fields, lt, ok = logs.Next(fields); !ok {
					break
				}
				s := seen{Cursor: g.Cursor, Topic: g.Topic, LogTime: lt, Fields: append([]mapping.Field(nil), fields...)}
				s.NAT, s.NATR = natlog.Parse(fields, g.Topic, lt)
				s.LB, s.LBR = lblog.Parse(fields, g.Topic, lt)
				out = append(out, s)
			}
			if err := logs.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, groups
}

// The raw path (Read: the SDK's GetLogsBytesWithQuery, walked in place) and
// the SDK's decoding (ReadDecoded: PullLogsWithQuery) give the same groups,
// cursors, topics, records and so the same mappings and rejects, over
// generated groups with every field shape the parsers accept, tags, sources
// and topics included, across pages.
func TestReadersAgree(t *testing.T) {
	seed := uint64(20261201)
	rng := rand.New(rand.NewPCG(seed, 1))
	const groups = 260 // three pages
	gs := make([]*sls.LogGroup, groups)
	for i := range gs {
		gs[i] = genGroup(rng)
	}
	c, _, r := emulatorWith(t, gs)

	raw, rawGroups := readAll(t, slslog.Read, c, r)
	sdk, sdkGroups := readAll(t, slslog.ReadDecoded, c, r)
	if rawGroups != groups || sdkGroups != groups || len(raw) != len(sdk) {
		t.Fatalf("raw: %d groups, %d records; SDK: %d groups, %d records; wrote %d groups", rawGroups, len(raw), sdkGroups, len(sdk), groups)
	}
	nat, lb := map[mapping.Reject]int{}, map[mapping.Reject]int{}
	for i := range raw {
		if !reflect.DeepEqual(raw[i], sdk[i]) {
			t.Fatalf("record %d differs:\nraw %+v\nSDK %+v", i, raw[i], sdk[i])
		}
		nat[raw[i].NATR]++
		lb[raw[i].LBR]++
	}
	// Not vacuous: both parsers accepted many records and rejected others
	// for many reasons.
	if nat[""] < len(raw)/10 || lb[""] < len(raw)/10 || len(nat) < 8 || len(lb) < 8 {
		t.Fatalf("too few shapes: NAT %v, LB %v", nat, lb)
	}
	t.Logf("seed %d: %d groups, %d records agree; NAT %d mapped, LB %d mapped; %d NAT and %d LB reject reasons",
		seed, groups, len(raw), nat[""], lb[""], len(nat)-1, len(lb)-1)
}

// quirks are inputs the SDK's decoder (gogo/protobuf) accepts that the
// protobuf specification, and protowire, would refuse: groups (deprecated
// wire types 3 and 4) in unknown fields, ended by a marker of another field
// number or holding field number 0; varints of ten bytes that overflow 64
// bits; tags whose field number only fits in 64 bits. SLS does not send
// them, but the raw walk must not refuse a page the SDK would read.
func quirks() map[string][]byte {
	tg := func(b []byte, num uint64, typ protowire.Type) []byte {
		return protowire.AppendVarint(b, num<<3|uint64(typ))
	}
	str := func(b []byte, num uint64, s string) []byte {
		return protowire.AppendString(tg(b, num, protowire.BytesType), s)
	}
	content := func(k, v string, extra ...byte) []byte {
		c := append(str(str(nil, 1, k), 2, v), extra...)
		return protowire.AppendBytes(tg(nil, 2, protowire.BytesType), c)
	}
	logAt := func(time []byte, body ...[]byte) []byte {
		l := append(tg(nil, 1, protowire.VarintType), time...)
		for _, b := range body {
			l = append(l, b...)
		}
		return protowire.AppendBytes(tg(nil, 1, protowire.BytesType), l)
	}
	log := func(body ...[]byte) []byte { return logAt(protowire.AppendVarint(nil, 1738767999), body...) }
	list := func(groupExtra []byte, logs ...[]byte) []byte {
		g := str(nil, 3, "nat")
		for _, l := range logs {
			g = append(g, l...)
		}
		g = append(g, groupExtra...)
		return protowire.AppendBytes(tg(nil, 1, protowire.BytesType), g)
	}
	// Group markers: start of field 12, a varint of field 0 inside, end
	// of field 13; and nested groups.
	mismatched := tg(protowire.AppendVarint(tg(tg(nil, 12, protowire.StartGroupType), 0, protowire.VarintType), 1), 13, protowire.EndGroupType)
	nested := tg(tg(str(tg(tg(nil, 7, protowire.StartGroupType), 8, protowire.StartGroupType), 9, "x"), 8, protowire.EndGroupType), 7, protowire.EndGroupType)
	// A varint of ten bytes whose last is 0x7f: 64 bits and then some.
	overflow := append(bytes.Repeat([]byte{0xff}, 9), 0x7f)
	return map[string][]byte{
		"group in a log":          list(nil, log(content("pri_ip", "10.0.0.1"), mismatched)),
		"group in a content":      list(nil, log(content("pri_ip", "10.0.0.1", mismatched...))),
		"group in a log group":    list(mismatched, log(content("k", "v"))),
		"group in the list":       append(append([]byte(nil), mismatched...), list(nested, log(content("k", "v")))...),
		"nested groups in a log":  list(nil, log(nested, content("k", "v"), nested)),
		"overflowing time":        list(nil, logAt(overflow, content("k", "v"))),
		"overflowing unknown":     list(nil, log(append(tg(nil, 9, protowire.VarintType), overflow...), content("k", "v"))),
		"field number over int32": append(protowire.AppendVarint(nil, (1<<32+1)<<3|uint64(protowire.BytesType)), list(nil, log(content("k", "v")))[1:]...),
	}
}

// agree fails t unless the raw walk reads b as the SDK does, when the SDK
// reads it.
func agree(t *testing.T, b []byte) {
	t.Helper()
	gl, err := sls.LogsBytesDecode(b)
	groups, rerr := slslog.Groups(b, "")
	if err != nil {
		return // the SDK refuses it; the raw walk may or may not
	}
	if rerr != nil {
		t.Fatalf("the SDK decodes what the raw walk refuses: %v", rerr)
	}
	if len(groups) != len(gl.LogGroups) {
		t.Fatalf("%d groups, SDK %d", len(groups), len(gl.LogGroups))
	}
	var got, want []mapping.Field
	for i, lg := range gl.LogGroups {
		sdk := slslog.FromSDK(lg)
		if groups[i].Topic != sdk.Topic {
			t.Fatalf("group %d topic %q, SDK %q", i, groups[i].Topic, sdk.Topic)
		}
		rl, sl := groups[i].Logs(), sdk.Logs()
		for n := 0; ; n++ {
			var rt, st int64
			var rok, sok bool
			got, rt, rok = rl.Next(got)
			want, st, sok = sl.Next(want)
			if rok != sok || rt != st || !reflect.DeepEqual(got, want) {
				t.Fatalf("group %d log %d: %v %d %v, SDK %v %d %v (%v)", i, n, rok, rt, got, sok, st, want, rl.Err())
			}
			if !rok {
				break
			}
		}
	}
}

// The SDK reads every quirk (or the case tests nothing), and the raw walk
// reads it the same way.
func TestQuirksAgree(t *testing.T) {
	for name, b := range quirks() {
		t.Run(name, func(t *testing.T) {
			gl, err := sls.LogsBytesDecode(b)
			if err != nil || len(gl.LogGroups) == 0 || len(gl.LogGroups[0].Logs) == 0 {
				t.Fatalf("the SDK does not read the case: %v", err)
			}
			agree(t, b)
		})
	}
}

// Whatever bytes the SDK's decoder accepts, the raw walk gives the same
// groups, topics, log times and fields.
func FuzzGroups(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 4 {
		b, err := (&sls.LogGroupList{LogGroups: []*sls.LogGroup{genGroup(rng), genGroup(rng)}}).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	for _, b := range quirks() {
		f.Add(b)
	}
	f.Fuzz(agree)
}
