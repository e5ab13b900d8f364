package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// strictJSON rewrites body as AWS's JSON parsers read it before
// encoding/json sees it: invalid UTF-8 anywhere (raw, or an escaped lone
// UTF-16 surrogate such as "\ud800") and a member named twice in one object
// are errors, and member names are case-sensitive (a key that
// matches one of v's fields only when case is ignored is left out, as AWS
// leaves out unknown members, instead of encoding/json's folding
// "ROLEARN" onto roleArn).
func strictJSON(body []byte, v any) ([]byte, error) {
	if !utf8.Valid(body) {
		return nil, &strictError{"Invalid JSON: the request body is not valid UTF-8."}
	}
	if err := checkSurrogates(body); err != nil {
		return nil, err
	}
	if plainObject(body, reflect.TypeOf(v)) {
		return body, nil
	}
	return rewriteJSON(body, v)
}

// rewriteJSON is strictJSON's rewrite: the body decoded to a tree (refusing
// duplicate members), pruned of case-folded member names, encoded again.
func rewriteJSON(body []byte, v any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tree, err := readValue(dec, 0)
	if errors.Is(err, io.EOF) {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return json.Marshal(prune(tree, reflect.TypeOf(v)))
}

// checkSurrogates refuses a string escape of a UTF-16 surrogate that is not
// half of a pair ("\ud800" alone, "\udc00" first): encoding/json would
// decode it to U+FFFD, as it once did invalid bytes. It scans body's
// strings only as far as it needs; the decoder reports syntax errors.
func checkSurrogates(body []byte) error {
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(body):
			i++
			if body[i] != 'u' {
				continue
			}
			r, ok := hex4(body, i+1)
			if !ok {
				continue // a syntax error, the decoder's to report
			}
			i += 4
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return lone(body[i-5 : i+1])
			case r >= 0xd800 && r <= 0xdbff:
				if i+2 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
					return lone(body[i-5 : i+1])
				}
				lo, ok := hex4(body, i+3)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return lone(body[i-5 : i+1])
				}
				i += 6
			}
		}
	}
	return nil
}

// hex4 is the value of the four hexadecimal digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func lone(esc []byte) error {
	return &strictError{fmt.Sprintf("Invalid JSON: %s is a lone UTF-16 surrogate, not a character.", esc)}
}

// strictError is a body AWS's parsers refuse and encoding/json would
// take; its text is the SerializationException's message.
type strictError struct{ msg string }

func (e *strictError) Error() string { return e.msg }

// object is a JSON object with its members in order.
type object struct {
	keys []string
	vals []any
}

func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

const maxDepth = 64

func readValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &strictError{"Invalid JSON: nested too deeply."}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if seen[k] {
					return nil, &strictError{fmt.Sprintf("Invalid JSON: duplicate member %q.", truncate(k, 128))}
				}
				seen[k] = true
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, val)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, val)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// prune drops, from the objects decoded into struct types, the members
// whose names match a field only when case is ignored.
func prune(val any, t reflect.Type) any {
	for t != nil && (t.Kind() == reflect.Pointer) {
		t = t.Elem()
	}
	switch x := val.(type) {
	case *object:
		if t == nil {
			return x
		}
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			out := &object{}
			for i, k := range x.keys {
				ft, exact := fields[k]
				if !exact {
					if folds(fields, k) {
						continue
					}
					ft = nil
				}
				out.keys, out.vals = append(out.keys, k), append(out.vals, prune(x.vals[i], ft))
			}
			return out
		case reflect.Map:
			for i := range x.vals {
				x.vals[i] = prune(x.vals[i], t.Elem())
			}
		}
		return x
	case []any:
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			for i := range x {
				x[i] = prune(x[i], t.Elem())
			}
		}
		return x
	}
	return val
}

// plainObject reports whether body is a JSON object that strictJSON's
// rewrite would leave as it is in meaning, so that it can go to
// encoding/json at once (the rewrite decodes to a tree, prunes it and
// encodes it again: a third of an AssumeRoleForPodIdentity request's CPU):
// valid JSON, one object whose member names have no escapes, each named
// once and exactly as one of t's JSON fields, with no object inside its
// values (where duplicates or case-folded names could hide). body's UTF-8
// and surrogates are checked already.
func plainObject(body []byte, t reflect.Type) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || !json.Valid(body) {
		return false
	}
	fields := cachedFields(t)
	i := SkipJSONSpace(body, 0)
	if body[i] != '{' {
		return false
	}
	var seen [maxPlainMembers]string
	n := 0
	i = SkipJSONSpace(body, i+1)
	if body[i] == '}' {
		return true
	}
	for {
		// body is valid JSON: body[i] opens a member name.
		end := i + 1
		for body[end] != '"' {
			if body[end] == '\\' {
				return false
			}
			end++
		}
		key := string(body[i+1 : end])
		if _, ok := fields[key]; !ok || n == maxPlainMembers {
			return false
		}
		for _, k := range seen[:n] {
			if k == key {
				return false
			}
		}
		seen[n] = key
		n++
		i = SkipJSONSpace(body, SkipJSONSpace(body, end+1)+1) // past ':'
		// The value: no object inside it, up to the ',' or '}' that ends it.
		depth := 0
	value:
		for ; ; i++ {
			switch body[i] {
			case '"':
				for i++; body[i] != '"'; i++ {
					if body[i] == '\\' {
						i++
					}
				}
			case '{':
				return false
			case '[':
				depth++
			case ']':
				depth--
			case ',', '}':
				if depth == 0 {
					break value
				}
			}
		}
		if body[i] == '}' {
			return true
		}
		i = SkipJSONSpace(body, i+1)
	}
}

// maxPlainMembers bounds the members plainObject takes; more take the
// rewrite.
const maxPlainMembers = 16

// SkipJSONSpace is the index of the first byte of b at or after i that is
// not JSON white space (len(b) if none is).
func SkipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// fieldsByType caches jsonFields per struct type.
var fieldsByType sync.Map // reflect.Type -> map[string]reflect.Type

func cachedFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldsByType.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	f := jsonFields(t)
	fieldsByType.Store(t, f)
	return f
}

// jsonFields maps a struct's JSON member names to their types (embedded
// structs' fields included).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func folds(fields map[string]reflect.Type, k string) bool {
	for name := range fields {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}
