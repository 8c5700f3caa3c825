package slsemu_test

import (
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

func TestFailNext(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 1, 1)
	c := newClient(t, emu, defaultClientConfig())
	begin, _ := emu.Cursor("proj", "app", 0, "begin")

	tests := []struct {
		name string
		call func() error
	}{
		{"PutLogs", func() error { return c.PutLogs("proj", "app", makeGroup("f", 1)) }},
		{"GetCursor", func() error { _, err := c.GetCursor("proj", "app", 0, "end"); return err }},
		{"PullLogs", func() error { _, _, err := c.PullLogs("proj", "app", 0, begin, "", 10); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.FailNext("proj", "app", 2, 403, "WriteQuotaExceed")
			for range 2 {
				wantSLSError(t, tt.call(), "WriteQuotaExceed", 403)
			}
			if err := tt.call(); err != nil {
				t.Fatalf("call after the injected failures: %v", err)
			}
		})
	}

	t.Run("disarm", func(t *testing.T) {
		emu.FailNext("proj", "app", 5, 403, "WriteQuotaExceed")
		emu.FailNext("proj", "app", 0, 0, "")
		if err := c.PutLogs("proj", "app", makeGroup("f", 1)); err != nil {
			t.Fatalf("disarmed FailNext still fails: %v", err)
		}
	})

	t.Run("5xx is retried by the SDK", func(t *testing.T) {
		emu.ResetRequests()
		emu.FailNext("proj", "app", 1, 503, "ServerBusy")
		if _, err := c.GetCursor("proj", "app", 0, "begin"); err != nil {
			t.Fatalf("GetCursor should succeed on retry: %v", err)
		}
		recs := emu.Requests()
		if len(recs) != 2 || recs[0].Status != 503 || recs[0].ErrorCode != "ServerBusy" || recs[1].Status != 200 {
			t.Fatalf("records = %+v", recs)
		}
	})
}

// Origin-form requests (a custom dialer instead of a proxy) work the same.
func TestOriginFormRequests(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateLogstore("proj", "app", 1, 1)
	for _, v4 := range []bool{false, true} {
		cfg := defaultClientConfig()
		cfg.dial, cfg.v4 = true, v4
		c := newClient(t, emu, cfg)
		if err := c.PostLogStoreLogsV2("proj", "app", &sls.PostLogStoreLogsRequest{
			LogGroup: makeGroup("origin", 1), CompressType: sls.Compress_ZSTD,
		}); err != nil {
			t.Fatalf("PutLogs (v4=%v): %v", v4, err)
		}
	}
	if n := len(logIDs(emu.LogGroups("proj", "app"))); n != 2 {
		t.Fatalf("stored %d logs, want 2", n)
	}
}
