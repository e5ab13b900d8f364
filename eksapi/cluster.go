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
