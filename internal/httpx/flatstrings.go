package httpx

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unsafe"
)

// flatStrings decodes body into v in one pass when body is a JSON object
// that strictJSON and encoding/json would decode to the same thing without
// question: each member named once, exactly as one of the JSON names of v's
// top-level string or *string fields, its value a string with no escape and
// no control character, nothing after the object but white space. It
// reports whether it did; otherwise v is untouched and DecodeJSON takes its
// general path. body's UTF-8 is checked already. EKS Auth's request (a
// kilobyte token and three short strings) and the SDKs' usual
// UpdatePodIdentityAssociation (a client request token and a role ARN) are
// such bodies: the general path scans EKS Auth's five times, and decodes
// the Update's by reflection.
func flatStrings(body []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	sv := rv.Elem()
	fields := stringFieldsOf(sv.Type())
	if len(fields) == 0 {
		return false
	}
	var (
		set [maxPlainMembers]struct {
			field flatField
			val   []byte
		}
		n int
	)
	i := SkipJSONSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = SkipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return SkipJSONSpace(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainString(body, i)
		if !ok {
			return false
		}
		f, known := fields[string(key)]
		if !known || n == maxPlainMembers {
			return false
		}
		for _, s := range set[:n] {
			if s.field == f {
				return false // named twice: the general path refuses it
			}
		}
		i = SkipJSONSpace(body, next)
		if i == len(body) || body[i] != ':' {
			return false
		}
		val, next, ok := plainString(body, SkipJSONSpace(body, i+1))
		if !ok {
			return false
		}
		set[n].field, set[n].val = f, val
		n++
		i = SkipJSONSpace(body, next)
		if i == len(body) {
			return false
		}
		if body[i] == '}' {
			if SkipJSONSpace(body, i+1) != len(body) {
				return false
			}
			break
		}
		if body[i] != ',' {
			return false
		}
		i = SkipJSONSpace(body, i+1)
	}
	// The values' bytes in one string and the strings *string fields
	// point to in one array: two allocations, not two a member.
	size, nils := 0, 0
	for _, s := range set[:n] {
		size += len(s.val)
		if s.field.ptr && sv.Field(s.field.index).IsNil() {
			nils++
		}
	}
	all := make([]byte, 0, size)
	for _, s := range set[:n] {
		all = append(all, s.val...)
	}
	vals := unsafe.String(unsafe.SliceData(all), len(all)) // all is not written again
	var pointees []string
	if nils > 0 {
		pointees = make([]string, nils)
	}
	for _, s := range set[:n] {
		val := vals[:len(s.val)]
		vals = vals[len(s.val):]
		f := sv.Field(s.field.index)
		if !s.field.ptr {
			f.SetString(val)
			continue
		}
		// As encoding/json does: into the string f points to, if any.
		if f.IsNil() {
			f.Set(reflect.ValueOf(&pointees[0]))
			pointees = pointees[1:]
		}
		f.Elem().SetString(val)
	}
	return true
}

// plainString reads the JSON string at body[i:] if it has no escape and no
// control character: its contents and the index past its closing quote.
func plainString(body []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// flatField is a field flatStrings sets: its index, and whether it is a
// *string (else a string).
type flatField struct {
	index int
	ptr   bool
}

var (
	stringFieldsByType sync.Map // reflect.Type -> map[string]flatField
	plainStringType    = reflect.TypeFor[string]()
	jsonUnmarshaler    = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler    = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// stringFieldsOf maps the JSON names of t's exported, top-level fields of
// kind string that encoding/json decodes as plain strings (no ",string"
// option, no UnmarshalJSON or UnmarshalText), and of type *string, to
// their indexes. A name two fields share is left out, as encoding/json
// leaves both out.
func stringFieldsOf(t reflect.Type) map[string]flatField {
	if f, ok := stringFieldsByType.Load(t); ok {
		return f.(map[string]flatField)
	}
	out := map[string]flatField{}
	names := map[string]int{} // how many fields have each JSON name
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			// An embedded struct's fields could share or shadow these
			// names: such a type takes the general path.
			clear(out)
			break
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name]++
		if !plainName(name) || strings.Contains(","+opts+",", ",string,") {
			continue
		}
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem() == plainStringType {
			out[name] = flatField{index: i, ptr: true}
			continue
		}
		pt := reflect.PointerTo(f.Type)
		if f.Type.Kind() != reflect.String || pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
			continue
		}
		out[name] = flatField{index: i}
	}
	for name := range out {
		if names[name] > 1 {
			delete(out, name)
		}
	}
	stringFieldsByType.Store(t, out)
	return out
}

// plainName reports whether a JSON tag name is one encoding/json takes as
// it is (letters, digits, '_' and '-'); others take the general path.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return name != ""
}
