package slsemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// Data transformation (ETL) jobs, as aliyun-log-go-sdk drives them on the
// legacy /jobs path (CreateETL, GetETL, UpdateETL, DeleteETL, ListETL,
// StartETL, StopETL). A running job really ships: every new log group of the
// source logstore is transformed by its SPL script and handed to
// Options.ETL, which writes it to the sink (in the local cloud: signed with
// the sink's role, into the sink account's SLS).
//
// The SPL the emulator runs is the subset ndrtrace writes:
//
//	* | extend account_id = '2000000000000002', region = 'cn-shanghai'
//
// Any other script makes the job FAILED, as an invalid script does in the
// service.

// ETL job statuses, as GetETL reports them.
const (
	ETLRunning = "RUNNING"
	ETLStopped = "STOPPED"
	ETLFailed  = "FAILED"
)

// ErrETLDenied marks an error of ETLRuntime that the service would not
// retry (a role missing or not trusted): the job becomes FAILED.
var ErrETLDenied = errors.New("etl: access denied")

// ETLRuntime is what running jobs needs beyond this emulator: the cloud's
// roles and the sinks' SLS.
type ETLRuntime interface {
	// Check reports why a job cannot start (its roles), nil when it can.
	// Wrap ErrETLDenied for a reason the service would not retry.
	Check(job sls.ETL) error
	// Write delivers transformed log groups to a sink.
	Write(ctx context.Context, job sls.ETL, sink sls.ETLSink, groups []*sls.LogGroup) error
}

type etlJob struct {
	project string
	def     sls.ETL
	status  string
	reason  string      // why FAILED, or the last transient write error
	next    map[int]int // shard id -> index of the next frame to ship
	stop    chan struct{}
	done    chan struct{}
	shipped int // log groups delivered
}

type etlState struct {
	mu   sync.Mutex
	jobs map[string]map[string]*etlJob // project -> name -> job
}

var extendRE = regexp.MustCompile(`^\*\s*\|\s*extend\s+(.+)$`)
var assignRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'([^']*)'$`)

// parseSPL reads the fields an "extend" script adds.
func parseSPL(script string) ([][2]string, error) {
	script = strings.TrimSpace(script)
	if script == "*" || script == "" {
		return nil, nil
	}
	m := extendRE.FindStringSubmatch(script)
	if m == nil {
		return nil, fmt.Errorf("slsemu runs only `* | extend k = 'v', ...` scripts, not %q", script)
	}
	var out [][2]string
	for part := range strings.SplitSeq(m[1], ",") {
		a := assignRE.FindStringSubmatch(strings.TrimSpace(part))
		if a == nil {
			return nil, fmt.Errorf("SPL: %q is not name = 'value'", strings.TrimSpace(part))
		}
		out = append(out, [2]string{a[1], a[2]})
	}
	return out, nil
}

// AddCredentials makes the server accept one more key besides the one of
// Options (or SetCredentials): the STS key of a role that writes here, such
// as an ETL job's sink role. Authentication must be on.
func (s *Server) AddCredentials(ak, secret, token string) {
	s.extraCreds.Store(ak, credentials{accessKeyID: ak, accessKeySecret: secret, securityToken: token})
}

// credentialsFor is the key a request must be signed with.
func (s *Server) credentialsFor(ak string, def credentials) credentials {
	if c, ok := s.extraCreds.Load(ak); ok {
		return c.(credentials)
	}
	return def
}

// SetETLInterval sets how often running jobs look for new log groups
// (default 100 ms).
func (s *Server) SetETLInterval(d time.Duration) { s.etlEvery.Store(int64(d)) }

func (s *Server) etlInterval() time.Duration {
	if d := time.Duration(s.etlEvery.Load()); d > 0 {
		return d
	}
	return 100 * time.Millisecond
}

// ETLJob reports a job's status, the reason it failed, and how many log
// groups it delivered; ok is false when there is no such job.
func (s *Server) ETLJob(project, name string) (status, reason string, shipped int, ok bool) {
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	j := s.etl.jobs[project][name]
	if j == nil {
		return "", "", 0, false
	}
	return j.status, j.reason, j.shipped, true
}

// ETLJobs lists the names of a project's jobs, sorted.
func (s *Server) ETLJobs(project string) []string {
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	var out []string
	for n := range s.etl.jobs[project] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SetETLConfiguration changes a job's configuration behind the API's back,
// as a person in the console would (tests of drift repair). The job goes on
// with the new configuration.
func (s *Server) SetETLConfiguration(project, name string, edit func(*sls.ETLConfiguration)) bool {
	s.etl.mu.Lock()
	j := s.etl.jobs[project][name]
	if j == nil {
		s.etl.mu.Unlock()
		return false
	}
	edit(&j.def.Configuration)
	s.etl.mu.Unlock()
	return true
}

// StopAllETL stops every running job (Close of the local cloud).
func (s *Server) StopAllETL() {
	s.etl.mu.Lock()
	var waits []chan struct{}
	for _, jobs := range s.etl.jobs {
		for _, j := range jobs {
			if j.stop != nil {
				close(j.stop)
				waits = append(waits, j.done)
				j.stop = nil
			}
		}
	}
	s.etl.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}

func errJobNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, "JobNotExist", "job %s does not exist", name)
}

// routeETL serves /jobs and /jobs/{name}.
func (s *Server) routeETL(w http.ResponseWriter, req *request) error {
	if req.project == "" {
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "no project in Host %q", req.r.Host)
	}
	if _, err := s.store.getProject(req.project); err != nil {
		return err
	}
	seg := req.segments
	switch {
	case len(seg) == 1 && req.r.Method == http.MethodPost:
		var def sls.ETL
		if err := decodeJSONBody(req.body, &def); err != nil {
			return err
		}
		if err := s.createETL(req.project, def); err != nil {
			return err
		}
		writeOK(w)
		return nil
	case len(seg) == 1 && req.r.Method == http.MethodGet:
		return s.listETL(w, req)
	case len(seg) == 2:
		name := seg[1]
		switch req.r.Method {
		case http.MethodGet:
			def, err := s.getETL(req.project, name)
			if err != nil {
				return err
			}
			return writeJSON(w, def)
		case http.MethodDelete:
			if err := s.deleteETL(req.project, name); err != nil {
				return err
			}
			writeOK(w)
			return nil
		case http.MethodPut:
			var err error
			switch a := req.query.Get("action"); a {
			case "START":
				err = s.startETL(req.project, name)
			case "STOP":
				err = s.stopETL(req.project, name)
			case "":
				var def sls.ETL
				if err = decodeJSONBody(req.body, &def); err == nil {
					def.Name = name
					err = s.updateETL(req.project, def)
				}
			default:
				err = newAPIError(http.StatusBadRequest, codeParameterInvalid, "action %q is not START or STOP", a)
			}
			if err != nil {
				return err
			}
			writeOK(w)
			return nil
		}
	}
	return errMethod(req)
}

func validateETL(def sls.ETL) error {
	c := def.Configuration
	switch {
	case def.Name == "":
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "name is required")
	case c.Logstore == "":
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "configuration.logstore is required")
	case len(c.ETLSinks) == 0:
		return newAPIError(http.StatusBadRequest, codeParameterInvalid, "configuration.sinks is empty")
	}
	for _, sk := range c.ETLSinks {
		if sk.Project == "" || sk.Logstore == "" || sk.Endpoint == "" {
			return newAPIError(http.StatusBadRequest, codeParameterInvalid, "sink %q needs endpoint, project and logstore", sk.Name)
		}
	}
	return nil
}

func (s *Server) createETL(project string, def sls.ETL) error {
	if err := validateETL(def); err != nil {
		return err
	}
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	if s.etl.jobs == nil {
		s.etl.jobs = map[string]map[string]*etlJob{}
	}
	if s.etl.jobs[project] == nil {
		s.etl.jobs[project] = map[string]*etlJob{}
	}
	if s.etl.jobs[project][def.Name] != nil {
		return newAPIError(http.StatusBadRequest, "JobAlreadyExist", "job %s already exists", def.Name)
	}
	now := int32(s.unixNow())
	def.CreateTime, def.LastModifiedTime = now, now
	j := &etlJob{project: project, def: def, next: map[int]int{}}
	s.etl.jobs[project][def.Name] = j
	s.startLocked(j) // creating a job starts it, as in the service
	return nil
}

func (s *Server) getETL(project, name string) (sls.ETL, error) {
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	j := s.etl.jobs[project][name]
	if j == nil {
		return sls.ETL{}, errJobNotExist(name)
	}
	def := j.def
	def.Status = j.status
	// The service never returns secrets it was given.
	def.Configuration.AccessKeySecret = ""
	return def, nil
}

func (s *Server) listETL(w http.ResponseWriter, req *request) error {
	s.etl.mu.Lock()
	var names []string
	for n := range s.etl.jobs[req.project] {
		names = append(names, n)
	}
	s.etl.mu.Unlock()
	sort.Strings(names)
	resp := sls.ListETLResponse{Total: len(names), Results: []*sls.ETL{}}
	for _, n := range names {
		if def, err := s.getETL(req.project, n); err == nil {
			resp.Results = append(resp.Results, &def)
		}
	}
	resp.Count = len(resp.Results)
	return writeJSON(w, resp)
}

func (s *Server) updateETL(project string, def sls.ETL) error {
	if err := validateETL(def); err != nil {
		return err
	}
	s.etl.mu.Lock()
	j := s.etl.jobs[project][def.Name]
	if j == nil {
		s.etl.mu.Unlock()
		return errJobNotExist(def.Name)
	}
	running := j.status == ETLRunning
	s.etl.mu.Unlock()
	if running {
		s.stopJob(j)
	}
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	if j.def.Configuration.Logstore != def.Configuration.Logstore {
		j.next = map[int]int{}
	}
	def.CreateTime, def.LastModifiedTime = j.def.CreateTime, int32(s.unixNow())
	j.def = def
	if running || j.status == ETLFailed {
		s.startLocked(j) // an update restarts the job with the new configuration
	}
	return nil
}

// stopped stops a job's loop and returns the job.
func (s *Server) stopped(project, name string) (*etlJob, error) {
	s.etl.mu.Lock()
	j := s.etl.jobs[project][name]
	s.etl.mu.Unlock()
	if j == nil {
		return nil, errJobNotExist(name)
	}
	s.stopJob(j)
	return j, nil
}

func (s *Server) deleteETL(project, name string) error {
	if _, err := s.stopped(project, name); err != nil {
		return err
	}
	s.etl.mu.Lock()
	delete(s.etl.jobs[project], name)
	s.etl.mu.Unlock()
	return nil
}

func (s *Server) startETL(project, name string) error {
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	j := s.etl.jobs[project][name]
	if j == nil {
		return errJobNotExist(name)
	}
	if j.status != ETLRunning {
		s.startLocked(j)
	}
	return nil
}

func (s *Server) stopETL(project, name string) error {
	j, err := s.stopped(project, name)
	if err != nil {
		return err
	}
	s.etl.mu.Lock()
	j.status = ETLStopped
	s.etl.mu.Unlock()
	return nil
}

// startLocked checks the job as the service does when it starts one and
// runs it. Caller holds s.etl.mu.
func (s *Server) startLocked(j *etlJob) {
	j.reason = ""
	if _, err := parseSPL(j.def.Configuration.Script); err != nil {
		j.status, j.reason = ETLFailed, err.Error()
		return
	}
	if s.opts.ETL == nil {
		j.status, j.reason = ETLFailed, "slsemu: no ETL runtime configured (Options.ETL)"
		return
	}
	if err := s.opts.ETL.Check(j.def); err != nil {
		j.status, j.reason = ETLFailed, err.Error()
		return
	}
	if len(j.next) == 0 && j.def.Configuration.FromTime > 0 {
		if ls, err := s.store.lookup(j.project, j.def.Configuration.Logstore); err == nil {
			for _, sh := range ls.shards {
				sh.mu.RLock()
				j.next[sh.id] = sort.Search(len(sh.recv), func(i int) bool { return sh.recv[i] >= j.def.Configuration.FromTime })
				sh.mu.RUnlock()
			}
		}
	}
	j.status = ETLRunning
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go s.runJob(j, j.stop, j.done)
}

// stopJob stops a running job's loop and waits for it.
func (s *Server) stopJob(j *etlJob) {
	s.etl.mu.Lock()
	stop, done := j.stop, j.done
	j.stop = nil
	s.etl.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

func (s *Server) runJob(j *etlJob, stop, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(s.etlInterval())
	defer t.Stop()
	for {
		if failed := s.shipOnce(ctx, j); failed {
			return
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// shipOnce delivers what is new in the source; true when the job failed for
// good.
func (s *Server) shipOnce(ctx context.Context, j *etlJob) bool {
	s.etl.mu.Lock()
	def := j.def
	next := make(map[int]int, len(j.next))
	for k, v := range j.next {
		next[k] = v
	}
	s.etl.mu.Unlock()
	fail := func(reason string) bool {
		s.etl.mu.Lock()
		j.status, j.reason, j.stop = ETLFailed, reason, nil
		s.etl.mu.Unlock()
		return true
	}
	fields, err := parseSPL(def.Configuration.Script)
	if err != nil {
		return fail(err.Error())
	}
	ls, err := s.store.lookup(j.project, def.Configuration.Logstore)
	if err != nil {
		return fail("source: " + err.Error())
	}
	var groups []*sls.LogGroup
	for _, sh := range ls.shards {
		frames := sh.snapshot()
		for _, f := range frames[min(next[sh.id], len(frames)):] {
			lg := new(sls.LogGroup)
			if err := lg.Unmarshal(groupOfFrame(f)); err != nil {
				continue
			}
			extend(lg, fields)
			groups = append(groups, lg)
		}
		next[sh.id] = len(frames)
	}
	if len(groups) == 0 {
		return false
	}
	for _, sink := range def.Configuration.ETLSinks {
		if err := s.opts.ETL.Write(ctx, def, sink, groups); err != nil {
			if errors.Is(err, ErrETLDenied) {
				return fail(err.Error())
			}
			s.etl.mu.Lock()
			j.reason = err.Error() // retried on the next tick, as the service retries
			s.etl.mu.Unlock()
			return false
		}
	}
	s.etl.mu.Lock()
	j.next, j.reason = next, ""
	j.shipped += len(groups)
	s.etl.mu.Unlock()
	return false
}

// extend sets each field on every log of lg, replacing a value of the same
// key.
func extend(lg *sls.LogGroup, fields [][2]string) {
	for _, l := range lg.Logs {
		for _, f := range fields {
			k, v := f[0], f[1]
			replaced := false
			for _, c := range l.Contents {
				if c.GetKey() == k {
					c.Value = &v
					replaced = true
				}
			}
			if !replaced {
				l.Contents = append(l.Contents, &sls.LogContent{Key: &k, Value: &v})
			}
		}
	}
}

// ETLConfiguration returns a job's configuration as it stands.
func (s *Server) ETLConfiguration(project, name string) (sls.ETLConfiguration, bool) {
	s.etl.mu.Lock()
	defer s.etl.mu.Unlock()
	j := s.etl.jobs[project][name]
	if j == nil {
		return sls.ETLConfiguration{}, false
	}
	return j.def.Configuration, true
}
