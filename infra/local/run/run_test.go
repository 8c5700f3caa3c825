package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
)

// TestDemo runs make run's stories on the local cloud (a real
// redis-server, the compiled functions) and checks what each one must tell:
// the investigation names the surging instance and the peak minute.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	lc, err := cloud.Start(ctx, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	var out bytes.Buffer
	f, err := runDemo(ctx, lc, &out, t.TempDir(), time.Second)
	defer func() {
		if t.Failed() {
			t.Log("\n" + out.String())
		}
	}()
	if err != nil {
		t.Fatal(err)
	}

	byName := map[string]row{}
	for _, r := range f.rows {
		byName[strings.SplitN(r.name, " (", 2)[0]] = r
	}
	if r := byName["surge to third party"]; r.status != "traced" || r.instance != instanceID(21) {
		t.Errorf("the surge alert: %+v", r)
	}

	// The investigation: from the destination and a range alone.
	if want := f.t0.Add(5 * time.Minute); !f.inv.peak.Equal(want) {
		t.Errorf("peak minute %s, want %s", f.inv.peak, want)
	}
	if top := f.inv.top; top.PrivateIP != culprit || top.InstanceID != instanceID(21) || top.VPCID != vpc {
		t.Errorf("top host %+v, want %s (%s)", top, culprit, instanceID(21))
	}
	if f.inv.hosts < 2 {
		t.Errorf("%d hosts: the other instances using the service are missing", f.inv.hosts)
	}
	b, err := os.ReadFile(f.inv.chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("chart %s: %v", f.inv.chartPath, err)
	}
}
