package investigate

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

// BenchmarkInvestigate1M: one hour of a busy gateway (1,000,000 session
// records, 50 hosts, 200 destinations) in the SLS emulator, investigated
// through the real SDK. The first iteration includes loading the records
// into the emulator's SQL engine.
//
//	go test -run '^$' -bench Investigate1M -benchtime 3x ./shared/investigate
func BenchmarkInvestigate1M(b *testing.B) {
	emu := slsemu.New(slsemu.Options{})
	if err := emu.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	emu.CreateProject("p")
	emu.CreateLogstore("p", "nat", 1, 7)
	c, _ := emuClient(emu)(context.Background(), "http://cn-hangzhou.log.aliyuncs.com")
	if err := c.CreateIndex("p", "nat", sls.Index{Keys: onboard.IndexKeys(mapping.KindNAT)}); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 2, 5, 14, 30, 0, 0, time.UTC)
	const n, group = 1_000_000, 4096
	lg := &sls.LogGroup{}
	for i := range n {
		kv := [][2]string{{"nat_ip", "47.100.1.85"}, {"pri_ip", fmt.Sprintf("172.16.20.%d", i%50)}, {"vpc_id", "vpc-a"},
			{"pub_ip", fmt.Sprintf("47.110.%d.%d", i%200/100, i%100)}, {"pub_port", "443"}, {"protocol", "6"},
			{"bytes_from_vpc", strconv.Itoa(100 + i%1000)}, {"bytes_from_pub", strconv.Itoa(i % 700)}}
		l := &sls.Log{Time: proto.Uint32(uint32(t0.Add(time.Duration(i) * time.Hour / n).Unix()))}
		for _, p := range kv {
			l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(p[0]), Value: proto.String(p[1])})
		}
		lg.Logs = append(lg.Logs, l)
		if len(lg.Logs) == group || i == n-1 {
			if _, _, err := emu.Append("p", "nat", 0, lg); err != nil {
				b.Fatal(err)
			}
			lg = &sls.LogGroup{}
		}
	}
	inv := &Investigator{Source: Source{Endpoint: "http://cn-hangzhou.log.aliyuncs.com", Project: "p", Logstores: []string{"nat"}}, Client: emuClient(emu)}
	req := Request{DstIP: netip.MustParseAddr("47.110.0.7"), DstPort: 443, EgressIP: netip.MustParseAddr("47.100.1.85"), From: t0, To: t0.Add(time.Hour), Top: 10}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := inv.Run(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Draw(res); err != nil {
			b.Fatal(err)
		}
		b.Logf("run %d: %s, %d minutes, %d hosts, %d sessions", i, time.Since(start), len(res.Minutes), len(res.Hosts), res.Total.Sessions)
	}
}
