package slsemu

import (
	"fmt"
	"os"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// Server-side helpers: direct access to the emulator's state for test setup
// and assertions, bypassing HTTP, authentication and injected failures.

// CreateProject creates a project if it does not exist yet.
func (s *Server) CreateProject(project string) {
	s.store.createProject(project, "", s.unixNow())
}

// CreateLogstore creates a logstore (and its project if needed). shards <= 0
// means 2 and ttlDays <= 0 means 30. An existing logstore is left unchanged.
func (s *Server) CreateLogstore(project, logstore string, shards int, ttlDays int) {
	if shards <= 0 {
		shards = defaultShards
	}
	if ttlDays <= 0 {
		ttlDays = defaultTTLDays
	}
	now := s.unixNow()
	s.store.createProject(project, "", now)
	meta := map[string]any{"logstoreName": logstore, "ttl": ttlDays, "shardCount": shards}
	_ = s.store.createLogstore(project, newLogstore(logstore, ttlDays, shards, meta, now))
}

// Append stores lg in the given shard as if a client had written it and
// returns the cursor range [cursorBefore, cursorAfter) it occupies.
func (s *Server) Append(project, logstore string, shard int, lg *sls.LogGroup) (cursorBefore, cursorAfter string, err error) {
	ls, err := s.store.lookup(project, logstore)
	if err != nil {
		return "", "", fmt.Errorf("slsemu: append to %s/%s: %w", project, logstore, err)
	}
	sh, err := ls.shard(shard)
	if err != nil {
		return "", "", fmt.Errorf("slsemu: append to %s/%s: %w", project, logstore, err)
	}
	raw, err := lg.Marshal()
	if err != nil {
		return "", "", fmt.Errorf("slsemu: marshal log group: %w", err)
	}
	if err := checkGroup(raw); err != nil {
		return "", "", fmt.Errorf("slsemu: append to %s/%s: %w", project, logstore, err)
	}
	idx := sh.append(frameFromGroup(raw), s.unixNow())
	return sh.cursorAt(idx), sh.cursorAt(idx + 1), nil
}

// Cursor has GetCursor's semantics: from is "begin", "end" or unix seconds.
func (s *Server) Cursor(project, logstore string, shard int, from string) (string, error) {
	ls, err := s.store.lookup(project, logstore)
	if err != nil {
		return "", fmt.Errorf("slsemu: cursor of %s/%s: %w", project, logstore, err)
	}
	sh, err := ls.shard(shard)
	if err != nil {
		return "", fmt.Errorf("slsemu: cursor of %s/%s: %w", project, logstore, err)
	}
	c, err := sh.cursorFrom(from)
	if err != nil {
		return "", fmt.Errorf("slsemu: cursor of %s/%s: %w", project, logstore, err)
	}
	return c, nil
}

// LogGroups decodes everything stored in the logstore: shard 0's groups in
// write order, then shard 1's, and so on. It returns nil for an unknown
// logstore. Groups that fail to decode (impossible for validated input) are
// skipped.
func (s *Server) LogGroups(project, logstore string) []*sls.LogGroup {
	ls, err := s.store.lookup(project, logstore)
	if err != nil {
		return nil
	}
	var out []*sls.LogGroup
	for _, sh := range ls.shards {
		for _, frame := range sh.snapshot() {
			lg := new(sls.LogGroup)
			if err := lg.Unmarshal(groupOfFrame(frame)); err != nil {
				s.log.Warn("slsemu: stored log group does not decode", "err", err)
				continue
			}
			out = append(out, lg)
		}
	}
	return out
}

// Logstore reports a logstore's TTL, shard count and raw index JSON (nil
// when no index exists); ok is false if the logstore does not exist.
func (s *Server) Logstore(project, logstore string) (ttl int, shards int, index []byte, ok bool) {
	ls, err := s.store.lookup(project, logstore)
	if err != nil {
		return 0, 0, nil, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.ttl, len(ls.shards), append([]byte(nil), ls.index...), true
}

// StartAsProxy starts an emulator on loopback and points HTTP_PROXY at it,
// so that the real SDK, given any endpoint, reaches it as the functions do
// locally. It is for a test package's TestMain, before any HTTP client has
// read the environment; it panics when the emulator cannot start.
func StartAsProxy(opts Options) *Server {
	s := New(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	os.Setenv("HTTP_PROXY", s.ProxyURL())
	return s
}
