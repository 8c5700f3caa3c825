package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
	"github.com/ndrtrace/ndrtrace/shared/results"
)

// TestDashboardQueries: every SLS dashboard chart of infra/terraform reads a
// query of local.dashboard_queries kept under the key of its own logstore,
// and each query names only fields of that logstore's index: onboard's for
// the NAT session logstore (IndexKeys), local.result_fields for the results
// logstore, which in turn must index every field shared/results writes.
func TestDashboardQueries(t *testing.T) {
	m := loadModule(t, moduleRoot(t), tfRoot)

	// The indexes.
	index := map[string]map[string]bool{"nat": {}, "results": {}}
	for k := range onboard.IndexKeys(mapping.KindNAT) {
		index["nat"][k] = true
	}
	rf, ok := m.local("result_fields").(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.result_fields must be an object literal")
	}
	for _, it := range rf.Items {
		k, ok := objectKey(it.KeyExpr)
		if !ok {
			t.Fatalf("%s: literal keys only", it.KeyExpr.Range())
		}
		index["results"][k] = true
	}
	for _, f := range writtenResultFields() {
		if !index["results"][f] {
			t.Errorf("shared/results writes %q, which local.result_fields does not index", f)
		}
	}

	// The queries.
	qs, ok := m.local("dashboard_queries").(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.dashboard_queries must be an object literal {logstore key = {name = query}}")
	}
	queries := map[string]map[string]string{}
	for _, it := range qs.Items {
		ls, _ := objectKey(it.KeyExpr)
		if index[ls] == nil {
			t.Errorf("dashboard_queries.%s: no index known for that logstore", ls)
			continue
		}
		v, diags := it.ValueExpr.Value(nil)
		if diags.HasErrors() || !v.Type().IsObjectType() {
			t.Fatalf("dashboard_queries.%s: literal strings only: %v", ls, diags)
		}
		queries[ls] = map[string]string{}
		for k, q := range v.AsValueMap() {
			if q.Type() != cty.String {
				t.Fatalf("dashboard_queries.%s.%s is not a string", ls, k)
			}
			queries[ls][k] = q.AsString()
			for _, f := range queryFields(q.AsString()) {
				if f != "__time__" && !index[ls][f] {
					t.Errorf("dashboard_queries.%s.%s names %q, not a field of the %s logstore's index", ls, k, f, ls)
				}
			}
		}
	}

	// The charts: each reads its own logstore's query; every query is shown.
	used := map[string]bool{}
	dashboards := m.blocksOf("resource", "alicloud_log_dashboard")
	if len(dashboards) < 2 {
		t.Fatalf("%d alicloud_log_dashboard resources, want the surge and the results ones", len(dashboards))
	}
	for _, d := range dashboards {
		charts := 0
		attr, ok := d.Body.Attributes["char_list"]
		if !ok {
			t.Fatalf("dashboard %s: no char_list", d.Labels[1])
		}
		hclsyntax.VisitAll(attr.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
			obj, ok := n.(*hclsyntax.ObjectConsExpr)
			if !ok {
				return nil
			}
			fields := map[string]hclsyntax.Expression{}
			for _, it := range obj.Items {
				if k, ok := objectKey(it.KeyExpr); ok {
					fields[k] = it.ValueExpr
				}
			}
			if fields["query"] == nil {
				return nil
			}
			charts++
			ls := traversal(fields["logstore"])
			q := traversal(fields["query"])
			if len(ls) != 3 || ls[0] != "var" || ls[1] != "logstores" {
				t.Errorf("dashboard %s, %s: logstore must be var.logstores.<key>", d.Labels[1], obj.Range())
				return nil
			}
			if len(q) != 4 || q[0] != "local" || q[1] != "dashboard_queries" || q[2] != ls[2] || queries[q[2]][q[3]] == "" {
				t.Errorf("dashboard %s, %s: query must be local.dashboard_queries.%s.<name> (a query of its logstore), not %v", d.Labels[1], obj.Range(), ls[2], q)
				return nil
			}
			used[q[2]+"."+q[3]] = true
			return nil
		})
		if charts == 0 {
			t.Errorf("dashboard %s has no chart", d.Labels[1])
		}
	}
	for ls, byName := range queries {
		for name := range byName {
			if !used[ls+"."+name] {
				t.Errorf("dashboard_queries.%s.%s is on no dashboard", ls, name)
			}
		}
	}
}

// traversal is a reference's names (var.logstores.nat -> [var logstores nat]).
func traversal(e hclsyntax.Expression) []string {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return nil
	}
	out := []string{st.Traversal.RootName()}
	for _, s := range st.Traversal[1:] {
		if a, ok := s.(hcl.TraverseAttr); ok {
			out = append(out, a.Name)
		}
	}
	return out
}

var (
	dashVar    = regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	sqlString  = regexp.MustCompile(`'[^']*'`)
	identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*\s*\(?`)
	sqlWords   = map[string]bool{"select": true, "from": true, "log": true, "where": true, "group": true, "by": true, "order": true,
		"limit": true, "as": true, "and": true, "or": true, "not": true, "is": true, "null": true, "desc": true, "asc": true,
		"having": true, "in": true, "like": true, "between": true, "case": true, "when": true, "then": true, "else": true,
		"end": true, "distinct": true, "true": true, "false": true}
)

// queryFields lists the fields an SLS query names: the identifiers of its
// SQL that are neither keywords, functions (followed by a parenthesis), nor
// aliases (after AS), once dashboard variables and string literals are
// taken out. The search part before the pipe must be "*".
func queryFields(q string) []string {
	search, sql, ok := strings.Cut(q, "|")
	if !ok || strings.TrimSpace(search) != "*" {
		return []string{"<search part " + strings.TrimSpace(search) + ">"}
	}
	sql = sqlString.ReplaceAllString(dashVar.ReplaceAllString(sql, "x"), "''")
	toks := identifier.FindAllString(sql, -1)
	aliases := map[string]bool{}
	for i, tok := range toks {
		if strings.EqualFold(strings.TrimSpace(tok), "as") && i+1 < len(toks) {
			aliases[strings.TrimSpace(toks[i+1])] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, tok := range toks {
		if strings.HasSuffix(tok, "(") {
			continue // a function
		}
		id := strings.TrimSpace(tok)
		if sqlWords[strings.ToLower(id)] || aliases[id] || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func TestQueryFields(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"* | select date_trunc('minute', __time__) as ts_min, sum(bytes_from_vpc) as total from log where pub_ip = '${{dst_ip|1.2.3.4}}' group by ts_min",
			[]string{"__time__", "bytes_from_vpc", "pub_ip"}},
		{"* | select a, count_if(late is null) as n from (select alert_id as a, max(__time__) - min(__time__) as delay from log group by alert_id) where delay > 1",
			[]string{"__time__", "alert_id", "late"}},
		{"status: traced | select 1", []string{"<search part status: traced>"}},
	} {
		if got := queryFields(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.q, got, tc.want)
		}
	}
}

// writtenResultFields are the fields shared/results writes for a result
// with every field set.
func writtenResultFields() []string {
	r := alert.Result{AlertID: "a", Status: alert.Ambiguous, Reason: "r", WaitedMS: 1,
		Egress:       &alert.Egress{Type: "nat", ID: "ngw-1", PublicIP: "1.2.3.4", PublicPort: 1},
		Asset:        &alert.Asset{PrivateIP: "10.0.0.1", PrivatePort: 1, VPCID: "vpc-1", InstanceID: "i-1", ENIID: "eni-1", AccountID: "1", Region: "r"},
		Candidates:   []alert.Asset{{PrivateIP: "10.0.0.2"}},
		PendingUntil: "t", Late: true, ResolvedAt: "t", Supersedes: alert.Traced, Alert: json.RawMessage(`{}`)}
	var out []string
	for _, lg := range results.Groups([]alert.Result{r}, time.Now()) {
		for _, l := range lg.Logs {
			for _, c := range l.Contents {
				out = append(out, c.GetKey())
			}
		}
	}
	return out
}
