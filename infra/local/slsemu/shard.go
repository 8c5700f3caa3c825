package slsemu

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// shard is one append-only log of log groups.
//
// frames and recv only ever grow. A reader may keep a sub-slice of frames
// after releasing the lock: append never writes below the length a reader
// saw, and stored frames are never modified, so the data it holds stays
// valid and race-free.
type shard struct {
	id         int
	base       int64  // cursor number of the first group
	beginKey   uint64 // top 64 bits of the inclusive begin of the MD5 key range
	createTime int64

	mu       sync.RWMutex
	frames   [][]byte // LogGroupList entries (tag + varint len + LogGroup bytes)
	recv     []int64  // server receive time (unix seconds) of each frame, non-decreasing
	lastRecv int64
}

// newShards splits the 128-bit MD5 hash key space evenly, as the service
// does for a new logstore.
func newShards(n int, now int64) []*shard {
	shards := make([]*shard, n)
	for i := range shards {
		begin, _ := bits.Div64(uint64(i), 0, uint64(n)) // i * 2^64 / n
		shards[i] = &shard{id: i, base: shardCursorBase(i), beginKey: begin, createTime: now}
	}
	return shards
}

// keyHex renders a 64-bit range boundary as the 32 hex digit key the
// service shows in ListShards.
func keyHex(v uint64) string {
	return fmt.Sprintf("%016x%016x", v, uint64(0))
}

const maxKeyHex = "ffffffffffffffffffffffffffffffff"

// routeShard picks the shard owning hashKey. The service expects the key to
// be a 32 hex digit MD5 value compared against the shard ranges; any other
// string is MD5-hashed first so arbitrary keys still route consistently.
func routeShard(shards []*shard, hashKey string) *shard {
	var v uint64
	if raw, err := hex.DecodeString(hashKey); err == nil && len(raw) == 16 {
		v = binary.BigEndian.Uint64(raw[:8])
	} else {
		sum := md5.Sum([]byte(hashKey))
		v = binary.BigEndian.Uint64(sum[:8])
	}
	i := sort.Search(len(shards), func(i int) bool { return shards[i].beginKey > v }) - 1
	return shards[max(i, 0)]
}

// append stores one frame and returns its index. Receive times are kept
// non-decreasing even if the wall clock steps back, so GetCursor by time
// can binary-search them.
func (sh *shard) append(frame []byte, now int64) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now = max(now, sh.lastRecv)
	sh.lastRecv = now
	sh.frames = append(sh.frames, frame)
	sh.recv = append(sh.recv, now)
	return len(sh.frames) - 1
}

func (sh *shard) head() int {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.frames)
}

func (sh *shard) cursorAt(idx int) string { return encodeCursor(sh.base + int64(idx)) }

// cursorFrom implements GetCursor's "from": "begin", "end", or unix seconds
// (the first group received at or after that time; the head if none).
func (sh *shard) cursorFrom(from string) (string, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	switch from {
	case "begin":
		return sh.cursorAt(0), nil
	case "end":
		return sh.cursorAt(len(sh.frames)), nil
	}
	ts, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return "", newAPIError(http.StatusBadRequest, codeParameterInvalid,
			"from must be begin, end or unix seconds, got %q", from)
	}
	idx := sort.Search(len(sh.recv), func(i int) bool { return sh.recv[i] >= ts })
	return sh.cursorAt(idx), nil
}

// indexOf resolves a cursor string to a group index in [0, head].
// Caller holds sh.mu.
func (sh *shard) indexOfLocked(cursor, what string) (int, error) {
	n, err := decodeCursor(cursor)
	if err != nil {
		return 0, newAPIError(http.StatusBadRequest, codeInvalidCursor, "%s: %v", what, err)
	}
	idx := n - sh.base
	if idx < 0 || idx > int64(len(sh.frames)) {
		return 0, newAPIError(http.StatusBadRequest, codeInvalidCursor,
			"%s %q is outside shard %d (valid %s..%s)", what, cursor, sh.id, sh.cursorAt(0), sh.cursorAt(len(sh.frames)))
	}
	return int(idx), nil
}

// cursorTime is the receive time of the group at cursor (GetCursorTime). For
// the head cursor it is the newest group's time, or now for an empty shard.
func (sh *shard) cursorTime(cursor string, now int64) (int64, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	idx, err := sh.indexOfLocked(cursor, "cursor")
	if err != nil {
		return 0, err
	}
	switch {
	case idx < len(sh.recv):
		return sh.recv[idx], nil
	case len(sh.recv) > 0:
		return sh.recv[len(sh.recv)-1], nil
	default:
		return now, nil
	}
}

// pullRange is the outcome of resolving a PullLogs request.
type pullRange struct {
	frames [][]byte // the groups to return
	start  int      // index of frames[0]
	end    int      // exclusive end the client asked for (head if none)
}

// readRange resolves [cursor, endCursor) and returns up to count frames.
// An empty endCursor means "up to the head".
func (sh *shard) readRange(cursor, endCursor string, count int) (pullRange, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	start, err := sh.indexOfLocked(cursor, "cursor")
	if err != nil {
		return pullRange{}, err
	}
	end := len(sh.frames)
	if endCursor != "" {
		if end, err = sh.indexOfLocked(endCursor, "end_cursor"); err != nil {
			return pullRange{}, err
		}
		if end < start {
			return pullRange{}, newAPIError(http.StatusBadRequest, codeInvalidCursor,
				"end_cursor %q is before cursor %q", endCursor, cursor)
		}
	}
	n := min(count, end-start)
	return pullRange{frames: sh.frames[start : start+n : start+n], start: start, end: end}, nil
}

// snapshot returns the stored frames, for test assertions.
func (sh *shard) snapshot() [][]byte {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.frames[:len(sh.frames):len(sh.frames)]
}
