package slsemu_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// Header-level checks the SDK would not notice (it accepts several valid
// variants), done with plain HTTP through the emulator's proxy client.
func TestWireDetails(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 1, 1)
	for range 3 {
		if _, _, err := emu.Append("proj", "app", 0, makeGroup("w", 2)); err != nil {
			t.Fatal(err)
		}
	}
	begin, _ := emu.Cursor("proj", "app", 0, "begin")
	end, _ := emu.Cursor("proj", "app", 0, "end")
	hc := emu.HTTPClient()
	t.Cleanup(hc.CloseIdleConnections)

	get := func(t *testing.T, path string, query url.Values, acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://proj.cn-hangzhou.log.aliyuncs.com"+path+"?"+query.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("x-log-requestid") == "" {
			t.Errorf("%s: no x-log-requestid", path)
		}
		return resp, body
	}

	for _, tc := range []struct {
		name, typ, endParam, accept, wantEncoding string
	}{
		{"go sdk lz4", "logs", "end_cursor", "lz4", "lz4"},
		{"go sdk zstd", "logs", "end_cursor", "zstd", "zstd"},
		{"python type=log", "log", "end_cursor", "", "lz4"},
		{"rust endCursor", "logs", "endCursor", "lz4", "lz4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"type": {tc.typ}, "cursor": {begin}, "count": {"2"}, tc.endParam: {end}}
			resp, body := get(t, "/logstores/app/shards/0", q, tc.accept)
			h := resp.Header
			if resp.StatusCode != 200 || h.Get("x-log-compresstype") != tc.wantEncoding ||
				h.Get("Content-Type") != "application/x-protobuf" || h.Get("x-log-count") != "2" {
				t.Fatalf("status %d headers %v", resp.StatusCode, h)
			}
			first := decodeCursorForTest(t, begin)
			if h.Get("x-log-cursor") != encodeCursorForTest(first+2) ||
				h.Get("x-log-read-last-cursor") != strconv.FormatInt(first+1, 10) {
				t.Fatalf("cursor headers %v", h)
			}
			raw := inflate(t, tc.wantEncoding, body, h.Get("x-log-bodyrawsize"))
			gl, err := sls.LogsBytesDecode(raw)
			if err != nil || len(gl.LogGroups) != 2 {
				t.Fatalf("decode LogGroupList: %v (%d groups)", err, len(gl.GetLogGroups()))
			}
		})
	}

	t.Run("empty pull still names a compress type", func(t *testing.T) {
		q := url.Values{"type": {"logs"}, "cursor": {end}, "count": {"10"}, "end_cursor": {end}}
		resp, body := get(t, "/logstores/app/shards/0", q, "lz4")
		h := resp.Header
		if resp.StatusCode != 200 || len(body) != 0 || h.Get("x-log-count") != "0" ||
			h.Get("x-log-bodyrawsize") != "0" || h.Get("x-log-compresstype") != "lz4" || h.Get("x-log-cursor") != end {
			t.Fatalf("status %d body %d headers %v", resp.StatusCode, len(body), h)
		}
	})

	t.Run("JSON is never compressed and errors are SLS JSON", func(t *testing.T) {
		resp, body := get(t, "/logstores/ghost", nil, "deflate")
		var e struct{ ErrorCode, ErrorMessage string }
		if resp.StatusCode != 404 || resp.Header.Get("Content-Encoding") != "" || json.Unmarshal(body, &e) != nil ||
			e.ErrorCode != "LogStoreNotExist" || e.ErrorMessage == "" {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		resp, body = get(t, "/logstores/app", nil, "deflate")
		var ls map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(body, &ls) != nil || ls["shardCount"] != 1.0 {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
	})
}

func inflate(t *testing.T, encoding string, body []byte, rawSize string) []byte {
	t.Helper()
	n, err := strconv.Atoi(rawSize)
	if err != nil {
		t.Fatalf("x-log-bodyrawsize %q: %v", rawSize, err)
	}
	switch encoding {
	case "zstd":
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		out, err := dec.DecodeAll(body, nil)
		if err != nil || len(out) != n {
			t.Fatalf("zstd: %v (%d bytes, want %d)", err, len(out), n)
		}
		return out
	default:
		out := make([]byte, n)
		m, err := lz4.UncompressBlock(body, out)
		if err != nil || m != n {
			t.Fatalf("lz4: %v (%d bytes, want %d)", err, m, n)
		}
		return out
	}
}
