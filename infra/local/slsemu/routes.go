package slsemu

import (
	"net/http"
	"strconv"
)

// route maps an SLS REST path onto a handler:
//
//	/                                       project (GET/POST/PUT/DELETE), ListProject without project
//	/logstores                              ListLogStore, CreateLogStore
//	/logstores/{ls}                         Get/Update/DeleteLogStore, PutLogs (POST)
//	/logstores/{ls}/index                   Create/Update/Get/DeleteIndex
//	/logstores/{ls}/logs                    GetLogs (POST, JSON body; SQL only)
//	/logstores/{ls}/shards                  ListShards
//	/logstores/{ls}/shards/route?key=       PostLogStoreLogs with hash key
//	/logstores/{ls}/shards/{id}?type=...    GetCursor, GetCursorTime, PullLogs
//	/jobs, /jobs/{name}[?action=]           ETL jobs (etl.go)
func (s *Server) route(w http.ResponseWriter, req *request) error {
	seg, method := req.segments, req.r.Method
	if len(seg) == 0 {
		switch method {
		case http.MethodGet:
			if req.project == "" {
				return s.listProjects(w, req)
			}
			return s.getProject(w, req)
		case http.MethodPost:
			return s.createProject(w, req)
		case http.MethodPut:
			return s.updateProject(w, req)
		case http.MethodDelete:
			return s.deleteProject(w, req)
		}
		return errMethod(req)
	}
	if seg[0] == "jobs" {
		return s.routeETL(w, req)
	}
	if seg[0] != "logstores" {
		return errUnsupported(req)
	}
	if req.project == "" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid,
			"no project in Host %q: requests must go to {project}.{endpoint}", req.r.Host)
	}
	switch len(seg) {
	case 1:
		switch method {
		case http.MethodGet:
			return s.listLogstores(w, req)
		case http.MethodPost:
			return s.createLogstore(w, req)
		}
	case 2:
		switch method {
		case http.MethodGet:
			return s.getLogstore(w, req, seg[1])
		case http.MethodPut:
			return s.updateLogstore(w, req, seg[1])
		case http.MethodDelete:
			return s.deleteLogstore(w, req, seg[1])
		case http.MethodPost:
			return s.putLogs(w, req, seg[1], "")
		}
	case 3:
		switch seg[2] {
		case "index":
			return s.index(w, req, seg[1])
		case "logs":
			if method == http.MethodPost {
				return s.getLogs(w, req, seg[1])
			}
		case "shards":
			if method == http.MethodGet {
				return s.listShards(w, req, seg[1])
			}
		default:
			return errUnsupported(req)
		}
	case 4:
		if seg[2] != "shards" {
			return errUnsupported(req)
		}
		if seg[3] == "route" {
			if method == http.MethodPost {
				return s.putLogs(w, req, seg[1], req.query.Get("key"))
			}
			return errMethod(req)
		}
		id, err := strconv.Atoi(seg[3])
		if err != nil {
			return newAPIError(http.StatusBadRequest, codeShardNotExist, "shard %q does not exist", seg[3])
		}
		if method != http.MethodGet {
			return errUnsupported(req) // split/merge are not emulated
		}
		return s.shardGet(w, req, seg[1], id)
	default:
		return errUnsupported(req)
	}
	return errMethod(req)
}

// shardGet dispatches on the type parameter of GET /logstores/{ls}/shards/{id}.
func (s *Server) shardGet(w http.ResponseWriter, req *request, logstore string, id int) error {
	switch t := req.query.Get("type"); t {
	case "cursor":
		return s.getCursor(w, req, logstore, id)
	case "cursor_time":
		return s.getCursorTime(w, req, logstore, id)
	case "logs", "log": // the Python SDK sends "log"
		return s.pullLogs(w, req, logstore, id)
	default:
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "unsupported shard request type %q", t)
	}
}

func errMethod(req *request) error {
	return newAPIError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
		"method %s is not supported on %s", req.r.Method, req.r.URL.Path)
}

// errUnsupported is a 4xx (not 5xx) so the SDK fails fast instead of retrying.
func errUnsupported(req *request) error {
	return newAPIError(http.StatusBadRequest, codeParameterInvalid,
		"slsemu does not emulate %s %s", req.r.Method, req.r.URL.Path)
}
