package slsemu_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// sinkRuntime delivers into another emulator (server-side, as the local
// cloud's runtime does over HTTP) and denies roles it is told to.
type sinkRuntime struct {
	sink   *slsemu.Server
	mu     sync.Mutex
	denied map[string]bool // role ARNs that are missing or untrusted
}

func (r *sinkRuntime) Check(job sls.ETL) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sk := range job.Configuration.ETLSinks {
		if r.denied[sk.RoleArn] {
			return fmt.Errorf("%w: the sink account does not trust role %s", slsemu.ErrETLDenied, sk.RoleArn)
		}
	}
	return nil
}

func (r *sinkRuntime) Write(_ context.Context, job sls.ETL, sink sls.ETLSink, groups []*sls.LogGroup) error {
	if err := r.Check(job); err != nil {
		return err
	}
	for _, lg := range groups {
		if _, _, err := r.sink.Append(sink.Project, sink.Logstore, 0, lg); err != nil {
			return err
		}
	}
	return nil
}

func etlJob(name, logstore, sinkRole string) sls.ETL {
	return sls.ETL{
		Name: name, DisplayName: name, Type: sls.ETLType, Schedule: sls.ETLSchedule{Type: "Resident"},
		Configuration: sls.ETLConfiguration{
			Logstore: logstore, RoleArn: "acs:ram::2000000000000002:role/reader", Lang: "SPL", Version: sls.ETLVersion,
			Script: "* | extend account_id = '2000000000000002', region = 'cn-shanghai'",
			ETLSinks: []sls.ETLSink{{Name: "central", Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "central",
				Logstore: "nat", RoleArn: sinkRole, Type: sls.ETLSinksType}},
		},
	}
}

// waitFor polls cond until it holds or 20 s pass: ordering, not timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestETLShipsNewGroupsWithAddedFields(t *testing.T) {
	sink := slsemu.New(slsemu.Options{})
	sink.CreateLogstore("central", "nat", 1, 7)
	rt := &sinkRuntime{sink: sink, denied: map[string]bool{"acs:ram::1:role/untrusted": true}}
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken, ETL: rt})
	t.Cleanup(emu.StopAllETL)
	emu.SetETLInterval(10 * time.Millisecond)
	emu.CreateLogstore("member", "nat-sessions", 2, 7)
	c := newClient(t, emu, defaultClientConfig())

	job := etlJob("ship-nat", "nat-sessions", "acs:ram::1:role/sink")
	if err := c.CreateETL("member", job); err != nil {
		t.Fatal(err)
	}
	var se *sls.Error
	if err := c.CreateETL("member", job); !errors.As(err, &se) || se.Code != "JobAlreadyExist" {
		t.Fatalf("second CreateETL: %v, want JobAlreadyExist", err)
	}
	got, err := c.GetETL("member", "ship-nat")
	if err != nil || got.Status != slsemu.ETLRunning || got.Configuration.Script != job.Configuration.Script {
		t.Fatalf("GetETL = %+v, %v; want the job RUNNING", got, err)
	}

	put := func(v string) {
		t.Helper()
		k, val := "pri_ip", v
		one := uint32(1700000000)
		lg := &sls.LogGroup{Logs: []*sls.Log{{Time: &one, Contents: []*sls.LogContent{{Key: &k, Value: &val}}}}}
		if err := c.PutLogs("member", "nat-sessions", lg); err != nil {
			t.Fatal(err)
		}
	}
	put("10.0.0.1")
	put("10.0.0.2")
	waitFor(t, "two groups in the sink", func() bool { return len(sink.LogGroups("central", "nat")) == 2 })
	for _, lg := range sink.LogGroups("central", "nat") {
		f := map[string]string{}
		for _, c := range lg.Logs[0].Contents {
			f[c.GetKey()] = c.GetValue()
		}
		if f["account_id"] != "2000000000000002" || f["region"] != "cn-shanghai" || f["pri_ip"] == "" {
			t.Errorf("shipped record %v lacks the source's fields", f)
		}
	}

	// Stopped: nothing new is shipped; started again: the backlog follows.
	if err := c.StopETL("member", "ship-nat"); err != nil {
		t.Fatal(err)
	}
	put("10.0.0.3")
	if got, _ := c.GetETL("member", "ship-nat"); got.Status != slsemu.ETLStopped {
		t.Fatalf("status after StopETL = %q", got.Status)
	}
	if n := len(sink.LogGroups("central", "nat")); n != 2 {
		t.Fatalf("a stopped job shipped: %d groups", n)
	}
	if err := c.StartETL("member", "ship-nat"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog after StartETL", func() bool { return len(sink.LogGroups("central", "nat")) == 3 })

	// An update to a sink role the sink account does not trust fails the job.
	bad := etlJob("ship-nat", "nat-sessions", "acs:ram::1:role/untrusted")
	if err := c.UpdateETL("member", bad); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetETL("member", "ship-nat"); got.Status != slsemu.ETLFailed || got.Configuration.ETLSinks[0].RoleArn != bad.Configuration.ETLSinks[0].RoleArn {
		t.Fatalf("after an update to an untrusted role: %+v", got)
	}
	if _, reason, _, _ := emu.ETLJob("member", "ship-nat"); reason == "" {
		t.Error("a failed job has no reason")
	}
	list, err := c.ListETL("member", 0, 100)
	if err != nil || list.Count != 1 || list.Results[0].Name != "ship-nat" {
		t.Fatalf("ListETL = %+v, %v", list, err)
	}
	if err := c.DeleteETL("member", "ship-nat"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteETL("member", "ship-nat"); !errors.As(err, &se) || se.Code != "JobNotExist" {
		t.Fatalf("second DeleteETL: %v, want JobNotExist", err)
	}
}

func TestETLRejectsScriptsItCannotRun(t *testing.T) {
	emu := startEmu(t, slsemu.Options{ETL: &sinkRuntime{sink: slsemu.New(slsemu.Options{})}})
	emu.CreateLogstore("member", "nat-sessions", 1, 7)
	c := newClient(t, emu, defaultClientConfig())
	job := etlJob("odd", "nat-sessions", "r")
	job.Configuration.Script = "e_set('a','b')"
	if err := c.CreateETL("member", job); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetETL("member", "odd"); got.Status != slsemu.ETLFailed {
		t.Fatalf("a script the emulator cannot run: status %q, want FAILED", got.Status)
	}
}
