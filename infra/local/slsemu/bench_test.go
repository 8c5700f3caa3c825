package slsemu_test

import (
	"fmt"
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// Benchmarks of the emulator driven by the real SDK over loopback, to make
// sure it is not the bottleneck of throughput tests built on it.

func BenchmarkPutLogs(b *testing.B) {
	emu := startEmu(b, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken,
		MaxRequestRecords: -1})
	emu.CreateLogstore("proj", "app", 4, 1)
	lg := makeGroup("bench", 100)
	c := newClient(b, emu, defaultClientConfig())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.PutLogs("proj", "app", lg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPullLogs(b *testing.B) {
	emu := startEmu(b, slsemu.Options{MaxRequestRecords: -1})
	emu.CreateLogstore("proj", "app", 1, 1)
	for i := range 1000 {
		if _, _, err := emu.Append("proj", "app", 0, makeGroup(fmt.Sprint(i), 20)); err != nil {
			b.Fatal(err)
		}
	}
	begin, _ := emu.Cursor("proj", "app", 0, "begin")
	end, _ := emu.Cursor("proj", "app", 0, "end")
	c := newClient(b, emu, defaultClientConfig())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		gl, next, err := c.PullLogs("proj", "app", 0, begin, end, 1000)
		if err != nil || next != end || len(gl.LogGroups) != 1000 {
			b.Fatalf("pull: %v %s %d", err, next, len(gl.GetLogGroups()))
		}
	}
}
