package openapiemu

import (
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
)

// params are a request's parameters (first value of each).
type params map[string]string

// intIn parses an optional integer parameter within [lo, hi].
func (p params) intIn(name string, def, lo, hi int) (int, *apiError) {
	v, ok := p[name]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalid(name, "not an integer")
	}
	if n < lo || n > hi {
		return 0, invalid(name, "must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
	}
	return n, nil
}

// list reads a repeated parameter: name.1, name.2, ... as the v1 SDK
// flattens *[]string.
func (p params) list(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// has reports whether any parameter starts with prefix.
func (p params) has(prefix string) bool {
	for k := range p {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// page slices items for PageNumber/PageSize paging.
func page[T any](items []T, number, size int) []T {
	start := (number - 1) * size
	if start >= len(items) {
		return nil
	}
	end := min(start+size, len(items))
	return items[start:end]
}

// tokenPage slices items for NextToken/MaxResults paging; the token is an
// opaque encoding of the next offset.
func tokenPage[T any](items []T, token string, limit int) ([]T, string, bool) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.HasPrefix(string(raw), "o:") {
			return nil, "", false
		}
		n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
		if err != nil || n < 0 || n > len(items) {
			return nil, "", false
		}
		start = n
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	return items[start:end], next, true
}

// sortedByID returns the map's values for one account and region in ID order,
// the stable order paging needs.
func sortedByID[T any](m map[resKey]*T, account, region string, keep func(*T) bool) []*T {
	var keys []resKey
	for k := range m {
		if k.account == account && k.region == region {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].id < keys[j].id })
	var out []*T
	for _, k := range keys {
		if v := m[k]; keep == nil || keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func tagList(tags map[string]string, keyName, valueName string) []map[string]string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]string{keyName: k, valueName: tags[k]})
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
