package slsemu

import (
	"sync"
	"time"
)

// RequestRecord describes one request the emulator received, so tests can
// assert which API was called and with which credentials.
type RequestRecord struct {
	Time             time.Time
	Method           string
	Path             string // URL path, e.g. /logstores/app/shards/0
	Query            string // raw query string
	Project          string // from the Host, "" for project-less calls
	Logstore         string // from the path, "" when not a logstore call
	AccessKeyID      string // as claimed by the Authorization header
	SecurityToken    string // x-acs-security-token, "" when absent
	SignatureVersion string // "v1", "v4", or "" when unsigned
	Status           int    // HTTP status sent back
	ErrorCode        string // SLS errorCode sent back, "" on success
}

// defaultMaxRecords bounds the request log so long benchmarks do not grow
// it without limit.
const defaultMaxRecords = 100_000

type recorder struct {
	mu    sync.Mutex
	limit int // <0: disabled
	recs  []RequestRecord
}

func (rc *recorder) add(rec RequestRecord) {
	if rc.limit < 0 {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.recs = append(rc.recs, rec)
	// Trim in batches (keep the newest limit records) so the copy cost is
	// amortised instead of paid on every request once full.
	if len(rc.recs) >= 2*rc.limit {
		rc.recs = append(rc.recs[:0:0], rc.recs[len(rc.recs)-rc.limit:]...)
	}
}

func (rc *recorder) snapshot() []RequestRecord {
	if rc.limit < 0 {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	start := max(0, len(rc.recs)-rc.limit)
	return append([]RequestRecord(nil), rc.recs[start:]...)
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.recs = nil
}
