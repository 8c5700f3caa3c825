package traceapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
)

// MaxLookup bounds the ids of one lookup request.
const MaxLookup = 10000

// LookupRequest is {"lookup": ["<alert_id>", ...]}.
type LookupRequest struct {
	Lookup []string `json:"lookup"`
}

// lookupIDs recognises a lookup request: a JSON object whose only key is
// "lookup". ok is false for anything else (alerts); err says what is wrong
// with a lookup request that is malformed.
func lookupIDs(body []byte) (ids []string, ok bool, err error) {
	b := bytes.Trim(body, " \t\r\n") // JSON's whitespace only: \v is not
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"lookup"`)) {
		return nil, false, nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || len(top) != 1 || top["lookup"] == nil {
		return nil, false, nil
	}
	if err := json.Unmarshal(top["lookup"], &ids); err != nil {
		return nil, true, fmt.Errorf("lookup: not a JSON array of alert ids")
	}
	if len(ids) > MaxLookup {
		return nil, true, fmt.Errorf("lookup: more than %d alert ids", MaxLookup)
	}
	return ids, true, nil
}

// lookup answers a lookup request: {"results": [...]} in the order asked
// (nothing to record: it traces nothing).
func (h *Handler) lookup(ctx context.Context, ids []string, bad error) (out []byte, status int, recorded bool) {
	if bad != nil {
		b, _ := json.Marshal(map[string]string{"status": "invalid", "reason": bad.Error()})
		return b, http.StatusBadRequest, true
	}
	rs, err := h.Late.Lookup(ctx, ids)
	if err != nil {
		fcenv.Logger(ctx).Error("lookup failed", "ids", len(ids), "err", err)
		b, _ := json.Marshal(map[string]string{"status": "error", "reason": "lookup failed: " + err.Error()})
		return b, http.StatusServiceUnavailable, true
	}
	b, _ := json.Marshal(struct {
		Results []json.RawMessage `json:"results"`
	}{rs})
	return b, http.StatusOK, true
}
