package investigate

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/netip"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// emuClient reaches the emulator with the real SDK.
func emuClient(emu *slsemu.Server) func(context.Context, string) (sls.ClientInterface, error) {
	return func(_ context.Context, endpoint string) (sls.ClientInterface, error) {
		c := sls.CreateNormalInterfaceV2(endpoint, sls.NewStaticCredentialsProvider("ak", "secret", ""))
		c.SetHTTPClient(emu.HTTPClient())
		c.SetRetryTimeout(3 * time.Second)
		return c, nil
	}
}

type rec struct {
	at                   time.Time
	nat, pri, vpc, pub   string
	port, vpcB, pubB     int64
	account, region, gwy string
}

func put(t *testing.T, emu *slsemu.Server, ls string, recs []rec) {
	t.Helper()
	lg := &sls.LogGroup{}
	for _, r := range recs {
		kv := map[string]string{"nat_ip": r.nat, "pri_ip": r.pri, "vpc_id": r.vpc, "pub_ip": r.pub,
			"pub_port": strconv.FormatInt(r.port, 10), "bytes_from_vpc": strconv.FormatInt(r.vpcB, 10),
			"bytes_from_pub": strconv.FormatInt(r.pubB, 10), "protocol": "6", "instance": "ngw-test"}
		if r.account != "" {
			kv["account_id"], kv["region"] = r.account, r.region
		}
		l := &sls.Log{Time: proto.Uint32(uint32(r.at.Unix()))}
		for k, v := range kv {
			l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(k), Value: proto.String(v)})
		}
		lg.Logs = append(lg.Logs, l)
	}
	if _, _, err := emu.Append("p", ls, 0, lg); err != nil {
		t.Fatal(err)
	}
}

type fakeBook map[netip.Addr][]egress.Entry

func (b fakeBook) Lookup(_ context.Context, a netip.Addr) ([]egress.Entry, error) { return b[a], nil }

type namer struct{}

func (namer) Name(_ context.Context, ns []trace.Naming) {
	for _, n := range ns {
		a := n.Asset
		a.InstanceID = "i-" + a.PrivateIP
		if a.AccountID == "" {
			a.AccountID, a.Region = "own", "cn-hangzhou"
		}
	}
}

// TestRunOnOnboardIndex runs an investigation through the real SDK on a
// logstore indexed exactly as onboard indexes NAT session logstores, and
// checks every figure against sums over the records.
func TestRunOnOnboardIndex(t *testing.T) {
	emu := slsemu.New(slsemu.Options{})
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	emu.CreateProject("p")
	emu.CreateLogstore("p", "nat", 1, 7)
	c, _ := emuClient(emu)(context.Background(), "http://cn-hangzhou.log.aliyuncs.com")
	if err := c.CreateIndex("p", "nat", sls.Index{Keys: onboard.IndexKeys(mapping.KindNAT)}); err != nil {
		t.Fatal(err)
	}
	eip, twin := netip.MustParseAddr("47.100.1.85"), netip.MustParseAddr("172.16.10.13")
	t0 := time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC)
	var recs []rec
	for i := range 300 {
		r := rec{at: t0.Add(time.Duration(i*7) * time.Second), nat: eip.String(), pri: fmt.Sprintf("172.16.20.%d", i%6),
			vpc: "vpc-a", pub: "47.110.22.157", port: 80, vpcB: int64(1000 + i), pubB: int64(i)}
		switch {
		case i%10 == 0:
			r.pub = "106.11.22.203" // another destination
		case i%10 == 1:
			r.port = 443 // another port
		case i%10 == 2:
			r.nat = twin.String() // the EIP in NAT mode
		case i%10 == 3:
			r.nat = "47.100.1.99" // another egress
		case i%10 == 4:
			r.account, r.region, r.vpc = "2000000000000002", "cn-shanghai", "vpc-b" // a member account's record
		}
		if i == 155 {
			r.vpcB = 1_000_000 // the surge
		}
		recs = append(recs, r)
	}
	put(t, emu, "nat", recs)

	inv := &Investigator{Source: Source{Endpoint: "http://cn-hangzhou.log.aliyuncs.com", Project: "p", Logstores: []string{"nat"}},
		Book: fakeBook{eip: {{Kind: mapping.KindNAT, PublicIP: eip, PrivateIP: twin}}}, Namer: namer{}, Client: emuClient(emu)}
	req := Request{DstIP: netip.MustParseAddr("47.110.22.157"), DstPort: 80, EgressIP: eip, From: t0, To: t0.Add(time.Hour), Top: 3}
	res, err := inv.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}

	type host struct{ ip, vpc string }
	wantMin := map[string][3]int64{}
	wantHost := map[host][2]int64{}
	for _, r := range recs {
		if r.pub != "47.110.22.157" || r.port != 80 || (r.nat != eip.String() && r.nat != twin.String()) {
			continue
		}
		m := r.at.Truncate(time.Minute).Format(time.RFC3339)
		w := wantMin[m]
		wantMin[m] = [3]int64{w[0] + r.vpcB, w[1] + r.pubB, w[2] + 1}
		h := wantHost[host{r.pri, r.vpc}]
		wantHost[host{r.pri, r.vpc}] = [2]int64{h[0] + r.vpcB, h[1] + 1}
	}
	if len(res.Minutes) != len(wantMin) {
		t.Fatalf("%d minutes, want %d", len(res.Minutes), len(wantMin))
	}
	for _, m := range res.Minutes {
		if w := wantMin[m.Minute]; [3]int64{m.BytesFromVPC, m.BytesFromPub, m.Sessions} != w {
			t.Errorf("minute %s: %+v, want %v", m.Minute, m, w)
		}
	}
	if res.PeakMinute != recs[155].at.Truncate(time.Minute).Format(time.RFC3339) || !res.Complete {
		t.Errorf("peak %s (complete %v), want the surge's minute %s", res.PeakMinute, res.Complete, recs[155].at)
	}
	if len(res.Hosts) != 3 || res.Hosts[0].PrivateIP != recs[155].pri {
		t.Fatalf("hosts %+v", res.Hosts)
	}
	for i, h := range res.Hosts {
		w := wantHost[host{h.PrivateIP, h.VPCID}]
		if h.BytesFromVPC != w[0] || h.Sessions != w[1] || h.InstanceID != "i-"+h.PrivateIP || h.PeakMinute == "" {
			t.Errorf("host %+v, want bytes %d sessions %d", h, w[0], w[1])
		}
		if i > 0 && h.BytesFromVPC > res.Hosts[i-1].BytesFromVPC {
			t.Errorf("hosts not in descending order: %+v", res.Hosts)
		}
		if h.VPCID == "vpc-b" && (h.AccountID != "2000000000000002" || h.Region != "cn-shanghai") {
			t.Errorf("member host %+v: account and region from the record", h)
		}
	}

	chart, err := Draw(res)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(chart.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != ChartWidth || b.Dy() != ChartHeight || chart.Width != ChartWidth {
		t.Fatalf("chart %v, want %dx%d", b, ChartWidth, ChartHeight)
	}

	// An empty range: no minutes, no hosts, still a chart.
	req.From, req.To = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	res, err = inv.Run(context.Background(), req)
	if err != nil || len(res.Minutes) != 0 || len(res.Hosts) != 0 || res.PeakMinute != "" {
		t.Fatalf("empty range: %+v, %v", res, err)
	}
	if _, err := Draw(res); err != nil {
		t.Fatal(err)
	}
}
