package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Actions maps a RAM action ("vpc:DescribeNatGateways") to the places in the
// code that call it ("shared/cloud/nat.go:71").
type Actions map[string][]string

// Names returns the actions, sorted.
func (a Actions) Names() []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a Actions) add(action, site string) {
	for _, s := range a[action] {
		if s == site {
			return
		}
	}
	a[action] = append(a[action], site)
}

// Scan is what the code calls.
type Scan struct {
	// Functions maps each function (functions/<name> with a main.go) to
	// the actions its binary can reach from main and package initialisers.
	Functions map[string]Actions
	// All holds every action called anywhere in the scanned packages
	// (shared/... and functions/...), reachable or not.
	All Actions
}

// ScanActions type-checks the module's packages under functions/ and shared/
// from source (dependencies from the compiler's export data, as `go list
// -export` builds it for linux/amd64 with cgo off, the FC build) and derives
// the cloud API calls each function can make:
//
//   - v1 SDK requests: services/<svc>.Create<Api>Request and the methods of
//     *<svc>.Client give <svc>:<Api>; a requests.CommonRequest gives
//     <Product>:<ApiName> from the constants assigned in the function that
//     creates it (a function may send requests a builder parameter makes);
//   - aliyun-log-go-sdk client methods give the SLS actions of
//     slsMethodActions;
//   - calls into SDKs the tables do not cover are errors.
//
// A function can reach a call when the call sits in a function or method
// reachable from its main (or any package initialiser it links): a
// function is reachable when it is mentioned (called or taken as a value)
// by reachable code; a method when its receiver type is mentioned, so that
// calls through interfaces are covered.
func ScanActions(ctx context.Context, root string) (*Scan, error) {
	return scanPackages(ctx, root, ModulePath+"/functions/", "./functions/...", "./shared/...")
}

// scanPackages scans the packages of patterns; the main packages under
// fnPrefix are the functions.
func scanPackages(ctx context.Context, root, fnPrefix string, patterns ...string) (*Scan, error) {
	pkgs, err := goList(ctx, root, patterns...)
	if err != nil {
		return nil, err
	}
	s := newScanner(root)
	if err := s.check(pkgs); err != nil {
		return nil, err
	}
	if len(s.errs) > 0 {
		return nil, fmt.Errorf("scan: %s", strings.Join(s.errs, "; "))
	}
	out := &Scan{Functions: map[string]Actions{}, All: Actions{}}
	for _, sk := range s.sinks {
		for _, sn := range sk {
			out.All.add(sn.action, sn.site)
		}
	}
	for _, p := range pkgs {
		if !s.inModule(p.ImportPath) || p.Name != "main" || !strings.HasPrefix(p.ImportPath, fnPrefix) {
			continue
		}
		name := strings.TrimPrefix(p.ImportPath, fnPrefix)
		acts := Actions{}
		for key := range s.reach(p) {
			for _, sn := range s.sinks[key] {
				acts.add(sn.action, sn.site)
			}
		}
		out.Functions[name] = acts
	}
	return out, nil
}

// listedPackage is the part of `go list -json` the scanner reads.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Export     string
	GoFiles    []string
	CgoFiles   []string
	Deps       []string
	Standard   bool
	Module     *struct {
		Path, GoVersion string
	}
	Error *struct{ Err string }
}

func goList(ctx context.Context, root string, patterns ...string) ([]*listedPackage, error) {
	// -trimpath like the Makefile's and the local cloud's builds: the
	// compiled dependencies are then shared through the build cache.
	args := append([]string{"list", "-e", "-deps", "-export", "-trimpath",
		"-json=ImportPath,Name,Dir,Export,GoFiles,CgoFiles,Deps,Standard,Module,Error"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	// The FC build: what is compiled for linux/amd64 without cgo is what runs.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []*listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		p := new(listedPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list: package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// initKey stands for a package's initialisation: package-level variable
// initialisers and init functions.
type initKey string

// sink is an API call found in a function body.
type sink struct {
	action string
	site   string
}

// commonRequest collects the CommonRequest fields one function sets.
type commonRequest struct {
	apiNames, products []string
	used               bool // calls ProcessCommonRequest
	creates            bool // calls requests.NewCommonRequest
	pos                token.Pos
}

type scanner struct {
	root  string
	fset  *token.FileSet
	types map[string]*types.Package // module packages checked from source
	// edges[k] are the functions and types the body (or declaration) of k
	// mentions; k is a *types.Func, a *types.TypeName or an initKey.
	edges  map[any][]any
	sinks  map[any][]sink
	common map[any]*commonRequest
	errs   []string
	imp    *moduleImporter
}

func newScanner(root string) *scanner {
	return &scanner{
		root: root, fset: token.NewFileSet(), types: map[string]*types.Package{},
		edges: map[any][]any{}, sinks: map[any][]sink{}, common: map[any]*commonRequest{},
	}
}

func (s *scanner) inModule(path string) bool {
	return path == ModulePath || strings.HasPrefix(path, ModulePath+"/")
}

func (s *scanner) site(pos token.Pos) string {
	p := s.fset.Position(pos)
	if rel, err := filepath.Rel(s.root, p.Filename); err == nil {
		return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), p.Line)
	}
	return fmt.Sprintf("%s:%d", p.Filename, p.Line)
}

func (s *scanner) errorf(pos token.Pos, format string, args ...any) {
	s.errs = append(s.errs, s.site(pos)+": "+fmt.Sprintf(format, args...))
}

// moduleImporter resolves module packages to their source-checked types and
// everything else through export data.
type moduleImporter struct {
	s       *scanner
	exports map[string]string
	gc      types.Importer
}

func (m *moduleImporter) Import(path string) (*types.Package, error) {
	if p, ok := m.s.types[path]; ok {
		return p, nil
	}
	if m.s.inModule(path) {
		return nil, fmt.Errorf("module package %s imported before it was checked", path)
	}
	return m.gc.Import(path)
}

// check type-checks the module packages (go list -deps lists dependencies
// first) and records each one's edges and sinks.
func (s *scanner) check(pkgs []*listedPackage) error {
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
	}
	imp := &moduleImporter{s: s, exports: exports}
	s.imp = imp
	imp.gc = importer.ForCompiler(s.fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, p := range pkgs {
		if !s.inModule(p.ImportPath) {
			continue
		}
		if len(p.CgoFiles) > 0 {
			return fmt.Errorf("package %s uses cgo, which the FC build disables", p.ImportPath)
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(s.fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files = append(files, f)
		}
		conf := types.Config{Importer: imp, Sizes: types.SizesFor("gc", "amd64")}
		if p.Module != nil && p.Module.GoVersion != "" {
			conf.GoVersion = "go" + p.Module.GoVersion
		}
		info := &types.Info{
			Types: map[ast.Expr]types.TypeAndValue{},
			Defs:  map[*ast.Ident]types.Object{},
			Uses:  map[*ast.Ident]types.Object{},
		}
		tp, err := conf.Check(p.ImportPath, s.fset, files, info)
		if err != nil {
			return fmt.Errorf("type-check %s: %w", p.ImportPath, err)
		}
		s.types[p.ImportPath] = tp
		for _, f := range files {
			s.file(tp, info, f)
		}
	}
	s.finishCommonRequests()
	return nil
}

// file records the edges and sinks of one file's declarations.
func (s *scanner) file(pkg *types.Package, info *types.Info, f *ast.File) {
	initNode := initKey(pkg.Path())
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			fn, _ := info.Defs[d.Name].(*types.Func)
			var key any = fn
			if fn == nil || (d.Recv == nil && d.Name.Name == "init") {
				key = initNode
			}
			if d.Body != nil {
				s.body(key, info, d.Body)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch spec := spec.(type) {
				case *ast.ValueSpec:
					for _, v := range spec.Values {
						s.body(initNode, info, v)
					}
				case *ast.TypeSpec:
					if tn, ok := info.Defs[spec.Name].(*types.TypeName); ok {
						// Field and embedded types: promoted methods
						// are reachable through the outer type.
						s.body(tn, info, spec.Type)
					}
				}
			}
		}
	}
}

// body walks a function body (closures included) or an expression.
func (s *scanner) body(key any, info *types.Info, n ast.Node) {
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			switch o := info.Uses[n].(type) {
			case *types.Func:
				o = o.Origin()
				if o.Pkg() != nil && s.inModule(o.Pkg().Path()) {
					s.edges[key] = append(s.edges[key], o)
				} else if o.Pkg() != nil {
					s.external(key, o, n.Pos())
				}
			case *types.TypeName:
				if o.Pkg() != nil && s.inModule(o.Pkg().Path()) {
					s.edges[key] = append(s.edges[key], o)
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) == len(n.Rhs) {
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok {
						s.commonField(key, info, sel.Sel, n.Rhs[i])
					}
				}
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				s.commonField(key, info, id, n.Value)
			}
		}
		return true
	})
}

// commonField records CommonRequest.ApiName and .Product assignments.
func (s *scanner) commonField(key any, info *types.Info, field *ast.Ident, value ast.Expr) {
	v, ok := info.Uses[field].(*types.Var)
	if !ok || !v.IsField() || v.Pkg() == nil || v.Pkg().Path() != v1RequestsPath ||
		(v.Name() != "ApiName" && v.Name() != "Product") {
		return
	}
	cr := s.commonReq(key, field.Pos())
	tv := info.Types[value]
	if tv.Value == nil || tv.Value.Kind() != constant.String {
		s.errorf(value.Pos(), "CommonRequest.%s is not a constant string: the RAM check cannot tell which API is called", v.Name())
		return
	}
	if v.Name() == "ApiName" {
		cr.apiNames = append(cr.apiNames, constant.StringVal(tv.Value))
	} else {
		cr.products = append(cr.products, constant.StringVal(tv.Value))
	}
}

func (s *scanner) commonReq(key any, pos token.Pos) *commonRequest {
	cr := s.common[key]
	if cr == nil {
		cr = &commonRequest{pos: pos}
		s.common[key] = cr
	}
	return cr
}

func (s *scanner) finishCommonRequests() {
	for key, cr := range s.common {
		if len(cr.apiNames) == 0 {
			switch {
			case cr.creates:
				s.errorf(cr.pos, "NewCommonRequest without a constant CommonRequest.ApiName in the same function")
			case cr.used && !takesBuilder(key):
				s.errorf(cr.pos, "ProcessCommonRequest without a constant CommonRequest.ApiName in the same function")
			}
			// A function that sends what a builder parameter makes is
			// covered by the builders: each sets its constants where it
			// creates the request, and is a sink there.
			continue
		}
		products := map[string]bool{}
		for _, p := range cr.products {
			products[strings.ToLower(p)] = true
		}
		if len(products) != 1 {
			s.errorf(cr.pos, "CommonRequest with ApiName %v needs exactly one constant Product in the same function, found %v", cr.apiNames, cr.products)
			continue
		}
		for p := range products {
			svc, ok := v1ServiceRAM[p]
			if !ok {
				s.errorf(cr.pos, "CommonRequest Product %q has no RAM service in v1ServiceRAM", p)
				continue
			}
			for _, api := range cr.apiNames {
				s.sinks[key] = append(s.sinks[key], sink{svc + ":" + api, s.site(cr.pos)})
			}
		}
	}
}

// takesBuilder reports whether the function key has a parameter of type
// func() *requests.CommonRequest: it sends requests its callers build.
func takesBuilder(key any) bool {
	fn, ok := key.(*types.Func)
	if !ok {
		return false
	}
	params := fn.Type().(*types.Signature).Params()
	for i := 0; i < params.Len(); i++ {
		sig, ok := params.At(i).Type().Underlying().(*types.Signature)
		if !ok || sig.Params().Len() != 0 || sig.Results().Len() != 1 {
			continue
		}
		if ptr, ok := sig.Results().At(0).Type().(*types.Pointer); ok {
			if named, ok := ptr.Elem().(*types.Named); ok && named.Obj().Pkg() != nil &&
				named.Obj().Pkg().Path() == v1RequestsPath && named.Obj().Name() == "CommonRequest" {
				return true
			}
		}
	}
	return false
}

// external classifies a mention of a function or method outside the module.
func (s *scanner) external(key any, f *types.Func, pos token.Pos) {
	path := f.Pkg().Path()
	sig, _ := f.Type().(*types.Signature)
	recv := ""
	if sig != nil && sig.Recv() != nil {
		recv = typeName(sig.Recv().Type())
	}
	add := func(action string) { s.sinks[key] = append(s.sinks[key], sink{action, s.site(pos)}) }
	switch {
	case strings.HasPrefix(path, v1ServicesPrefix):
		svc, _, _ := strings.Cut(strings.TrimPrefix(path, v1ServicesPrefix), "/")
		var api string
		if recv == "" {
			if m := createRequest.FindStringSubmatch(f.Name()); m != nil {
				api = m[1]
			}
		} else if recv == "Client" {
			api = v1ClientMethodAPI(f.Name())
		}
		if api == "" {
			return // constructors, endpoint tables, request/response helpers
		}
		prefix, ok := v1ServiceRAM[svc]
		if !ok {
			s.errorf(pos, "%s.%s: SDK service %q has no RAM service in v1ServiceRAM", svc, f.Name(), svc)
			return
		}
		add(prefix + ":" + api)
	case path == v1SDKPath:
		if strings.HasPrefix(f.Name(), "ProcessCommonRequest") {
			s.commonReq(key, pos).used = true
		}
	case path == v1RequestsPath:
		if f.Name() == "NewCommonRequest" {
			s.commonReq(key, pos).creates = true
		}
	case path == v1CredsPath:
		if v1RAMCredentialFunc(f.Name()) {
			add("sts:AssumeRole")
		}
	case path == slsPath:
		if recv == "" || !slsAPIReceivers[recv] || slsLocalMethods[f.Name()] {
			return
		}
		acts, ok := slsMethodActions[f.Name()]
		if !ok {
			s.errorf(pos, "sls %s.%s has no RAM action in slsMethodActions (infra/deploy/ramactions.go)", recv, f.Name())
			return
		}
		for _, a := range acts {
			add(a)
		}
	default:
		for _, p := range unmappedSDKPrefixes {
			if strings.HasPrefix(path, p) {
				s.errorf(pos, "%s.%s: calls into %s are not mapped to RAM actions yet (infra/deploy/ramactions.go)", path, f.Name(), path)
				return
			}
		}
	}
}

// typeName is the name of a (pointer to a) named type, or "".
func typeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Obj().Name()
	}
	return ""
}

// reach returns every key reachable from the package's main and the
// initialisers of the module packages it links.
//
// Functions are reachable when reachable code mentions them. A method is
// reachable when mentioned directly, or when its receiver type is used by
// reachable code and the method implements a method of an interface that
// may be called on it: a module interface whose method is reachable, or any
// interface declared in a linked package outside the module (its own code
// may call it). That is class-hierarchy analysis restricted to used types;
// only reflection escapes it.
func (s *scanner) reach(p *listedPackage) map[any]bool {
	external := s.externalInterfaces(p)
	seen := map[any]bool{}
	var queue []any
	push := func(k any) {
		if k != nil && !seen[k] {
			seen[k] = true
			queue = append(queue, k)
		}
	}
	for _, d := range append([]string{p.ImportPath}, p.Deps...) {
		if s.inModule(d) {
			push(initKey(d))
		}
	}
	if tp := s.types[p.ImportPath]; tp != nil {
		if m, ok := tp.Scope().Lookup("main").(*types.Func); ok {
			push(m)
		}
	}
	for {
		for len(queue) > 0 {
			k := queue[0]
			queue = queue[1:]
			for _, e := range s.edges[k] {
				push(e)
			}
		}
		// Interface methods of the module that reachable code calls.
		called := map[string][]*types.Interface{}
		for k := range seen {
			if f, ok := k.(*types.Func); ok {
				if it := interfaceOf(f); it != nil {
					called[f.Name()] = append(called[f.Name()], it)
				}
			}
		}
		for k := range seen {
			tn, ok := k.(*types.TypeName)
			if !ok {
				continue
			}
			n, ok := types.Unalias(tn.Type()).(*types.Named)
			if !ok || types.IsInterface(n) {
				continue
			}
			for i := range n.NumMethods() {
				m := n.Method(i).Origin()
				if seen[m] {
					continue
				}
				if implementsAny(n, called[m.Name()]) || implementsAny(n, external[m.Name()]) {
					push(m)
				}
			}
		}
		if len(queue) == 0 {
			return seen
		}
	}
}

// interfaceOf returns the interface an interface method belongs to, or nil.
func interfaceOf(f *types.Func) *types.Interface {
	sig, ok := f.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return nil
	}
	it, _ := sig.Recv().Type().Underlying().(*types.Interface)
	return it
}

// implementsAny reports whether n or *n implements one of the interfaces.
// A generic type cannot be checked uninstantiated: it counts as
// implementing.
func implementsAny(n *types.Named, ifaces []*types.Interface) bool {
	if len(ifaces) > 0 && n.TypeParams().Len() > 0 {
		return true
	}
	for _, it := range ifaces {
		if types.Implements(n, it) || types.Implements(types.NewPointer(n), it) {
			return true
		}
	}
	return false
}

// externalInterfaces indexes by method name the named interfaces declared
// in the packages outside the module that p links.
func (s *scanner) externalInterfaces(p *listedPackage) map[string][]*types.Interface {
	out := map[string][]*types.Interface{}
	for _, d := range p.Deps {
		if s.inModule(d) || d == "unsafe" || d == "C" {
			continue
		}
		pkg, err := s.imp.Import(d)
		if err != nil {
			continue // a package without export data (none in practice)
		}
		scope := pkg.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok {
				continue
			}
			it, ok := tn.Type().Underlying().(*types.Interface)
			if !ok {
				continue
			}
			for i := range it.NumMethods() {
				out[it.Method(i).Name()] = append(out[it.Method(i).Name()], it)
			}
		}
	}
	return out
}
