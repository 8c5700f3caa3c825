package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

// Terraform modules checked: the root and the member-account role.
const (
	tfRoot   = "infra/terraform"
	tfMember = "infra/terraform/member-role"
)

// tfModule is what the checks read from one module's .tf files.
type tfModule struct {
	dir    string
	files  map[string]*hcl.File
	blocks []*hclsyntax.Block // top-level blocks of every file
}

func loadModule(t *testing.T, root, dir string) *tfModule {
	t.Helper()
	p := hclparse.NewParser()
	m := &tfModule{dir: dir, files: map[string]*hcl.File{}}
	names, err := filepath.Glob(filepath.Join(root, dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("%s: no .tf files", dir)
	}
	for _, name := range names {
		f, diags := p.ParseHCLFile(name)
		if diags.HasErrors() {
			t.Errorf("%s", diags.Error())
			continue
		}
		m.files[name] = f
		m.blocks = append(m.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// blocksOf returns the top-level blocks of a type (and first label).
func (m *tfModule) blocksOf(typ string, label ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && (len(label) == 0 || (len(b.Labels) > 0 && b.Labels[0] == label[0])) {
			out = append(out, b)
		}
	}
	return out
}

// local returns the expression of a local value.
func (m *tfModule) local(name string) hclsyntax.Expression {
	for _, b := range m.blocksOf("locals") {
		if a, ok := b.Body.Attributes[name]; ok {
			return a.Expr
		}
	}
	return nil
}

// statement is one RAM policy statement as written in HCL.
type statement struct {
	effect    string
	actions   []string
	pos       hcl.Range
	resources []hcl.Range // the elements of a literal Resource list
	// conditions maps a literal Condition's operator/key to its values:
	// "StringEquals ram:ServiceName" -> [...].
	conditions map[string][]string
}

// statementsIn finds every object with an Action key under expr (through
// concat(), conditionals, for expressions and references to other locals
// of the module). Action and Effect must be literals: the check cannot
// evaluate variables.
func (m *tfModule) statementsIn(expr hclsyntax.Node) ([]statement, error) {
	return m.statementsVisiting(expr, map[string]bool{})
}

func (m *tfModule) statementsVisiting(expr hclsyntax.Node, visited map[string]bool) ([]statement, error) {
	var out []statement
	var errs []string
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if ref, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && len(ref.Traversal) >= 2 && ref.Traversal.RootName() == "local" {
			if attr, ok := ref.Traversal[1].(hcl.TraverseAttr); ok && !visited[attr.Name] {
				if e := m.local(attr.Name); e != nil {
					visited[attr.Name] = true
					sts, err := m.statementsVisiting(e, visited)
					out = append(out, sts...)
					if err != nil {
						errs = append(errs, err.Error())
					}
				}
			}
			return nil
		}
		obj, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		st := statement{effect: "Allow", pos: obj.SrcRange}
		isStatement := false
		for _, it := range obj.Items {
			key, ok := objectKey(it.KeyExpr)
			if !ok {
				continue
			}
			switch key {
			case "Action":
				isStatement = true
				v, diags := it.ValueExpr.Value(nil)
				if diags.HasErrors() {
					errs = append(errs, fmt.Sprintf("%s: Action is not a literal string or list", it.ValueExpr.Range()))
					continue
				}
				acts, err := stringsOf(v)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: Action: %v", it.ValueExpr.Range(), err))
				}
				st.actions = acts
			case "Resource":
				if tup, ok := it.ValueExpr.(*hclsyntax.TupleConsExpr); ok {
					for _, e := range tup.Exprs {
						st.resources = append(st.resources, e.Range())
					}
				}
			case "Condition":
				st.conditions = map[string][]string{}
				v, diags := it.ValueExpr.Value(nil)
				if diags.HasErrors() || !v.CanIterateElements() {
					errs = append(errs, fmt.Sprintf("%s: Condition is not a literal object", it.ValueExpr.Range()))
					continue
				}
				for op, keys := range v.AsValueMap() {
					for key, vals := range keys.AsValueMap() {
						list, err := stringsOf(vals)
						if err != nil {
							errs = append(errs, fmt.Sprintf("%s: Condition %s %s: %v", it.ValueExpr.Range(), op, key, err))
						}
						st.conditions[op+" "+key] = list
					}
				}
			case "Effect":
				v, diags := it.ValueExpr.Value(nil)
				if diags.HasErrors() || v.Type() != cty.String {
					errs = append(errs, fmt.Sprintf("%s: Effect is not a literal string", it.ValueExpr.Range()))
					continue
				}
				st.effect = v.AsString()
			}
		}
		if isStatement {
			out = append(out, st)
		}
		return nil
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func objectKey(e hclsyntax.Expression) (string, bool) {
	if k := hcl.ExprAsKeyword(e); k != "" {
		return k, true
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || !v.IsKnown() {
		return "", false
	}
	return v.AsString(), true
}

func stringsOf(v cty.Value) ([]string, error) {
	switch {
	case v.Type() == cty.String:
		return []string{v.AsString()}, nil
	case v.Type().IsTupleType() || v.Type().IsListType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.Type() != cty.String {
				return out, fmt.Errorf("an element is %s, not a string", e.Type().FriendlyName())
			}
			out = append(out, e.AsString())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s, not a string or a list of strings", v.Type().FriendlyName())
}

// allowed is the set of actions the Allow statements grant.
func allowed(sts []statement) map[string]bool {
	out := map[string]bool{}
	for _, s := range sts {
		if s.effect == "Allow" {
			for _, a := range s.actions {
				out[a] = true
			}
		}
	}
	return out
}

func TestTerraformParses(t *testing.T) {
	root := moduleRoot(t)
	for _, dir := range []string{tfRoot, tfMember} {
		m := loadModule(t, root, dir)
		// Every variable is described; secrets are marked sensitive.
		for _, v := range m.blocksOf("variable") {
			name := v.Labels[0]
			if _, ok := v.Body.Attributes["description"]; !ok {
				t.Errorf("%s: variable %q has no description", dir, name)
			}
			if regexp.MustCompile(`password|secret|token|access_key`).MatchString(name) {
				s, ok := v.Body.Attributes["sensitive"]
				val, _ := func() (cty.Value, hcl.Diagnostics) {
					if !ok {
						return cty.False, nil
					}
					return s.Expr.Value(nil)
				}()
				if !ok || val != cty.True {
					t.Errorf("%s: variable %q holds a secret: mark it sensitive = true", dir, name)
				}
				if _, ok := v.Body.Attributes["default"]; ok {
					t.Errorf("%s: variable %q holds a secret: no default in the file", dir, name)
				}
			}
		}
		for _, o := range m.blocksOf("output") {
			if _, ok := o.Body.Attributes["description"]; !ok {
				t.Errorf("%s: output %q has no description", dir, o.Labels[0])
			}
		}
	}
	// Outputs that carry the Redis password are sensitive.
	m := loadModule(t, root, tfRoot)
	for _, dir := range []string{tfRoot, tfMember} {
		checkReferences(t, loadModule(t, root, dir))
	}
	for _, o := range m.blocksOf("output") {
		src := string(m.source(t, o.Body.Attributes["value"].Expr.Range()))
		if strings.Contains(src, "redis_url") || strings.Contains(src, "s_env") || strings.Contains(src, "redis_password") {
			if s, ok := o.Body.Attributes["sensitive"]; !ok {
				t.Errorf("output %q exposes the Redis password: mark it sensitive", o.Labels[0])
			} else if v, _ := s.Expr.Value(nil); v != cty.True {
				t.Errorf("output %q exposes the Redis password: mark it sensitive", o.Labels[0])
			}
		}
	}
}

// checkReferences is the part of `terraform validate` that needs no
// provider: every var., local., data. and resource reference names
// something the module declares.
func checkReferences(t *testing.T, m *tfModule) {
	t.Helper()
	declared := map[string]bool{}
	iterators := map[string]bool{"each": true, "count": true, "path": true, "terraform": true, "self": true}
	for _, b := range m.blocks {
		switch b.Type {
		case "variable":
			declared["var."+b.Labels[0]] = true
		case "locals":
			for name := range b.Body.Attributes {
				declared["local."+name] = true
			}
		case "resource":
			declared[b.Labels[0]+"."+b.Labels[1]] = true
		case "data":
			declared["data."+b.Labels[0]+"."+b.Labels[1]] = true
		}
		hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
			if d, ok := n.(*hclsyntax.Block); ok && d.Type == "dynamic" && len(d.Labels) > 0 {
				iterators[d.Labels[0]] = true
			}
			return nil
		})
	}
	for _, b := range m.blocks {
		hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
			a, ok := n.(*hclsyntax.Attribute)
			if !ok || (b.Type == "variable" && a.Name == "type") { // a type constraint, not references
				return nil
			}
			for _, tr := range a.Expr.Variables() {
				root := tr.RootName()
				name := root
				if len(tr) > 1 {
					if at, ok := tr[1].(hcl.TraverseAttr); ok {
						name += "." + at.Name
					}
				}
				if root == "data" && len(tr) > 2 {
					if at, ok := tr[2].(hcl.TraverseAttr); ok {
						name += "." + at.Name
					}
				}
				if iterators[root] || declared[name] {
					continue
				}
				t.Errorf("%s: %s is not declared in %s", tr.SourceRange(), name, m.dir)
			}
			return nil
		})
	}
}

func (m *tfModule) source(t *testing.T, r hcl.Range) []byte {
	f := m.files[r.Filename]
	if f == nil {
		t.Fatalf("no file %s", r.Filename)
	}
	return r.SliceBytes(f.Bytes)
}

// TestSYAMLEnvFromTerraform checks that every ${env('X')} of s.yaml without
// a default is a key of Terraform's dotenv output (or a secret the operator
// provides), so that the names of the two files cannot drift apart.
func TestSYAMLEnvFromTerraform(t *testing.T) {
	root := moduleRoot(t)
	m := loadModule(t, root, tfRoot)
	keys := tfDotenvKeys(t, m)
	raw, err := os.ReadFile(filepath.Join(root, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	operator := map[string]bool{"WEBHOOK_SECRET": true}
	for _, m := range regexp.MustCompile(`\$\{env\('([A-Z0-9_]+)'\)\}`).FindAllStringSubmatch(string(raw), -1) {
		if !keys[m[1]] && !operator[m[1]] {
			t.Errorf("s.yaml reads ${env('%s')} (no default) but `terraform output dotenv` does not write it", m[1])
		}
	}
}

// tfDotenvKeys are the keys of local.s_env: the literal ones, and
// NDRTRACE_ROLE_<FUNCTION> for each of local.functions.
func tfDotenvKeys(t *testing.T, m *tfModule) map[string]bool {
	t.Helper()
	expr := m.local("s_env")
	if expr == nil {
		t.Fatal("infra/terraform: no local s_env (the dotenv output)")
	}
	keys := map[string]bool{}
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok {
			for _, it := range obj.Items {
				if k, ok := objectKey(it.KeyExpr); ok {
					keys[k] = true
				}
			}
		}
		if fe, ok := n.(*hclsyntax.ForExpr); ok && strings.Contains(string(m.source(t, fe.KeyExpr.Range())), "NDRTRACE_ROLE_") {
			for _, f := range tfFunctions(t, m) {
				keys["NDRTRACE_ROLE_"+strings.ToUpper(strings.ReplaceAll(f, "-", "_"))] = true
			}
		}
		return nil
	})
	return keys
}

// tfFunctions is local.functions: the functions Terraform makes roles for.
func tfFunctions(t *testing.T, m *tfModule) []string {
	t.Helper()
	expr := m.local("functions")
	if expr == nil {
		t.Fatal("infra/terraform: no local functions")
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("local.functions is not a literal list: %s", diags.Error())
	}
	fs, err := stringsOf(v)
	if err != nil {
		t.Fatalf("local.functions: %v", err)
	}
	return fs
}

// ramPolicies is every RAM policy of the two modules, classified.
type ramPolicies struct {
	function map[string][]statement // local.function_policies, by function
	member   []statement            // member-role's policy
	trigger  []statement            // the SLS trigger role's policy
	etlSink  []statement            // the role ETL jobs write the central logstores with
	etlRead  []statement            // the roles ETL jobs read their sources with (both modules)
	all      []statement            // every statement anywhere, trust policies included
}

func loadRAMPolicies(t *testing.T, root string) *ramPolicies {
	t.Helper()
	rp := &ramPolicies{function: map[string][]statement{}}
	main, member := loadModule(t, root, tfRoot), loadModule(t, root, tfMember)

	fp := main.local("function_policies")
	obj, ok := fp.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("infra/terraform: local.function_policies must be an object literal {function = [statements]}")
	}
	for _, it := range obj.Items {
		fn, ok := objectKey(it.KeyExpr)
		if !ok {
			t.Fatalf("%s: function_policies keys must be literal function names", it.KeyExpr.Range())
		}
		sts, err := main.statementsIn(it.ValueExpr)
		if err != nil {
			t.Error(err)
		}
		rp.function[fn] = sts
	}

	for _, m := range []*tfModule{main, member} {
		for _, b := range m.blocksOf("resource", "alicloud_ram_policy") {
			name := b.Labels[1]
			doc, ok := b.Body.Attributes["policy_document"]
			if !ok {
				t.Errorf("%s: alicloud_ram_policy.%s has no policy_document", m.dir, name)
				continue
			}
			if call, ok := doc.Expr.(*hclsyntax.FunctionCallExpr); !ok || call.Name != "jsonencode" {
				t.Errorf("%s: alicloud_ram_policy.%s: write policy_document as jsonencode({...}) so that its actions can be checked", m.dir, name)
				continue
			}
			sts, err := m.statementsIn(doc.Expr)
			if err != nil {
				t.Error(err)
			}
			forEach := ""
			if fe, ok := b.Body.Attributes["for_each"]; ok {
				forEach = string(m.source(t, fe.Expr.Range()))
			}
			switch {
			case m == main && strings.HasPrefix(forEach, "local.function_policies"):
				if len(sts) > 0 {
					t.Errorf("%s: alicloud_ram_policy.%s: write the function statements in local.function_policies only", m.dir, name)
				}
			case m == main && name == "sls_trigger":
				rp.trigger = append(rp.trigger, sts...)
			case m == main && name == "etl_sink":
				rp.etlSink = append(rp.etlSink, sts...)
			case name == "etl_reader":
				rp.etlRead = append(rp.etlRead, sts...)
			case m == member:
				rp.member = append(rp.member, sts...)
			default:
				t.Errorf("%s: alicloud_ram_policy.%s is neither a function's, the member role's nor the SLS trigger role's: teach TestRAMPolicies what it is for", m.dir, name)
			}
		}
		// Every statement of every block, trust policies included.
		for _, b := range m.blocks {
			hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				if a, ok := n.(*hclsyntax.Attribute); ok {
					sts, _ := m.statementsIn(a.Expr)
					rp.all = append(rp.all, sts...)
					if tpl, ok := a.Expr.(*hclsyntax.TemplateExpr); ok && strings.Contains(string(m.source(t, tpl.SrcRange)), `"Action"`) {
						t.Errorf("%s: a policy written as a JSON string cannot be checked: use jsonencode({...})", tpl.SrcRange)
					}
				}
				return nil
			})
		}
	}
	return rp
}

func TestRAMPolicies(t *testing.T) {
	root := moduleRoot(t)
	scan := scanActions(t)
	rp := loadRAMPolicies(t, root)
	functions, pending, err := FunctionDirs(root)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no wildcard actions", func(t *testing.T) {
		for _, s := range rp.all {
			for _, a := range s.actions {
				if strings.Contains(a, "*") {
					t.Errorf("%s: action %q: grant the actions the code calls, never a wildcard", s.pos, a)
				}
			}
		}
	})

	t.Run("service-linked roles of the log-delivery services only", func(t *testing.T) {
		want := onboard.ServiceLinkedRoleServices()
		sts := slices.Clone(rp.all)
		for _, fs := range rp.function {
			sts = append(sts, fs...)
		}
		seen := 0
		for _, s := range sts {
			if s.effect != "Allow" || !slices.Contains(s.actions, "ram:CreateServiceLinkedRole") {
				continue
			}
			seen++
			got := slices.Sorted(slices.Values(s.conditions["StringEquals ram:ServiceName"]))
			if len(s.actions) != 1 || !slices.Equal(got, want) {
				t.Errorf("%s: ram:CreateServiceLinkedRole alone, with Condition StringEquals ram:ServiceName = %q (what onboard creates); got actions %v, services %q",
					s.pos, want, s.actions, got)
			}
		}
		if seen < 2 {
			t.Errorf("%d statements grant ram:CreateServiceLinkedRole; want onboard's and the member role's", seen)
		}
	})

	t.Run("function roles", func(t *testing.T) {
		main := loadModule(t, root, tfRoot)
		withRole := tfFunctions(t, main)
		for _, fn := range functions {
			if !slices.Contains(withRole, fn) {
				t.Errorf("functions/%s has no role: add it to local.functions in %s", fn, tfRoot)
			}
			sts, ok := rp.function[fn]
			need := scan.Functions[fn]
			if !ok && len(need) > 0 {
				t.Errorf("functions/%s calls %v but local.function_policies has no entry for it", fn, need.Names())
				continue
			}
			compare(t, "function "+fn, allowed(sts), need)
		}
		for fn, sts := range rp.function {
			switch {
			case slices.Contains(functions, fn):
			case slices.Contains(pending, fn):
				t.Logf("function_policies[%q]: functions/%s has no main.go yet; checked against every call in the tree", fn, fn)
				beyond(t, "function "+fn, allowed(sts), scan.All)
			default:
				t.Errorf("function_policies[%q]: there is no functions/%s", fn, fn)
			}
		}
	})

	t.Run("member role", func(t *testing.T) {
		// Functions that assume the member role do there what they do at
		// home, less STS and the central logstores.
		need := Actions{}
		var assumers []string
		for _, fn := range functions {
			acts := scan.Functions[fn]
			if _, ok := acts["sts:AssumeRole"]; !ok {
				continue
			}
			assumers = append(assumers, fn)
			for a, sites := range acts {
				if !strings.HasPrefix(a, "sts:") && !dataPlaneActions[a] {
					for _, s := range sites {
						need.add(a, s)
					}
				}
			}
		}
		if len(assumers) == 0 {
			t.Logf("no function calls sts:AssumeRole yet: the member role is checked against every call in the tree")
			for a := range allowed(rp.member) {
				if strings.HasPrefix(a, "sts:") || dataPlaneActions[a] {
					t.Errorf("member role grants %s, which only the central account needs", a)
				}
			}
			beyond(t, "member role", allowed(rp.member), scan.All)
			return
		}
		t.Logf("functions that assume the member role: %v", assumers)
		compare(t, "member role", allowed(rp.member), need)
	})

	t.Run("etl roles", func(t *testing.T) {
		// The sink role appends to exactly the central input logstores.
		main := loadModule(t, root, tfRoot)
		var resources []string
		for _, st := range rp.etlSink {
			for _, r := range st.resources {
				resources = append(resources, string(main.source(t, r)))
			}
		}
		if got := allowed(rp.etlSink); len(got) != 1 || !got["log:PostLogStoreLogs"] {
			t.Errorf("ETL sink role grants %v, want exactly log:PostLogStoreLogs", got)
		}
		slices.Sort(resources)
		if want := []string{"local.logstore_arn.alb", "local.logstore_arn.clb", "local.logstore_arn.nat"}; !slices.Equal(resources, want) {
			t.Errorf("ETL sink role writes %v, want exactly %v", resources, want)
		}
		got := allowed(rp.etlRead)
		for a := range got {
			if !etlReadActions[a] {
				t.Errorf("ETL reader role grants %s, which consuming a logstore does not need", a)
			}
		}
		for _, a := range []string{"log:ListShards", "log:GetCursorOrData"} {
			if !got[a] {
				t.Errorf("ETL reader role lacks %s", a)
			}
		}
	})

	t.Run("sls trigger role", func(t *testing.T) {
		got := allowed(rp.trigger)
		for a := range got {
			if !triggerRoleActions[a] {
				t.Errorf("SLS trigger role grants %s, which running a log trigger does not need", a)
			}
		}
		for _, a := range []string{"fc:InvokeFunction", "log:GetCursorOrData", "log:ListShards"} {
			if !got[a] {
				t.Errorf("SLS trigger role lacks %s", a)
			}
		}
	})
}

// compare fails on actions the code calls that the policy lacks, and on
// actions the policy grants that the code never calls.
func compare(t *testing.T, who string, granted map[string]bool, need Actions) {
	t.Helper()
	for _, a := range need.Names() {
		if !granted[a] {
			t.Errorf("%s: the code calls %s (%s) but the policy does not grant it", who, a, strings.Join(need[a], ", "))
		}
	}
	var extra []string
	for a := range granted {
		if _, ok := need[a]; !ok {
			extra = append(extra, a)
		}
	}
	sort.Strings(extra)
	for _, a := range extra {
		t.Errorf("%s: the policy grants %s but the code never calls it", who, a)
	}
}

// beyond fails on granted actions no code in the tree calls.
func beyond(t *testing.T, who string, granted map[string]bool, all Actions) {
	t.Helper()
	for a := range granted {
		if _, ok := all[a]; !ok {
			t.Errorf("%s: the policy grants %s but no code in the tree calls it", who, a)
		}
	}
}
