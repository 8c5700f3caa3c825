package slsemu_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

func decodeCursorForTest(t *testing.T, c string) int64 {
	t.Helper()
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		t.Fatalf("cursor %q: %v", c, err)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatalf("cursor %q: %v", c, err)
	}
	return n
}

func encodeCursorForTest(n int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
}
