package eksapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// clusterMembers are the JSON member names Cluster models itself; a member
// of Extra with one of these names (in any letter case, as encoding/json
// matches names) is dropped, so the typed field always wins.
var clusterMembers = jsonMemberNames(reflect.TypeFor[Cluster]())

// jsonMemberNames lists the JSON names of t's exported, tagged fields.
func jsonMemberNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	return names
}

func isClusterMember(key string) bool {
	for _, m := range clusterMembers {
		if strings.EqualFold(key, m) {
			return true
		}
	}
	return false
}

// MarshalJSON writes the cluster object: the typed members, then the members
// of Extra that Cluster does not model itself. Extra must be empty, null or a
// JSON object.
func (c Cluster) MarshalJSON() ([]byte, error) {
	type plain Cluster
	known, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	if b, ok := appendExtraFast(known, c.Extra); ok {
		return b, nil
	}
	extra, err := extraMembers(c.Extra)
	if err != nil || len(extra) == 0 {
		return known, err
	}
	var buf bytes.Buffer
	buf.Write(known[:len(known)-1]) // drop the closing brace
	first := len(known) == 2        // "{}"
	for _, k := range sortedKeys(extra) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k) // a string always marshals
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// extraMember is one top-level member of an Extra object: its key (without
// quotes) and its value, as spans of the object's bytes.
type extraMember struct{ key, value []byte }

// maxFastMembers bounds the members appendExtraFast handles (the stored
// cluster config has five at most); more take the general path.
const maxFastMembers = 16

// appendExtraFast is MarshalJSON's merge of Extra without decoding it, for
// the common case: a valid JSON object whose keys are plain ASCII (no
// escapes, nothing json.Marshal would escape), unique among those Cluster
// does not model (it drops the others), and whose values hold no
// whitespace outside strings. It appends
// those members, sorted by key, to known (a JSON object) and reports true;
// the output is then byte for byte what the general path writes. Any other
// Extra reports false and is left to the general path, which also reports
// the errors.
func appendExtraFast(known []byte, raw json.RawMessage) ([]byte, bool) {
	raw = raw[skipSpace(raw, 0):]
	for len(raw) > 0 && isSpace(raw[len(raw)-1]) {
		raw = raw[:len(raw)-1]
	}
	if len(raw) == 0 || string(raw) == "null" {
		return known, true
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return nil, false
	}
	var buf [maxFastMembers]extraMember
	members := buf[:0]
	i := skipSpace(raw, 1)
	if raw[i] == '}' {
		return known, true
	}
	for {
		// raw is valid JSON: raw[i] opens the key string.
		start := i + 1
		end := start
		for raw[end] != '"' {
			c := raw[end]
			if c == '\\' || c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' {
				return nil, false
			}
			end++
		}
		key := raw[start:end]
		i = skipSpace(raw, end+1) + 1 // past ':'
		i = skipSpace(raw, i)
		vstart := i
		vend, ok := skipCompactValue(raw, i)
		if !ok {
			return nil, false
		}
		// A member Cluster models is dropped, as the general path drops
		// it (podid's stored config holds certificateAuthority).
		if !isClusterMember(string(key)) {
			if len(members) == maxFastMembers {
				return nil, false
			}
			members = append(members, extraMember{key, raw[vstart:vend]})
		}
		i = skipSpace(raw, vend)
		if raw[i] == '}' {
			break
		}
		i = skipSpace(raw, i+1) // past ','
	}
	// Insertion sort: a handful of members.
	for a := 1; a < len(members); a++ {
		for b := a; b > 0 && bytes.Compare(members[b-1].key, members[b].key) > 0; b-- {
			members[b-1], members[b] = members[b], members[b-1]
		}
	}
	n := len(known)
	for a, m := range members {
		if a > 0 && bytes.Equal(members[a-1].key, m.key) {
			return nil, false // duplicates: the general path keeps the last
		}
		n += len(m.key) + len(m.value) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, known[:len(known)-1]...) // drop the closing brace
	first := len(known) == 2                   // "{}"
	for _, m := range members {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), true
}

// skipSpace skips JSON whitespace from b[i].
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipCompactValue returns the end of the valid JSON value starting at
// b[i], and false if it holds whitespace outside strings.
func skipCompactValue(b []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true
			}
			depth--
		case ',':
			if depth == 0 {
				return i, true
			}
		case ' ', '\t', '\n', '\r':
			if depth > 0 {
				return 0, false
			}
			return i, true // trailing space of a scalar or closed value
		}
	}
	return i, true
}

// extraMembers decodes Extra and drops the members Cluster models itself.
func extraMembers(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("cluster extra members must be a JSON object: %w", err)
	}
	for k, v := range m {
		if isClusterMember(k) {
			delete(m, k)
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return nil, fmt.Errorf("cluster extra member %q: %w", k, err)
		}
		m[k] = compact.Bytes()
	}
	return m, nil
}

// UnmarshalJSON reads a cluster object: modeled members into their fields,
// every other member into Extra (as one JSON object, keys sorted), or Extra
// nil when there are none.
func (c *Cluster) UnmarshalJSON(b []byte) error {
	type plain Cluster
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	p.Extra = nil
	for k := range all {
		if isClusterMember(k) {
			delete(all, k)
		}
	}
	if len(all) > 0 {
		extra, err := json.Marshal(all) // map keys are sorted
		if err != nil {
			return err
		}
		p.Extra = extra
	}
	*c = Cluster(p)
	return nil
}

// AppendJSON appends the response's JSON to b: what json.Marshal writes,
// without encoding/json checking and compacting again the bytes
// Cluster.MarshalJSON returns (a third of DescribeCluster's handler time).
// Output json.Marshal would escape differently (<, >, &, U+2028, U+2029)
// takes json.Marshal.
func (o *ClusterOutput) AppendJSON(b []byte) ([]byte, error) {
	if o == nil {
		return append(b, "null"...), nil
	}
	if o.Cluster == nil {
		return append(b, "{}"...), nil
	}
	c, err := o.Cluster.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if escapedByMarshal(c) {
		all, err := json.Marshal(o)
		return append(b, all...), err
	}
	b = append(b, `{"cluster":`...)
	b = append(b, c...)
	return append(b, '}'), nil
}

// escapedByMarshal reports whether b holds a byte json.Marshal escapes in
// the output of a Marshaler: <, > and &, or U+2028 and U+2029.
func escapedByMarshal(b []byte) bool {
	for i, c := range b {
		switch c {
		case '<', '>', '&':
			return true
		case 0xe2:
			if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9) {
				return true
			}
		}
	}
	return false
}
