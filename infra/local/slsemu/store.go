package slsemu

import (
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// Defaults for logstores the emulator creates on its own (AutoCreate, or
// CreateLogstore with non-positive arguments).
const (
	defaultShards  = 2
	defaultTTLDays = 30
)

// store holds all projects. mu guards the projects map and every project's
// logstores map; a logstore's own state has finer locks so data-plane
// traffic on different logstores and shards does not contend.
type store struct {
	mu       sync.RWMutex
	projects map[string]*project
}

type project struct {
	name        string
	description string
	createTime  int64
	modifyTime  int64
	logstores   map[string]*logstore
}

type logstore struct {
	name   string
	shards []*shard // fixed at creation: shard count never changes
	rr     atomic.Uint64

	mu         sync.Mutex
	meta       map[string]any // last JSON fields written by Create/UpdateLogStore
	ttl        int
	createTime int64
	modifyTime int64
	index      []byte // raw index JSON; nil when there is none
}

func newStore() *store {
	return &store{projects: make(map[string]*project)}
}

func errProjectNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, codeProjectNotExist, "Project %s does not exist", name)
}

func errLogstoreNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, codeLogStoreNotExist, "logstore %s does not exist", name)
}

// createProject adds a project; it reports false if it already existed.
func (st *store) createProject(name, description string, now int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.projects[name]; ok {
		return false
	}
	st.projects[name] = &project{name: name, description: description, createTime: now, modifyTime: now,
		logstores: make(map[string]*logstore)}
	return true
}

// projectInfo is a copy of a project's metadata, safe to use unlocked.
type projectInfo struct {
	name, description      string
	createTime, modifyTime int64
}

func (st *store) getProject(name string) (projectInfo, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	p, ok := st.projects[name]
	if !ok {
		return projectInfo{}, errProjectNotExist(name)
	}
	return projectInfo{p.name, p.description, p.createTime, p.modifyTime}, nil
}

func (st *store) updateProject(name, description string, now int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.projects[name]
	if !ok {
		return errProjectNotExist(name)
	}
	p.description, p.modifyTime = description, now
	return nil
}

func (st *store) deleteProject(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.projects[name]; !ok {
		return errProjectNotExist(name)
	}
	delete(st.projects, name)
	return nil
}

func (st *store) projectNames() []string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return slices.Sorted(maps.Keys(st.projects))
}

func (st *store) logstoreNames(projectName string) ([]string, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	p, ok := st.projects[projectName]
	if !ok {
		return nil, errProjectNotExist(projectName)
	}
	return slices.Sorted(maps.Keys(p.logstores)), nil
}

// lookup finds a logstore, distinguishing a missing project from a missing
// logstore the way the service does.
func (st *store) lookup(projectName, name string) (*logstore, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	p, ok := st.projects[projectName]
	if !ok {
		return nil, errProjectNotExist(projectName)
	}
	ls, ok := p.logstores[name]
	if !ok {
		return nil, errLogstoreNotExist(name)
	}
	return ls, nil
}

func newLogstore(name string, ttl, shards int, meta map[string]any, now int64) *logstore {
	if meta == nil {
		meta = map[string]any{}
	}
	return &logstore{name: name, shards: newShards(shards, now), meta: meta, ttl: ttl,
		createTime: now, modifyTime: now}
}

// createLogstore adds a logstore to an existing project.
func (st *store) createLogstore(projectName string, ls *logstore) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.projects[projectName]
	if !ok {
		return errProjectNotExist(projectName)
	}
	if _, ok := p.logstores[ls.name]; ok {
		return newAPIError(http.StatusBadRequest, codeLogStoreAlreadyExist, "logstore %s already exists", ls.name)
	}
	p.logstores[ls.name] = ls
	return nil
}

// getOrCreate returns the logstore, creating the project and/or logstore
// with defaults when missing (AutoCreate).
func (st *store) getOrCreate(projectName, name string, now int64) *logstore {
	if ls, err := st.lookup(projectName, name); err == nil {
		return ls
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.projects[projectName]
	if !ok {
		p = &project{name: projectName, createTime: now, modifyTime: now, logstores: make(map[string]*logstore)}
		st.projects[projectName] = p
	}
	ls, ok := p.logstores[name]
	if !ok {
		ls = newLogstore(name, defaultTTLDays, defaultShards, nil, now)
		p.logstores[name] = ls
	}
	return ls
}

func (st *store) deleteLogstore(projectName, name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.projects[projectName]
	if !ok {
		return errProjectNotExist(projectName)
	}
	if _, ok := p.logstores[name]; !ok {
		return errLogstoreNotExist(name)
	}
	delete(p.logstores, name)
	return nil
}

func (ls *logstore) shard(id int) (*shard, error) {
	if id < 0 || id >= len(ls.shards) {
		return nil, newAPIError(http.StatusBadRequest, codeShardNotExist, "shard %d does not exist in logstore %s", id, ls.name)
	}
	return ls.shards[id], nil
}

// pickShard chooses the write shard: by hash key when given, otherwise
// round-robin (the service load-balances keyless writes across shards).
func (ls *logstore) pickShard(hashKey string) *shard {
	if hashKey != "" {
		return routeShard(ls.shards, hashKey)
	}
	return ls.shards[int((ls.rr.Add(1)-1)%uint64(len(ls.shards)))]
}

// describe renders the GetLogStore response: the fields last written by the
// client plus the ones the emulator owns.
func (ls *logstore) describe() map[string]any {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := maps.Clone(ls.meta)
	out["logstoreName"] = ls.name
	out["ttl"] = ls.ttl
	out["shardCount"] = len(ls.shards)
	out["createTime"] = ls.createTime
	out["lastModifyTime"] = ls.modifyTime
	return out
}
