package slsemu_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

func TestPutThenPullRoundTrip(t *testing.T) {
	compressions := []struct {
		name string
		typ  int
	}{{"lz4", sls.Compress_LZ4}, {"zstd", sls.Compress_ZSTD}, {"none", sls.Compress_None}}
	hashKeys := []struct {
		name string
		key  *string
	}{
		{"no-key", nil},
		{"md5-key", proto.String("7fffffffffffffffffffffffffffffff")},
		{"free-form-key", proto.String("user-42")},
	}
	for _, put := range compressions {
		for _, hk := range hashKeys {
			for _, pull := range []struct {
				name string
				typ  int
			}{{"lz4", sls.Compress_LZ4}, {"zstd", sls.Compress_ZSTD}} {
				t.Run(fmt.Sprintf("put-%s/%s/pull-%s", put.name, hk.name, pull.name), func(t *testing.T) {
					t.Parallel()
					emu := startEmu(t, slsemu.Options{})
					emu.CreateLogstore("proj", "app", 2, 1)
					c := newClient(t, emu, defaultClientConfig())

					var want []string
					for g := range 6 {
						lg := makeGroup(fmt.Sprintf("g%d", g), 3)
						want = append(want, logIDs([]*sls.LogGroup{lg})...)
						err := c.PostLogStoreLogsV2("proj", "app", &sls.PostLogStoreLogsRequest{
							LogGroup: lg, HashKey: hk.key, CompressType: put.typ,
						})
						if err != nil {
							t.Fatalf("PostLogStoreLogsV2: %v", err)
						}
					}
					var got []*sls.LogGroup
					for shard := range 2 {
						got = append(got, pullAll(t, c, "proj", "app", shard, 4, pull.typ)...)
					}
					if ids := logIDs(got); !reflect.DeepEqual(ids, sortedCopy(want)) {
						t.Fatalf("pulled ids %v, want %v", ids, want)
					}
					for _, lg := range got {
						if lg.GetTopic() == "" || lg.GetSource() != "10.0.0.1" || len(lg.LogTags) != 1 {
							t.Fatalf("group metadata lost: %v", lg)
						}
					}
					if ids := logIDs(emu.LogGroups("proj", "app")); !reflect.DeepEqual(ids, sortedCopy(want)) {
						t.Fatalf("emu.LogGroups ids %v", ids)
					}
				})
			}
		}
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestHashKeyRouting(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 4, 1)
	c := newClient(t, emu, defaultClientConfig())
	// MD5-style keys land in the shard whose [begin, end) range holds them.
	keys := map[string]int{
		"00000000000000000000000000000000": 0,
		"3fffffffffffffffffffffffffffffff": 0,
		"40000000000000000000000000000000": 1,
		"bfffffffffffffffffffffffffffffff": 2,
		"ffffffffffffffffffffffffffffffff": 3,
	}
	for key, shard := range keys {
		before, _ := emu.Cursor("proj", "app", shard, "end")
		if err := c.PostLogStoreLogs("proj", "app", makeGroup(key[:4], 1), proto.String(key)); err != nil {
			t.Fatalf("PostLogStoreLogs(%s): %v", key, err)
		}
		after, _ := emu.Cursor("proj", "app", shard, "end")
		if before == after {
			t.Errorf("key %s did not land in shard %d", key, shard)
		}
	}
	// Keyless writes are spread over all shards.
	for i := range 8 {
		if err := c.PutLogs("proj", "app", makeGroup(fmt.Sprint("rr", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	for shard := range 4 {
		begin, _ := emu.Cursor("proj", "app", shard, "begin")
		end, _ := emu.Cursor("proj", "app", shard, "end")
		if n := decodeCursorForTest(t, end) - decodeCursorForTest(t, begin); n < 2 {
			t.Errorf("shard %d got %d groups; keyless writes are not spread", shard, n)
		}
	}
}

func TestPullPagingAndEndCursor(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 1, 1)
	var ranges [][2]string
	for g := range 5 {
		before, after, err := emu.Append("proj", "app", 0, makeGroup(fmt.Sprint("p", g), 2))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		ranges = append(ranges, [2]string{before, after})
	}
	c := newClient(t, emu, defaultClientConfig())
	begin, _ := c.GetCursor("proj", "app", 0, "begin")
	end, _ := c.GetCursor("proj", "app", 0, "end")
	if begin != ranges[0][0] || end != ranges[4][1] {
		t.Fatalf("GetCursor begin/end = %s/%s, Append ranges %v", begin, end, ranges)
	}
	if n := decodeCursorForTest(t, end) - decodeCursorForTest(t, begin); n != 5 {
		t.Fatalf("end - begin = %d, want 5 (consecutive cursors)", n)
	}

	t.Run("count=1 pages", func(t *testing.T) {
		cursor := begin
		for i := range 5 {
			gl, next, err := c.PullLogs("proj", "app", 0, cursor, end, 1)
			if err != nil {
				t.Fatalf("PullLogs: %v", err)
			}
			if len(gl.LogGroups) != 1 || gl.LogGroups[0].GetCursor() != ranges[i][0] || next != ranges[i][1] {
				t.Fatalf("page %d: %d groups, cursor %s, next %s; want range %v", i, len(gl.LogGroups),
					gl.LogGroups[0].GetCursor(), next, ranges[i])
			}
			cursor = next
		}
		if cursor != end {
			t.Fatalf("final cursor %s != end %s", cursor, end)
		}
	})

	t.Run("unpadded cursors are accepted and echoed", func(t *testing.T) {
		unpaddedBegin := strings.TrimRight(begin, "=")
		unpaddedEnd := strings.TrimRight(end, "=")
		if unpaddedEnd == end {
			t.Fatalf("test needs a padded end cursor, got %s", end)
		}
		gl, next, err := c.PullLogs("proj", "app", 0, unpaddedBegin, unpaddedEnd, 100)
		if err != nil {
			t.Fatalf("PullLogs: %v", err)
		}
		if len(gl.LogGroups) != 5 || next != unpaddedEnd {
			t.Fatalf("got %d groups, next %q; want 5 and exactly %q", len(gl.LogGroups), next, unpaddedEnd)
		}
	})

	t.Run("at end returns nothing and the same cursor", func(t *testing.T) {
		gl, meta, err := c.PullLogsWithQuery(&sls.PullLogRequest{Project: "proj", Logstore: "app",
			Cursor: end, EndCursor: end, LogGroupMaxCount: 10})
		if err != nil {
			t.Fatalf("PullLogs at end: %v", err)
		}
		if len(gl.LogGroups) != 0 || meta.Count != 0 || meta.RawSize != 0 || meta.NextCursor != end {
			t.Fatalf("at end: %d groups, meta %+v", len(gl.LogGroups), meta)
		}
	})

	t.Run("no end cursor reads to the head", func(t *testing.T) {
		gl, next, err := c.PullLogs("proj", "app", 0, ranges[2][0], "", 100)
		if err != nil || len(gl.LogGroups) != 3 || next != end {
			t.Fatalf("got %v groups, next %s, err %v", len(gl.GetLogGroups()), next, err)
		}
		gl, next, err = c.PullLogs("proj", "app", 0, end, "", 100)
		if err != nil || len(gl.LogGroups) != 0 || next != end {
			t.Fatalf("at head: %v groups, next %s, err %v", len(gl.GetLogGroups()), next, err)
		}
	})

	t.Run("invalid cursors", func(t *testing.T) {
		past := encodeCursorForTest(decodeCursorForTest(t, end) + 1)
		cases := []struct {
			name, cursor, end string
			shard             int
			code              string
		}{
			{"garbage", "not-a-cursor!", "", 0, "InvalidCursor"},
			{"beyond head", past, "", 0, "InvalidCursor"},
			{"end beyond head", begin, past, 0, "InvalidCursor"},
			{"end before cursor", end, begin, 0, "InvalidCursor"},
			{"unknown shard", begin, "", 7, "ShardNotExist"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := c.PullLogs("proj", "app", tc.shard, tc.cursor, tc.end, 10)
				wantSLSError(t, err, tc.code, 400)
			})
		}
	})
}

func TestGetCursorByTime(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_750_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(ts time.Time) { mu.Lock(); now = ts; mu.Unlock() }
	t0 := now

	emu := startEmu(t, slsemu.Options{Now: clock})
	emu.CreateLogstore("proj", "app", 1, 1)
	c := newClient(t, emu, defaultClientConfig())
	for i := range 2 {
		if err := c.PutLogs("proj", "app", makeGroup(fmt.Sprint("early", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	setClock(t0.Add(10 * time.Second))
	if err := c.PutLogs("proj", "app", makeGroup("late", 1)); err != nil {
		t.Fatal(err)
	}
	begin, _ := c.GetCursor("proj", "app", 0, "begin")
	end, _ := c.GetCursor("proj", "app", 0, "end")
	third := encodeCursorForTest(decodeCursorForTest(t, begin) + 2)

	for _, tc := range []struct {
		from string
		want string
	}{
		{fmt.Sprint(t0.Unix() - 100), begin},
		{fmt.Sprint(t0.Unix()), begin},
		{fmt.Sprint(t0.Unix() + 5), third},
		{fmt.Sprint(t0.Unix() + 10), third},
		{fmt.Sprint(t0.Unix() + 11), end},
	} {
		got, err := c.GetCursor("proj", "app", 0, tc.from)
		if err != nil || got != tc.want {
			t.Errorf("GetCursor(%s) = %s, %v; want %s", tc.from, got, err, tc.want)
		}
		if srv, _ := emu.Cursor("proj", "app", 0, tc.from); srv != tc.want {
			t.Errorf("emu.Cursor(%s) = %s; want %s", tc.from, srv, tc.want)
		}
	}
	_, err := c.GetCursor("proj", "app", 0, "yesterday")
	wantSLSError(t, err, "ParameterInvalid", 400)

	ct, err := c.GetCursorTime("proj", "app", 0, third)
	if err != nil || ct.Unix() != t0.Unix()+10 {
		t.Fatalf("GetCursorTime(third) = %v, %v", ct, err)
	}
	ct, err = c.(*sls.Client).GetPrevCursorTime("proj", "app", 0, third)
	if err != nil || ct.Unix() != t0.Unix() {
		t.Fatalf("GetPrevCursorTime(third) = %v, %v", ct, err)
	}
}

func TestMalformedPutBodies(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateLogstore("proj", "app", 1, 1)
	c := newClient(t, emu, defaultClientConfig())
	valid, err := proto.Marshal(makeGroup("ok", 1))
	if err != nil {
		t.Fatal(err)
	}
	// Each body is checked against gogo's own Unmarshal so the emulator's
	// fast validator cannot drift from what the SDK would accept.
	cases := []struct {
		name   string
		body   []byte
		wantOK bool
	}{
		{"valid", valid, true},
		{"unknown field is fine", append([]byte{0x78, 0x05}, valid...), true},
		{"not protobuf", []byte("hello, this is not a log group"), false},
		{"truncated", valid[:len(valid)-3], false},
		{"content without value", []byte{0x0A, 0x06, 0x08, 0x01, 0x12, 0x02, 0x0A, 0x00}, false},
		{"log without time", []byte{0x0A, 0x06, 0x12, 0x04, 0x0A, 0x00, 0x12, 0x00}, false},
		{"no logs", []byte{0x1A, 0x01, 'x'}, false},
		{"wrong wire type", []byte{0x08, 0x01}, false},
	}
	for _, tc := range cases {
		for _, ct := range []int{sls.Compress_None, sls.Compress_LZ4, sls.Compress_ZSTD} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, ct), func(t *testing.T) {
				var lg sls.LogGroup
				if gogoOK := lg.Unmarshal(tc.body) == nil && len(lg.Logs) > 0; gogoOK != tc.wantOK {
					t.Fatalf("test case is wrong: gogo accepts=%v", gogoOK)
				}
				err := c.PutRawLogWithCompressType("proj", "app", tc.body, ct)
				if tc.wantOK {
					if err != nil {
						t.Fatalf("emulator rejected a body gogo accepts: %v", err)
					}
					return
				}
				wantSLSError(t, err, "PostBodyInvalid", 400)
			})
		}
	}
}

func TestConcurrentClients(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateLogstore("proj", "app", 3, 1)
	const writers, perWriter = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers+3)
	for w := range writers {
		c := newClient(t, emu, clientConfig{ak: testAK, secret: testSecret, token: testToken, v4: w%2 == 0})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if err := c.PutLogs("proj", "app", makeGroup(fmt.Sprintf("w%d-%d", w, i), 2)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Readers tail the shards while writers write.
	reader := newClient(t, emu, defaultClientConfig())
	done := make(chan struct{})
	var readerWG sync.WaitGroup
	for shard := range 3 {
		readerWG.Add(1)
		go func() {
			defer readerWG.Done()
			cursor, err := reader.GetCursor("proj", "app", shard, "begin")
			if err != nil {
				errs <- err
				return
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				_, next, err := reader.PullLogs("proj", "app", shard, cursor, "", 7)
				if err != nil {
					errs <- err
					return
				}
				cursor = next
			}
		}()
	}
	wg.Wait()
	close(done)
	readerWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent client: %v", err)
	}
	c := newClient(t, emu, defaultClientConfig())
	var got []*sls.LogGroup
	for shard := range 3 {
		got = append(got, pullAll(t, c, "proj", "app", shard, 1000, sls.Compress_LZ4)...)
	}
	if n := len(logIDs(got)); n != writers*perWriter*2 {
		t.Fatalf("pulled %d logs, want %d", n, writers*perWriter*2)
	}
}
