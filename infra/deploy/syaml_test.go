package deploy

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The fc3 schema facts checked here are those of
// shared/reference/fc-runtime-and-s-yaml.md §4–5.

// expectedTriggers is the design's trigger layout (DESIGN.md, "The
// functions"): how many triggers of each type a known function has.
var expectedTriggers = map[string]map[string]int{
	"nat-ingest": {"log": 1},
	"lb-ingest":  {"log": 2},
	"trace":      {"http": 1},
	"onboard":    {"timer": 1},
}

// secretEnv names environment variables that must come from the
// environment (${env('...')}) and never be written in s.yaml.
var secretEnv = regexp.MustCompile(`SECRET|PASSWORD|TOKEN|^REDIS_URL$|ACCESS_KEY`)

// traceMargin is how far the trace function's timeout must exceed
// TRACE_MAX_WAIT: the wait, then recording the result and answering.
const traceMargin = 30 * time.Second

func TestSYAML(t *testing.T) {
	root := moduleRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("s.yaml: %v", err)
	}
	if e := fmt.Sprint(doc["edition"]); e != "3.0.0" {
		t.Errorf("edition is %q, want 3.0.0 (Serverless Devs 3.x)", e)
	}
	if s, _ := doc["name"].(string); s == "" {
		t.Error("name is missing")
	}
	vars, _ := doc["vars"].(map[string]any)
	r := &resolver{vars: vars}
	resources, ok := doc["resources"].(map[string]any)
	if !ok || len(resources) == 0 {
		t.Fatal("resources is missing (fc3 on Serverless Devs 3.x has no services:)")
	}

	functions, pending, err := FunctionDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range functions {
		if _, ok := resources[fn]; !ok {
			t.Errorf("functions/%s has a main.go but s.yaml declares no resource %q", fn, fn)
		}
	}
	names := map[string]string{}
	for key, v := range resources {
		res, _ := v.(map[string]any)
		if c, _ := res["component"].(string); c != "fc3" && !strings.HasPrefix(c, "fc3@") {
			t.Errorf("resource %s: component %q, want fc3", key, c)
			continue
		}
		switch {
		case slices.Contains(functions, key):
		case slices.Contains(pending, key):
			t.Logf("resource %s: functions/%s has no main.go yet (pending); s deploy will fail on its code until it has", key, key)
		default:
			t.Errorf("resource %s: there is no functions/%s/main.go", key, key)
			continue
		}
		t.Run(key, func(t *testing.T) {
			props, _ := res["props"].(map[string]any)
			if props == nil {
				t.Fatal("no props")
			}
			name := checkFunctionProps(t, r, key, props)
			if other, dup := names[name]; dup && name != "" {
				t.Errorf("functionName %q is also %s's", name, other)
			}
			names[name] = key
			checkPreDeploy(t, key, res["actions"])
			checkTriggers(t, r, key, props)
		})
	}
}

func checkFunctionProps(t *testing.T, r *resolver, fn string, props map[string]any) string {
	t.Helper()
	str := func(k string) string {
		v, err := r.value(props[k])
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		s, _ := v.(string)
		return s
	}
	for _, k := range []string{"region", "functionName", "runtime", "handler", "code", "role"} {
		if str(k) == "" {
			t.Errorf("%s is required", k)
		}
	}
	name := str("functionName")
	if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`).MatchString(name) {
		t.Errorf("functionName %q is not a valid FC function name", name)
	}
	if v := str("runtime"); v != "go1" {
		t.Errorf("runtime %q, want go1", v)
	}
	if v := str("handler"); v != "main" {
		t.Errorf("handler %q, want main (the binary at the root of the code package)", v)
	}
	if got, want := path.Clean(str("code")), "dist/"+fn; got != want {
		t.Errorf("code %q, want ./%s, the build output of `make build` for this function", str("code"), want)
	}
	mem := intProp(t, r, props, "memorySize", 128, 32768)
	if mem%64 != 0 {
		t.Errorf("memorySize %d is not a multiple of 64", mem)
	}
	intProp(t, r, props, "timeout", 1, 86400)
	if v, ok := props["cpu"]; ok {
		cpu, err := number(r, v)
		switch {
		case err != nil:
			t.Errorf("cpu: %v", err)
		case cpu < 0.05 || cpu > 16 || math.Abs(cpu*20-math.Round(cpu*20)) > 1e-9:
			t.Errorf("cpu %v: want a multiple of 0.05 in [0.05, 16]", cpu)
		case float64(mem)/1024/cpu < 1 || float64(mem)/1024/cpu > 4:
			t.Errorf("memorySize %d MB for cpu %v: FC wants 1 to 4 GB per vCPU", mem, cpu)
		}
	}
	if v, ok := props["diskSize"]; ok {
		if d, err := number(r, v); err != nil || (d != 512 && d != 10240) {
			t.Errorf("diskSize %v: want 512 or 10240", v)
		}
	}
	vpc, _ := props["vpcConfig"].(map[string]any)
	if vpc == nil {
		t.Error("vpcConfig is required: Redis is reached through the VPC")
	} else {
		for _, k := range []string{"vpcId", "securityGroupId"} {
			if s, _ := mustValue(t, r, vpc[k]).(string); s == "" {
				t.Errorf("vpcConfig.%s is required", k)
			}
		}
		if _, ok := vpc["vswitchIds"]; ok {
			t.Error("vpcConfig.vswitchIds: fc3 spells it vSwitchIds")
		}
		if ids, _ := vpc["vSwitchIds"].([]any); len(ids) == 0 {
			t.Error("vpcConfig.vSwitchIds needs at least one vSwitch")
		}
	}
	if lc, ok := props["logConfig"].(map[string]any); ok {
		for _, k := range []string{"project", "logstore"} {
			if s, _ := mustValue(t, r, lc[k]).(string); s == "" {
				t.Errorf("logConfig.%s is required", k)
			}
		}
	}
	env := checkEnv(t, r, props["environmentVariables"])
	if fn == "trace" {
		wait := 90 * time.Second // the default of DESIGN.md
		if s := env["TRACE_MAX_WAIT"]; s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Errorf("TRACE_MAX_WAIT %q: %v", s, err)
			}
			wait = d
		}
		timeout := time.Duration(intProp(t, r, props, "timeout", 1, 86400)) * time.Second
		if timeout < wait+traceMargin {
			t.Errorf("timeout %v: want at least TRACE_MAX_WAIT %v + %v to record and answer", timeout, wait, traceMargin)
		}
	}
	return name
}

// checkEnv checks environmentVariables and returns them resolved.
func checkEnv(t *testing.T, r *resolver, v any) map[string]string {
	t.Helper()
	envMap, _ := v.(map[string]any)
	if envMap == nil {
		t.Error("environmentVariables is required (REDIS_URL at least)")
		return nil
	}
	out := map[string]string{}
	for k, raw := range envMap {
		if strings.HasPrefix(k, "FC_") {
			t.Errorf("environment variable %s: FC reserves the FC_ prefix", k)
		}
		s, ok := raw.(string)
		if !ok {
			t.Errorf("environment variable %s: %v is a %T; FC takes strings only (quote it)", k, raw, raw)
			continue
		}
		if secretEnv.MatchString(k) {
			if !regexp.MustCompile(`^\$\{env\('[A-Z0-9_]+'(,\s*'')?\)\}$`).MatchString(s) {
				t.Errorf("environment variable %s = %q: a secret comes from ${env('...')} only, never from the file", k, s)
			}
		}
		rv, err := r.value(s)
		if err != nil {
			t.Errorf("environment variable %s: %v", k, err)
		}
		rs, ok := rv.(string)
		if !ok {
			t.Errorf("environment variable %s resolves to a %T, not a string", k, rv)
		}
		out[k] = rs
	}
	if _, ok := out["REDIS_URL"]; !ok {
		t.Error("REDIS_URL is missing: every function needs it (DESIGN.md)")
	}
	return out
}

func checkPreDeploy(t *testing.T, fn string, v any) {
	t.Helper()
	actions, _ := v.(map[string]any)
	steps, _ := actions["pre-deploy"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		run, _ := step["run"].(string)
		if !regexp.MustCompile(`\bmake\b.*\b(build|package)\b`).MatchString(run) {
			continue
		}
		if m := regexp.MustCompile(`FUNCS=("[^"]*"|'[^']*'|\S+)`).FindStringSubmatch(run); m != nil {
			if !slices.Contains(strings.Fields(strings.Trim(m[1], `"'`)), fn) {
				t.Errorf("pre-deploy %q does not build %s", run, fn)
			}
		}
		return
	}
	t.Error("actions.pre-deploy must build the function (make build or make package) so that s deploy ships fresh code")
}

var triggerTypes = []string{"http", "timer", "log", "oss", "mns_topic", "cdn_events", "tablestore", "eventbridge"}

func checkTriggers(t *testing.T, r *resolver, fn string, props map[string]any) {
	t.Helper()
	list, _ := props["triggers"].([]any)
	counts := map[string]int{}
	seen := map[string]bool{}
	for i, raw := range list {
		tr, _ := raw.(map[string]any)
		name, _ := mustValue(t, r, tr["triggerName"]).(string)
		typ, _ := mustValue(t, r, tr["triggerType"]).(string)
		cfg, _ := tr["triggerConfig"].(map[string]any)
		where := fmt.Sprintf("trigger %d (%s)", i, name)
		switch {
		case name == "":
			t.Errorf("%s: triggerName is required", where)
		case seen[name]:
			t.Errorf("%s: triggerName used twice", where)
		}
		seen[name] = true
		if !slices.Contains(triggerTypes, typ) {
			t.Errorf("%s: triggerType %q is not one of %v", where, typ, triggerTypes)
		}
		if cfg == nil {
			t.Errorf("%s: triggerConfig is required", where)
			continue
		}
		counts[typ]++
		switch typ {
		case "log":
			checkLogTrigger(t, r, where, tr, cfg)
		case "timer":
			if b, ok := mustValue(t, r, cfg["enable"]).(bool); !ok {
				t.Errorf("%s: triggerConfig.enable (a boolean) is required", where)
			} else if !b {
				t.Logf("%s: disabled", where)
			}
			cron, _ := mustValue(t, r, cfg["cronExpression"]).(string)
			if err := validCron(cron); err != nil {
				t.Errorf("%s: cronExpression %q: %v", where, cron, err)
			}
			if p, ok := cfg["payload"]; ok {
				if _, ok := p.(string); !ok {
					t.Errorf("%s: payload must be a string", where)
				}
			}
		case "http":
			auth, _ := mustValue(t, r, cfg["authType"]).(string)
			if !slices.Contains([]string{"anonymous", "function", "jwt"}, auth) {
				t.Errorf("%s: authType %q, want anonymous, function or jwt", where, auth)
			}
			methods, _ := cfg["methods"].([]any)
			if len(methods) == 0 {
				t.Errorf("%s: methods is required", where)
			}
			post := false
			for _, m := range methods {
				ms, _ := mustValue(t, r, m).(string)
				if !slices.Contains([]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}, ms) {
					t.Errorf("%s: method %q", where, ms)
				}
				post = post || ms == "POST"
			}
			if !post {
				t.Errorf("%s: alerts are POSTed; methods lacks POST", where)
			}
		}
	}
	if want, ok := expectedTriggers[fn]; ok {
		for typ, n := range want {
			if counts[typ] != n {
				t.Errorf("%d %s trigger(s), want %d (DESIGN.md)", counts[typ], typ, n)
			}
		}
	}
}

var sourceARN = regexp.MustCompile(`^acs:log:[a-z0-9-]+:[^:]+:project/[^/]+$`)

func checkLogTrigger(t *testing.T, r *resolver, where string, tr, cfg map[string]any) {
	t.Helper()
	arn, _ := mustValue(t, r, tr["sourceArn"]).(string)
	if !sourceARN.MatchString(arn) {
		t.Errorf("%s: sourceArn %q, want acs:log:<region>:<account>:project/<project>", where, arn)
	}
	if role, _ := mustValue(t, r, tr["invocationRole"]).(string); role == "" {
		t.Errorf("%s: invocationRole is required (the role SLS runs the trigger with)", where)
	}
	if _, ok := mustValue(t, r, cfg["enable"]).(bool); !ok {
		t.Errorf("%s: triggerConfig.enable (a boolean) is required", where)
	}
	src, _ := cfg["sourceConfig"].(map[string]any)
	source, _ := mustValue(t, r, src["logstore"]).(string)
	if source == "" {
		t.Errorf("%s: sourceConfig.logstore is required", where)
	}
	lc, _ := cfg["logConfig"].(map[string]any)
	project, _ := mustValue(t, r, lc["project"]).(string)
	logstore, _ := mustValue(t, r, lc["logstore"]).(string)
	if project == "" || logstore == "" {
		t.Errorf("%s: logConfig.project and logConfig.logstore are required (where the trigger logs)", where)
	}
	if logstore == source && strings.HasSuffix(arn, "project/"+project) {
		t.Errorf("%s: the trigger would log into the logstore it consumes (%s)", where, source)
	}
	job, _ := cfg["jobConfig"].(map[string]any)
	if job == nil {
		t.Errorf("%s: jobConfig is required", where)
		return
	}
	for k, lim := range map[string][2]float64{"triggerInterval": {3, 600}, "maxRetryTime": {0, 100}} {
		n, err := number(r, job[k])
		if err != nil {
			t.Errorf("%s: jobConfig.%s: %v", where, k, err)
		} else if n != math.Trunc(n) || n < lim[0] || n > lim[1] {
			t.Errorf("%s: jobConfig.%s = %v, want a whole number in [%v, %v]", where, k, n, lim[0], lim[1])
		}
	}
}

var cronRanges = [][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
var cronField = regexp.MustCompile(`^[0-9A-Za-z*?/,\-LW#]+$`)

// validCron accepts FC's 6-field cron (seconds first), optionally with
// CRON_TZ=, and @every <duration>.
func validCron(s string) error {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Minute {
			return fmt.Errorf("@every wants a duration of a minute or more")
		}
		return nil
	}
	if strings.HasPrefix(s, "CRON_TZ=") {
		_, s, _ = strings.Cut(s, " ")
	}
	f := strings.Fields(s)
	if len(f) != 6 {
		return fmt.Errorf("%d fields, want 6 (second minute hour day month weekday)", len(f))
	}
	for i, v := range f {
		if !cronField.MatchString(v) {
			return fmt.Errorf("field %d %q", i+1, v)
		}
		for _, part := range regexp.MustCompile(`[,\-/]`).Split(v, -1) {
			if n, err := strconv.Atoi(part); err == nil && (n < cronRanges[i][0] || n > cronRanges[i][1]) && !(strings.Contains(v, "/") && strings.HasSuffix(v, "/"+part)) {
				return fmt.Errorf("field %d %q: %d outside %v", i+1, v, n, cronRanges[i])
			}
		}
	}
	return nil
}

func TestValidCron(t *testing.T) {
	for _, ok := range []string{"0 */10 * * * *", "0 0 8 * * *", "@every 5m", "CRON_TZ=Asia/Shanghai 0 0 8 * * *", "0 0/5 * * * ?"} {
		if err := validCron(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "*/10 * * * *", "0 61 * * * *", "@every 5s", "0 0 8 * * * *", "0 0 25 * * *"} {
		if validCron(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func intProp(t *testing.T, r *resolver, props map[string]any, k string, lo, hi int) int {
	t.Helper()
	n, err := number(r, props[k])
	if err != nil {
		t.Errorf("%s: %v", k, err)
		return 0
	}
	if n != math.Trunc(n) || n < float64(lo) || n > float64(hi) {
		t.Errorf("%s = %v, want a whole number in [%d, %d]", k, n, lo, hi)
	}
	return int(n)
}

// number reads a YAML number, or a string holding one (the fc3 TS types
// declare some numeric fields as strings).
func number(r *resolver, v any) (float64, error) {
	rv, err := r.value(v)
	if err != nil {
		return 0, err
	}
	switch n := rv.(type) {
	case int:
		return float64(n), nil
	case float64:
		return n, nil
	case string:
		return strconv.ParseFloat(n, 64)
	case nil:
		return 0, fmt.Errorf("missing")
	}
	return 0, fmt.Errorf("%v is a %T, not a number", rv, rv)
}

func mustValue(t *testing.T, r *resolver, v any) any {
	t.Helper()
	rv, err := r.value(v)
	if err != nil {
		t.Error(err)
	}
	return rv
}

// resolver evaluates Serverless Devs' ${...} in strings the way `s` would
// with an empty environment: ${vars.x}, ${env('X')} (an unset variable
// becomes the placeholder "<X>") and ${env('X', 'default')}, and
// ${config('AccountID')}.
type resolver struct {
	vars  map[string]any
	depth int
}

var (
	magic    = regexp.MustCompile(`\$\{([^}]*)\}`)
	envCall  = regexp.MustCompile(`^env\(\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)$`)
	confCall = regexp.MustCompile(`^config\(\s*'([^']*)'\s*\)$`)
)

func (r *resolver) value(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	if r.depth > 10 {
		return nil, fmt.Errorf("%q: variables nest too deep", s)
	}
	if m := magic.FindStringSubmatch(s); m != nil && m[0] == s {
		return r.expr(strings.TrimSpace(m[1]))
	}
	var err error
	out := magic.ReplaceAllStringFunc(s, func(m string) string {
		v, e := r.expr(strings.TrimSpace(m[2 : len(m)-1]))
		if e != nil {
			err = e
		}
		return fmt.Sprint(v)
	})
	return out, err
}

func (r *resolver) expr(e string) (any, error) {
	if name, ok := strings.CutPrefix(e, "vars."); ok {
		v, ok := r.vars[name]
		if !ok {
			return nil, fmt.Errorf("${%s}: no such var", e)
		}
		r.depth++
		defer func() { r.depth-- }()
		return r.value(v)
	}
	if m := envCall.FindStringSubmatch(e); m != nil {
		if strings.Contains(e, ",") {
			return m[2], nil
		}
		return "<" + m[1] + ">", nil
	}
	if m := confCall.FindStringSubmatch(e); m != nil {
		return "<" + m[1] + ">", nil
	}
	return nil, fmt.Errorf("${%s}: not an expression this check understands", e)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
