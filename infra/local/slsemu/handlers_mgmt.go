package slsemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Management plane: projects, logstores, indexes, shard listing. These are
// JSON APIs; bodies are parsed leniently and echoed back where the SDK reads
// them, because provisioning code is tested by reading its results back.

// projectJSON is the GetProject shape. The SDK's LogProject declares
// createTime/lastModifyTime as JSON strings, so numbers would fail to decode.
type projectJSON struct {
	Name           string `json:"projectName"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	Owner          string `json:"owner"`
	Region         string `json:"region"`
	CreateTime     string `json:"createTime"`
	LastModifyTime string `json:"lastModifyTime"`
}

func toProjectJSON(p projectInfo) projectJSON {
	return projectJSON{
		Name: p.name, Description: p.description, Status: "Normal", Region: "local",
		CreateTime:     strconv.FormatInt(p.createTime, 10),
		LastModifyTime: strconv.FormatInt(p.modifyTime, 10),
	}
}

func decodeJSONBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "request body is not valid JSON: %v", err)
	}
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, req *request) error {
	var body struct {
		Name        string `json:"projectName"`
		Description string `json:"description"`
	}
	if len(req.body) > 0 {
		if err := decodeJSONBody(req.body, &body); err != nil {
			return err
		}
	}
	name := req.project
	if name == "" {
		name = body.Name
	}
	if name == "" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "project name is missing")
	}
	if !s.store.createProject(name, body.Description, s.unixNow()) {
		return newAPIError(http.StatusBadRequest, codeProjectAlreadyExist, "project %s already exists", name)
	}
	writeOK(w)
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, req *request) error {
	p, err := s.store.getProject(req.project)
	if err != nil {
		return err
	}
	return writeJSON(w, toProjectJSON(p))
}

func (s *Server) updateProject(w http.ResponseWriter, req *request) error {
	var body struct {
		Description string `json:"description"`
	}
	if err := decodeJSONBody(req.body, &body); err != nil {
		return err
	}
	if err := s.store.updateProject(req.project, body.Description, s.unixNow()); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, req *request) error {
	if err := s.store.deleteProject(req.project); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *Server) listProjects(w http.ResponseWriter, req *request) error {
	names := s.store.projectNames()
	page, err := paginate(req, names)
	if err != nil {
		return err
	}
	projects := make([]projectJSON, 0, len(page))
	for _, name := range page {
		if p, err := s.store.getProject(name); err == nil {
			projects = append(projects, toProjectJSON(p))
		}
	}
	return writeJSON(w, map[string]any{"projects": projects, "count": len(projects), "total": len(names)})
}

// paginate applies the offset/size query parameters of list APIs.
func paginate(req *request, names []string) ([]string, error) {
	offset, _, err := atoiParam(req.query, "offset")
	if err != nil {
		return nil, err
	}
	size, hasSize, err := atoiParam(req.query, "size")
	if err != nil {
		return nil, err
	}
	offset = min(max(offset, 0), len(names))
	names = names[offset:]
	if hasSize && size > 0 && size < len(names) {
		names = names[:size]
	}
	return names, nil
}

func (s *Server) listLogstores(w http.ResponseWriter, req *request) error {
	names, err := s.store.logstoreNames(req.project)
	if err != nil {
		return err
	}
	page, err := paginate(req, names)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"count": len(page), "total": len(names), "logstores": page})
}

// logstoreFields are the logstore settings the emulator interprets; every
// other field is stored and echoed back verbatim by GetLogStore.
type logstoreFields struct {
	Name       string `json:"logstoreName"`
	TTL        int    `json:"ttl"`
	ShardCount int    `json:"shardCount"`
}

func parseLogstoreBody(body []byte) (logstoreFields, map[string]any, error) {
	var f logstoreFields
	var meta map[string]any
	if err := decodeJSONBody(body, &f); err != nil {
		return f, nil, err
	}
	if err := decodeJSONBody(body, &meta); err != nil {
		return f, nil, err
	}
	return f, meta, nil
}

func (s *Server) createLogstore(w http.ResponseWriter, req *request) error {
	f, meta, err := parseLogstoreBody(req.body)
	if err != nil {
		return err
	}
	switch {
	case f.Name == "":
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "logstoreName is missing")
	case f.ShardCount <= 0:
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "shardCount must be positive, got %d", f.ShardCount)
	case f.TTL <= 0:
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "ttl must be positive, got %d", f.TTL)
	}
	if err := s.store.createLogstore(req.project, newLogstore(f.Name, f.TTL, f.ShardCount, meta, s.unixNow())); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *Server) getLogstore(w http.ResponseWriter, req *request, name string) error {
	ls, err := s.store.lookup(req.project, name)
	if err != nil {
		return err
	}
	return writeJSON(w, ls.describe())
}

// updateLogstore merges the new settings. shardCount is ignored, as on the
// service, where shards change only by split/merge.
func (s *Server) updateLogstore(w http.ResponseWriter, req *request, name string) error {
	ls, err := s.store.lookup(req.project, name)
	if err != nil {
		return err
	}
	f, meta, err := parseLogstoreBody(req.body)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for k, v := range meta {
		ls.meta[k] = v
	}
	if f.TTL > 0 {
		ls.ttl = f.TTL
	}
	ls.modifyTime = s.unixNow()
	writeOK(w)
	return nil
}

func (s *Server) deleteLogstore(w http.ResponseWriter, req *request, name string) error {
	if err := s.store.deleteLogstore(req.project, name); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// shardJSON matches sls.Shard (note the SDK's odd "exclusiveEndKey" tag).
type shardJSON struct {
	ShardID           int    `json:"shardID"`
	Status            string `json:"status"`
	InclusiveBeginKey string `json:"inclusiveBeginKey"`
	ExclusiveEndKey   string `json:"exclusiveEndKey"`
	CreateTime        int64  `json:"createTime"`
}

func (s *Server) listShards(w http.ResponseWriter, req *request, name string) error {
	ls, err := s.store.lookup(req.project, name)
	if err != nil {
		return err
	}
	out := make([]shardJSON, len(ls.shards))
	for i, sh := range ls.shards {
		end := maxKeyHex
		if i+1 < len(ls.shards) {
			end = keyHex(ls.shards[i+1].beginKey)
		}
		out[i] = shardJSON{ShardID: sh.id, Status: "readwrite", InclusiveBeginKey: keyHex(sh.beginKey),
			ExclusiveEndKey: end, CreateTime: sh.createTime}
	}
	return writeJSON(w, out)
}

// index serves /logstores/{ls}/index. The index config is stored as the raw
// JSON the client sent and returned verbatim.
func (s *Server) index(w http.ResponseWriter, req *request, name string) error {
	ls, err := s.store.lookup(req.project, name)
	if err != nil {
		return err
	}
	method := req.r.Method
	switch method {
	case http.MethodPost, http.MethodPut:
		if !json.Valid(req.body) || !bytes.HasPrefix(bytes.TrimSpace(req.body), []byte("{")) {
			return newAPIError(http.StatusBadRequest, codeParameterInvalid, "index config must be a JSON object")
		}
	case http.MethodGet, http.MethodDelete:
	default:
		return errMethod(req)
	}
	idx, err := ls.indexOp(method, req.body)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		writeOK(w)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(idx)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(idx)
	return nil
}

// indexOp applies an index API call under the logstore lock and returns the
// current index for GET. Stored index slices are replaced, never modified,
// so the returned slice may be used after the lock is released.
func (ls *logstore) indexOp(method string, body []byte) ([]byte, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	exists := ls.index != nil
	if method == http.MethodPost && exists {
		return nil, newAPIError(http.StatusBadRequest, codeIndexAlreadyExist, "index config of logstore %s already exists", ls.name)
	}
	if method != http.MethodPost && !exists {
		return nil, newAPIError(http.StatusNotFound, codeIndexConfigNotExist, "index config of logstore %s does not exist", ls.name)
	}
	switch method {
	case http.MethodPost, http.MethodPut:
		ls.index = bytes.Clone(body)
	case http.MethodDelete:
		ls.index = nil
	}
	return ls.index, nil
}
