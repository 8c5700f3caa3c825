// Package strictjson checks what encoding/json lets through silently: a key
// repeated in one object (encoding/json keeps the last value, so the first
// is lost without a trace) and nesting deep enough to cost a decoder dearly.
// It does not decode; encoding/json stays the judge of syntax.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax reports input that is not one JSON value. Callers that want a
// precise message ask encoding/json, which is the judge of syntax.
var ErrSyntax = errors.New("not valid JSON")

// DepthError reports nesting deeper than the limit.
type DepthError struct{ Max int }

func (e *DepthError) Error() string {
	return fmt.Sprintf("JSON nested deeper than %d levels", e.Max)
}

// DuplicateKeyError names a key that appears twice in one object. Path is
// the object's place in the document: keys and array indexes ("alerts", "3").
type DuplicateKeyError struct {
	Key  string
	Path []string
}

func (e *DuplicateKeyError) Error() string { return fmt.Sprintf("duplicate key %q", e.Name()) }

// Name is the key with its path, dotted: "src_ip", "detail.port"; an empty
// key is written "".
func (e *DuplicateKeyError) Name() string {
	parts := append(append([]string(nil), e.Path...), e.Key)
	for i, p := range parts {
		if p == "" {
			parts[i] = `""`
		}
	}
	return strings.Join(parts, ".")
}

// Check reads one JSON value (whitespace around it allowed). It returns a
// *DepthError when arrays and objects nest deeper than maxDepth, a
// *DuplicateKeyError for the first key repeated in an object at depth
// dupDepth or less (the top-level object is depth 1; dupDepth 0 checks every
// object), and ErrSyntax for input that is not JSON.
func Check(b []byte, maxDepth, dupDepth int) error {
	s := scanner{b: b, maxDepth: maxDepth, dupDepth: dupDepth}
	s.ws()
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return ErrSyntax
	}
	return nil
}

type scanner struct {
	b                  []byte
	i                  int
	maxDepth, dupDepth int
	path               []string
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if s.i >= len(s.b) {
		return ErrSyntax
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
				s.i += len(lit)
				return nil
			}
		}
		return ErrSyntax
	}
}

func (s *scanner) object(depth int) error {
	if depth > s.maxDepth {
		return &DepthError{Max: s.maxDepth}
	}
	s.i++ // '{'
	check := s.dupDepth == 0 || depth <= s.dupDepth
	// Objects are small (an alert has about ten keys): a slice scanned
	// linearly beats a map until it grows.
	var keys []string
	var set map[string]struct{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return ErrSyntax
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := string(raw[1 : len(raw)-1])
		if escaped {
			// "\u0061" and "a" are one key to a decoder.
			if json.Unmarshal(raw, &key) != nil {
				return ErrSyntax
			}
		}
		if check {
			dup := false
			if set != nil {
				_, dup = set[key]
				set[key] = struct{}{}
			} else {
				for _, k := range keys {
					if k == key {
						dup = true
						break
					}
				}
				keys = append(keys, key)
				if len(keys) > 16 {
					set = make(map[string]struct{}, 2*len(keys))
					for _, k := range keys {
						set[k] = struct{}{}
					}
				}
			}
			if dup {
				return &DuplicateKeyError{Key: key, Path: append([]string(nil), s.path...)}
			}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return ErrSyntax
		}
		s.i++
		s.ws()
		s.path = append(s.path, key)
		err = s.value(depth)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return err
		}
		if done, err := s.after('}'); done || err != nil {
			return err
		}
	}
}

func (s *scanner) array(depth int) error {
	if depth > s.maxDepth {
		return &DepthError{Max: s.maxDepth}
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.ws()
		// Paths name indexes only when a duplicate is reported; formatting
		// one per element would allocate on every alert of a batch.
		s.path = append(s.path, "")
		err := s.value(depth)
		if de, ok := err.(*DuplicateKeyError); ok && len(de.Path) > len(s.path)-1 && de.Path[len(s.path)-1] == "" {
			de.Path[len(s.path)-1] = fmt.Sprint(n)
		}
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return err
		}
		if done, err := s.after(']'); done || err != nil {
			return err
		}
	}
}

// after consumes what follows a member or element: a comma, or the closing
// byte (done).
func (s *scanner) after(closing byte) (done bool, err error) {
	s.ws()
	switch s.peek() {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	default:
		return false, ErrSyntax
	}
}

// str consumes a string and returns it with its quotes, and whether it holds
// an escape.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	start := s.i
	s.i++ // '"'
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start:s.i], escaped, nil
		case c == '\\':
			escaped = true
			s.i++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for k := 0; k < 4; k++ {
					switch c := s.peek(); {
					case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
						s.i++
					default:
						return nil, false, ErrSyntax
					}
				}
			default:
				return nil, false, ErrSyntax
			}
		case c < 0x20:
			return nil, false, ErrSyntax
		default:
			s.i++
		}
	}
	return nil, false, ErrSyntax
}

// number consumes a number in JSON's grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
func (s *scanner) number() error {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return ErrSyntax
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return ErrSyntax
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return ErrSyntax
		}
	}
	return nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}
