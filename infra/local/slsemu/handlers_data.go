package slsemu

import (
	"net/http"
	"strconv"
)

// Data plane: GetCursor, GetCursorTime, PullLogs, PutLogs. These are the
// hot paths of producers and consumers and are kept allocation-light.

// maxPullCount is the service's cap on log groups per PullLogs.
const maxPullCount = 1000

// dataLogstore resolves the logstore and shard of a shard request after
// consuming any injected failure.
func (s *Server) dataShard(req *request, logstore string, id int) (*shard, error) {
	if ae := s.fault.take(req.project, logstore); ae != nil {
		return nil, ae
	}
	ls, err := s.store.lookup(req.project, logstore)
	if err != nil {
		return nil, err
	}
	return ls.shard(id)
}

func (s *Server) getCursor(w http.ResponseWriter, req *request, logstore string, id int) error {
	sh, err := s.dataShard(req, logstore, id)
	if err != nil {
		return err
	}
	from := req.query.Get("from")
	if from == "" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "from is missing")
	}
	cursor, err := sh.cursorFrom(from)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]string{"cursor": cursor})
}

func (s *Server) getCursorTime(w http.ResponseWriter, req *request, logstore string, id int) error {
	sh, err := s.dataShard(req, logstore, id)
	if err != nil {
		return err
	}
	ts, err := sh.cursorTime(req.query.Get("cursor"), s.unixNow())
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]int64{"cursor_time": ts})
}

// pullLogs serves GET /logstores/{ls}/shards/{id}?type=logs&cursor=&count=[&end_cursor=].
//
// The response is always 200 with x-log-cursor, x-log-count,
// x-log-bodyrawsize and x-log-compresstype (older SDKs require the last
// even for empty responses). x-log-cursor is the exact end_cursor string the
// client sent when the page reaches it, and the exact cursor sent when
// nothing is returned, because clients stop on string equality.
func (s *Server) pullLogs(w http.ResponseWriter, req *request, logstore string, id int) error {
	sh, err := s.dataShard(req, logstore, id)
	if err != nil {
		return err
	}
	q := req.query
	cursor := q.Get("cursor")
	if cursor == "" {
		return newAPIError(http.StatusBadRequest, codeInvalidCursor, "cursor is missing")
	}
	endCursor := q.Get("end_cursor")
	if endCursor == "" {
		endCursor = q.Get("endCursor") // Rust SDK spelling
	}
	count, hasCount, err := atoiParam(q, "count")
	if err != nil {
		return err
	}
	if !hasCount || count < 0 {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "count must be in [0, %d]", maxPullCount)
	}
	count = min(count, maxPullCount)

	pr, err := sh.readRange(cursor, endCursor, count)
	if err != nil {
		return err
	}
	n := len(pr.frames)
	next := cursor
	switch {
	case n == 0:
	case endCursor != "" && pr.start+n == pr.end:
		next = endCursor
	default:
		next = sh.cursorAt(pr.start + n)
	}

	encoding := pullEncoding(req.r.Header.Get("Accept-Encoding"))
	h := w.Header()
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("x-log-cursor", next)
	h.Set("x-log-count", strconv.Itoa(n))
	h.Set("x-log-compresstype", encoding)
	if n == 0 {
		h.Set("x-log-bodyrawsize", "0")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	h.Set("x-log-read-last-cursor", strconv.FormatInt(sh.base+int64(pr.start+n-1), 10))

	size := 0
	for _, f := range pr.frames {
		size += len(f)
	}
	raw := getBuf(size)
	defer putBuf(raw)
	off := 0
	for _, f := range pr.frames {
		off += copy((*raw)[off:], f)
	}
	body, err := compressPull(*raw, encoding)
	if err != nil {
		return err
	}
	defer putBuf(body)
	h.Set("x-log-bodyrawsize", strconv.Itoa(size))
	h.Set("Content-Length", strconv.Itoa(len(*body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*body)
	return nil
}

// putLogs serves PutLogs (POST /logstores/{ls}) and PostLogStoreLogs with a
// hash key (POST /logstores/{ls}/shards/route?key=).
func (s *Server) putLogs(w http.ResponseWriter, req *request, logstore, hashKey string) error {
	if ae := s.fault.take(req.project, logstore); ae != nil {
		return ae
	}
	ls, err := s.store.lookup(req.project, logstore)
	if err != nil && !s.opts.AutoCreate {
		return err
	}
	rawSize, err := strconv.Atoi(req.r.Header.Get("x-log-bodyrawsize"))
	if err != nil || rawSize < 0 {
		return newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
			"x-log-bodyrawsize %q is not a valid size", req.r.Header.Get("x-log-bodyrawsize"))
	}
	if rawSize > maxRawSize {
		return newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge,
			"x-log-bodyrawsize %d exceeds %d", rawSize, maxRawSize)
	}
	frame, err := decodePutBody(req.r.Header.Get("x-log-compresstype"), rawSize, req.body)
	if err != nil {
		return err
	}
	if err := checkGroup(groupOfFrame(frame)); err != nil {
		return err
	}
	if err := checkPutLimits(groupOfFrame(frame)); err != nil {
		return err
	}
	if ls == nil {
		// AutoCreate, and only once the body proved valid, so a bad request
		// leaves no trace.
		ls = s.store.getOrCreate(req.project, logstore, s.unixNow())
	}
	ls.pickShard(hashKey).append(frame, s.unixNow())
	writeOK(w)
	return nil
}

// checkGroup validates LogGroup bytes, mapping problems to PostBodyInvalid.
func checkGroup(raw []byte) error {
	logs, err := validateLogGroup(raw)
	if err != nil {
		return newAPIError(http.StatusBadRequest, codePostBodyInvalid, "malformed LogGroup: %v", err)
	}
	if logs == 0 {
		return newAPIError(http.StatusBadRequest, codePostBodyInvalid, "LogGroup contains no logs")
	}
	return nil
}
