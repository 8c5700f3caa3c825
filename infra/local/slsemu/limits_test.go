package slsemu_test

import (
	"fmt"
	"strings"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// TestPutLogsLimits: the service's write limits, through the real SDK. A
// request over one fails whole and stores nothing.
func TestPutLogsLimits(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateLogstore("proj", "app", 1, 1)
	c := newClient(t, emu, defaultClientConfig())
	big := func(logs, valueBytes int) *sls.LogGroup {
		lg := &sls.LogGroup{Topic: proto.String("t")}
		v := strings.Repeat("v", valueBytes)
		for i := range logs {
			lg.Logs = append(lg.Logs, &sls.Log{Time: proto.Uint32(1_700_000_000), Contents: []*sls.LogContent{
				{Key: proto.String("id"), Value: proto.String(fmt.Sprint(i))}, {Key: proto.String("v"), Value: proto.String(v)}}})
		}
		return lg
	}
	tests := []struct {
		name string
		lg   *sls.LogGroup
		ok   bool
	}{
		{"4096 logs", big(slsemu.MaxLogsPerGroup, 10), true},
		{"4097 logs", big(slsemu.MaxLogsPerGroup+1, 10), false},
		{"a log just under 1 MB", big(1, slsemu.MaxLogBytes-100), true},
		{"a log over 1 MB", big(1, slsemu.MaxLogBytes+1), false},
		{"a group just under 5 MB", big(5, slsemu.MaxLogGroupBytes/5-100), true},
		{"a group over 5 MB", big(6, slsemu.MaxLogGroupBytes/6+10), false},
	}
	stored := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.PutLogs("proj", "app", tt.lg)
			if tt.ok != (err == nil) {
				t.Fatalf("PutLogs: %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if se, isSLS := err.(*sls.Error); !isSLS || se.Code != "PostBodyTooLarge" {
					t.Fatalf("error %v, want PostBodyTooLarge", err)
				}
			} else {
				stored++
			}
			if got := len(emu.LogGroups("proj", "app")); got != stored {
				t.Fatalf("%d groups stored, want %d", got, stored)
			}
		})
	}
}
