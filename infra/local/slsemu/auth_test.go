package slsemu_test

import (
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

func TestSignatureVerification(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateLogstore("proj", "app", 1, 1)
	if _, _, err := emu.Append("proj", "app", 0, makeGroup("seed", 1)); err != nil {
		t.Fatal(err)
	}

	creds := []struct {
		name              string
		ak, secret, token string
		code              string // "" = accepted
	}{
		{"right credentials", testAK, testSecret, testToken, ""},
		{"wrong secret", testAK, "nope", testToken, "SignatureNotMatch"},
		{"wrong token", testAK, testSecret, "sts-token-old", "Unauthorized"},
		{"missing token", testAK, testSecret, "", "Unauthorized"},
		{"wrong access key", "LTAI-other", testSecret, testToken, "Unauthorized"},
	}
	for _, version := range []string{"v1", "v4"} {
		for _, cr := range creds {
			t.Run(version+"/"+cr.name, func(t *testing.T) {
				c := newClient(t, emu, clientConfig{ak: cr.ak, secret: cr.secret, token: cr.token, v4: version == "v4"})
				// One call of each shape: JSON GET, protobuf POST with a
				// body (Content-MD5 / content sha256), and a GET whose
				// query values contain '=' (cursors).
				calls := map[string]func() error{
					"GetLogStore": func() error { _, err := c.GetLogStore("proj", "app"); return err },
					"PutLogs":     func() error { return c.PutLogs("proj", "app", makeGroup("auth", 2)) },
					"PullLogs": func() error {
						begin, _ := emu.Cursor("proj", "app", 0, "begin")
						end, _ := emu.Cursor("proj", "app", 0, "end")
						_, _, err := c.PullLogs("proj", "app", 0, begin, end, 10)
						return err
					},
					// GetCursorTime goes through the SDK's second request
					// path (Client.request), which builds Host differently.
					"GetCursorTime": func() error {
						begin, _ := emu.Cursor("proj", "app", 0, "begin")
						_, err := c.GetCursorTime("proj", "app", 0, begin)
						return err
					},
					"CreateIndex": func() error {
						err := c.CreateIndexString("proj", "app", `{"line":{"token":[" "]}}`)
						if err == nil {
							err = c.DeleteIndex("proj", "app")
						}
						return err
					},
				}
				for name, call := range calls {
					err := call()
					if cr.code == "" {
						if err != nil {
							t.Errorf("%s rejected: %v", name, err)
						}
						continue
					}
					if err == nil {
						t.Errorf("%s accepted with %s", name, cr.name)
						continue
					}
					if code, status := slsCode(t, err); code != cr.code || status != 401 {
						t.Errorf("%s: got %s (%d), want %s (401)", name, code, status, cr.code)
					}
				}
			})
		}
	}
}

func TestRequestRecordsAndCredentialRotation(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateLogstore("proj", "app", 1, 1)

	old := newClient(t, emu, defaultClientConfig())
	if _, err := old.GetCursor("proj", "app", 0, "begin"); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	emu.SetCredentials("STS.new-ak", "new-secret", "sts-token-2")
	_, err := old.GetCursor("proj", "app", 0, "begin")
	wantSLSError(t, err, "Unauthorized", 401)
	rotated := newClient(t, emu, clientConfig{ak: "STS.new-ak", secret: "new-secret", token: "sts-token-2", v4: true})
	if _, err := rotated.GetCursor("proj", "app", 0, "end"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}

	recs := emu.Requests()
	if len(recs) != 3 {
		t.Fatalf("got %d records: %+v", len(recs), recs)
	}
	want := []slsemu.RequestRecord{
		{Method: "GET", Path: "/logstores/app/shards/0", Project: "proj", Logstore: "app",
			AccessKeyID: testAK, SecurityToken: testToken, SignatureVersion: "v1", Status: 200},
		{Method: "GET", Path: "/logstores/app/shards/0", Project: "proj", Logstore: "app",
			AccessKeyID: testAK, SecurityToken: testToken, SignatureVersion: "v1", Status: 401, ErrorCode: "Unauthorized"},
		{Method: "GET", Path: "/logstores/app/shards/0", Project: "proj", Logstore: "app",
			AccessKeyID: "STS.new-ak", SecurityToken: "sts-token-2", SignatureVersion: "v4", Status: 200},
	}
	for i, w := range want {
		got := recs[i]
		got.Time, got.Query = w.Time, w.Query
		if got != w {
			t.Errorf("record %d = %+v\nwant %+v", i, got, w)
		}
	}
	if recs[0].Query != "type=cursor&from=begin" {
		t.Errorf("record query = %q", recs[0].Query)
	}
	emu.ResetRequests()
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("ResetRequests left %d records", n)
	}
}
