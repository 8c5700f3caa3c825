package slsemu

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Cursor numbering. Each shard numbers its log groups from its own base so
// that cursors look like the real 16+ digit values and a cursor from one
// shard is rejected by another (it falls outside that shard's range).
const (
	cursorBase      int64 = 1_700_000_000_000_000
	cursorShardStep int64 = 1_000_000_000_000
)

func shardCursorBase(shardID int) int64 {
	return cursorBase + int64(shardID)*cursorShardStep
}

// encodeCursor renders a cursor the way the service and the SDK do:
// padded standard base64 of the decimal number.
func encodeCursor(n int64) string {
	return base64.StdEncoding.EncodeToString(strconv.AppendInt(nil, n, 10))
}

// decodeCursor accepts padded and unpadded standard base64 (some docs and
// tools strip the '=' padding) and, leniently, the URL-safe alphabet.
func decodeCursor(s string) (int64, error) {
	trimmed := strings.TrimRight(s, "=")
	raw, err := base64.RawStdEncoding.DecodeString(trimmed)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(trimmed)
	}
	if err != nil {
		return 0, fmt.Errorf("cursor %q is not base64: %w", s, err)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cursor %q does not hold a decimal number: %w", s, err)
	}
	return n, nil
}
