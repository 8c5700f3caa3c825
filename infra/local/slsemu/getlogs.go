package slsemu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// getLogsRequest is the JSON body of GetLogs (POST /logstores/{ls}/logs),
// as the SDK's GetLogsV2/V3 send it.
type getLogsRequest struct {
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	Query string `json:"query"`
}

// getLogsResponse is GetLogsV3Response on the wire.
type getLogsResponse struct {
	Meta getLogsMeta         `json:"meta"`
	Data []map[string]string `json:"data"`
}

type getLogsMeta struct {
	Progress           string   `json:"progress"`
	Count              int64    `json:"count"`
	HasSQL             bool     `json:"hasSQL"`
	ElapsedMillisecond int64    `json:"elapsedMillisecond"`
	AggQuery           string   `json:"aggQuery"`
	WhereQuery         string   `json:"whereQuery"`
	Keys               []string `json:"keys,omitempty"`
}

// getLogs serves GetLogs with an analytic statement ("* | SELECT ..."): the
// SQL runs on SQLite over the logstore's records in [from, to) (see
// sqldialect.go for what is translated). A query without SQL, or with a
// search other than "*", is refused: the emulator has no full-text search.
func (s *Server) getLogs(w http.ResponseWriter, req *request, logstore string) error {
	start := time.Now()
	if ae := s.fault.take(req.project, logstore); ae != nil {
		return ae
	}
	ls, err := s.store.lookup(req.project, logstore)
	if err != nil {
		return err
	}
	var in getLogsRequest
	if err := json.Unmarshal(req.body, &in); err != nil {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "GetLogs body is not JSON: %v", err)
	}
	if in.To < in.From {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "to (%d) is before from (%d)", in.To, in.From)
	}
	search, stmt, hasSQL := splitQuery(in.Query)
	if !hasSQL || stmt == "" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid,
			"slsemu answers GetLogs only with an analytic statement (\"* | SELECT ...\"), got %q", in.Query)
	}
	if search != "" && search != "*" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid,
			"slsemu supports only \"*\" as the search statement, got %q", search)
	}

	t := s.sql.get(ls)
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx := req.r.Context()
	if err := t.sync(ctx, ls); err != nil {
		return err
	}
	cols, data, err := t.query(ctx, stmt, in.From, in.To)
	if err != nil {
		return err
	}
	if data == nil {
		data = []map[string]string{}
	}
	body, err := json.Marshal(getLogsResponse{
		Meta: getLogsMeta{Progress: "Complete", Count: int64(len(data)), HasSQL: true,
			ElapsedMillisecond: time.Since(start).Milliseconds(), WhereQuery: search, AggQuery: stmt, Keys: cols},
		Data: data,
	})
	if err != nil {
		return err
	}
	// Compressed as the service does, announced with the raw size the SDK
	// checks.
	encoding := pullEncoding(req.r.Header.Get("Accept-Encoding"))
	packed, err := compressPull(body, encoding)
	if err != nil {
		return err
	}
	defer putBuf(packed)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-log-compresstype", encoding)
	h.Set("x-log-bodyrawsize", strconv.Itoa(len(body)))
	h.Set("Content-Length", strconv.Itoa(len(*packed)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*packed)
	return nil
}
