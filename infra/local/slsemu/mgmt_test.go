package slsemu_test

import (
	"encoding/json"
	"reflect"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

func TestProjectLogstoreIndexLifecycle(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	c := newClient(t, emu, defaultClientConfig())
	const p, ls = "proj", "app"

	if _, err := c.CreateProject(p, "demo project"); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	_, err := c.CreateProject(p, "again")
	wantSLSError(t, err, "ProjectAlreadyExist", 400)
	proj, err := c.GetProject(p)
	if err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	if proj.Name != p || proj.Description != "demo project" || proj.Status != "Normal" {
		t.Fatalf("GetProject = %+v", proj)
	}
	if ok, err := c.CheckProjectExist("nope"); err != nil || ok {
		t.Fatalf("CheckProjectExist(nope) = %v, %v", ok, err)
	}

	if err := c.CreateLogStore(p, ls, 7, 3, true, 16); err != nil {
		t.Fatalf("CreateLogStore: %v", err)
	}
	wantSLSError(t, c.CreateLogStore(p, ls, 7, 3, true, 16), "LogStoreAlreadyExist", 400)
	wantSLSError(t, c.CreateLogStore(p, "bad", 7, 0, false, 0), "ParameterInvalid", 400)

	store, err := c.GetLogStore(p, ls)
	if err != nil {
		t.Fatalf("GetLogStore: %v", err)
	}
	if store.Name != ls || store.TTL != 7 || store.ShardCount != 3 || !store.AutoSplit || store.MaxSplitShard != 16 {
		t.Fatalf("GetLogStore = %+v", store)
	}
	if err := c.UpdateLogStore(p, ls, 90, 3); err != nil {
		t.Fatalf("UpdateLogStore: %v", err)
	}
	if ttl, shards, _, ok := emu.Logstore(p, ls); !ok || ttl != 90 || shards != 3 {
		t.Fatalf("emu.Logstore after update = %d, %d, %v", ttl, shards, ok)
	}
	names, err := c.ListLogStore(p)
	if err != nil || !reflect.DeepEqual(names, []string{ls}) {
		t.Fatalf("ListLogStore = %v, %v", names, err)
	}
	if ok, err := c.CheckLogstoreExist(p, ls); err != nil || !ok {
		t.Fatalf("CheckLogstoreExist = %v, %v", ok, err)
	}

	shards, err := c.ListShards(p, ls)
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	if len(shards) != 3 || shards[0].InclusiveBeginKey != "00000000000000000000000000000000" ||
		shards[2].ExclusiveBeginKey != "ffffffffffffffffffffffffffffffff" ||
		shards[0].ExclusiveBeginKey != shards[1].InclusiveBeginKey || shards[1].Status != "readwrite" {
		t.Fatalf("ListShards = %+v %+v %+v", *shards[0], *shards[1], *shards[2])
	}

	// Index: missing, create, duplicate, read back, update, delete.
	_, err = c.GetIndex(p, ls)
	wantSLSError(t, err, "IndexConfigNotExist", 404)
	index := sls.Index{
		Keys: map[string]sls.IndexKey{
			"level":   {Token: []string{" "}, Type: "text", DocValue: true},
			"latency": {Type: "long", DocValue: true},
		},
		Line: &sls.IndexLine{Token: []string{",", " "}, CaseSensitive: false},
		Ttl:  7,
	}
	if err := c.CreateIndex(p, ls, index); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	wantSLSError(t, c.CreateIndex(p, ls, index), "IndexAlreadyExist", 400)
	got, err := c.GetIndex(p, ls)
	if err != nil {
		t.Fatalf("GetIndex: %v", err)
	}
	if !reflect.DeepEqual(*got, index) {
		t.Fatalf("GetIndex = %+v, want %+v", *got, index)
	}
	index.Keys["user"] = sls.IndexKey{Token: []string{" "}, Type: "text"}
	if err := c.UpdateIndex(p, ls, index); err != nil {
		t.Fatalf("UpdateIndex: %v", err)
	}
	_, _, raw, _ := emu.Logstore(p, ls)
	var stored sls.Index
	if err := json.Unmarshal(raw, &stored); err != nil || len(stored.Keys) != 3 {
		t.Fatalf("emu.Logstore index = %s (%v)", raw, err)
	}
	if err := c.DeleteIndex(p, ls); err != nil {
		t.Fatalf("DeleteIndex: %v", err)
	}
	wantSLSError(t, c.DeleteIndex(p, ls), "IndexConfigNotExist", 404)

	if err := c.DeleteLogStore(p, ls); err != nil {
		t.Fatalf("DeleteLogStore: %v", err)
	}
	_, err = c.GetLogStore(p, ls)
	wantSLSError(t, err, "LogStoreNotExist", 404)
	if _, _, _, ok := emu.Logstore(p, ls); ok {
		t.Fatal("logstore still present after delete")
	}
}

func TestUnknownProjectAndLogstore(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 2, 30)
	c := newClient(t, emu, defaultClientConfig())
	lg := makeGroup("x", 1)

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"GetLogStore project", func() error { _, err := c.GetLogStore("ghost", "app"); return err }, "ProjectNotExist"},
		{"GetLogStore logstore", func() error { _, err := c.GetLogStore("proj", "ghost"); return err }, "LogStoreNotExist"},
		{"PutLogs project", func() error { return c.PutLogs("ghost", "app", lg) }, "ProjectNotExist"},
		{"PutLogs logstore", func() error { return c.PutLogs("proj", "ghost", lg) }, "LogStoreNotExist"},
		{"GetCursor logstore", func() error { _, err := c.GetCursor("proj", "ghost", 0, "begin"); return err }, "LogStoreNotExist"},
		{"ListShards project", func() error { _, err := c.ListShards("ghost", "app"); return err }, "ProjectNotExist"},
		{"CreateLogStore project", func() error { return c.CreateLogStore("ghost", "app", 1, 1, false, 0) }, "ProjectNotExist"},
		{"GetIndex logstore", func() error { _, err := c.GetIndex("proj", "ghost"); return err }, "LogStoreNotExist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSLSError(t, tt.call(), tt.code, 404)
		})
	}
}

func TestAutoCreate(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AutoCreate: true})
	c := newClient(t, emu, defaultClientConfig())
	if err := c.PutLogs("fresh", "store", makeGroup("a", 2)); err != nil {
		t.Fatalf("PutLogs with AutoCreate: %v", err)
	}
	ttl, shards, index, ok := emu.Logstore("fresh", "store")
	if !ok || shards != 2 || ttl != 30 || index != nil {
		t.Fatalf("auto-created logstore = ttl %d shards %d index %s ok %v", ttl, shards, index, ok)
	}
	if got := logIDs(emu.LogGroups("fresh", "store")); !reflect.DeepEqual(got, []string{"a-0", "a-1"}) {
		t.Fatalf("stored ids = %v", got)
	}
	// A malformed body must not create anything.
	err := c.PutRawLogWithCompressType("fresh", "other", []byte{0x0A, 0x02, 0x12, 0x00}, sls.Compress_None)
	wantSLSError(t, err, "PostBodyInvalid", 400)
	if _, _, _, ok := emu.Logstore("fresh", "other"); ok {
		t.Fatal("malformed PutLogs created a logstore")
	}
}

func TestListProjects(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateProject("b-proj")
	emu.CreateLogstore("a-proj", "app", 1, 1)
	c := newClient(t, emu, defaultClientConfig())
	// Project-less calls go to the bare endpoint host.
	names, err := c.ListProject()
	if err != nil || !reflect.DeepEqual(names, []string{"a-proj", "b-proj"}) {
		t.Fatalf("ListProject = %v, %v", names, err)
	}
	projects, count, total, err := c.ListProjectV2(1, 10)
	if err != nil || count != 1 || total != 2 || projects[0].Name != "b-proj" {
		t.Fatalf("ListProjectV2 = %+v, %d, %d, %v", projects, count, total, err)
	}
	if err := c.DeleteProject("b-proj"); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	_, err = c.GetProject("b-proj")
	wantSLSError(t, err, "ProjectNotExist", 404)
}
