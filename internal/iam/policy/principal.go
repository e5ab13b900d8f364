package policy

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// principalSet is a compiled Principal (or NotPrincipal) element.
type principalSet struct {
	any      bool     // "*" or {"AWS": "*"}
	accounts []string // "ACCOUNT" and arn:aws:iam::ACCOUNT:root
	arns     []string // users, roles, assumed-role sessions
	services []string // lower-case
	other    []string // Federated, CanonicalUser: kept, never matched (podid has no such callers)
}

// decodePrincipal reads "*" or an object of type to string-or-list.
func decodePrincipal(raw json.RawMessage) ([]principalValue, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []principalValue{{typ: "", value: s}}, true
	}
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	types := make([]string, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	sort.Strings(types)
	out := []principalValue{}
	for _, t := range types {
		vals, ok := stringOrList(m[t])
		if !ok {
			return nil, false
		}
		for _, v := range vals {
			out = append(out, principalValue{typ: t, value: v})
		}
	}
	return out, true
}

func compilePrincipals(vals []principalValue) *principalSet {
	ps := &principalSet{}
	for _, pv := range vals {
		switch pv.typ {
		case "":
			ps.any = ps.any || pv.value == "*"
		case "AWS":
			switch v := pv.value; {
			case v == "*":
				ps.any = true
			case accountPattern.MatchString(v):
				ps.accounts = append(ps.accounts, v)
			case strings.HasSuffix(v, ":root") && arnAccount(v) != "":
				ps.accounts = append(ps.accounts, arnAccount(v))
			default:
				ps.arns = append(ps.arns, v)
			}
		case "Service":
			ps.services = append(ps.services, lowerASCII(pv.value))
		default:
			ps.other = append(ps.other, pv.value)
		}
	}
	return ps
}

// match reports whether p is in the set, and how.
func (ps *principalSet) match(p Principal) PrincipalMatch {
	if p.Service != "" {
		if slices.ContainsFunc(ps.services, func(s string) bool { return strings.EqualFold(s, p.Service) }) {
			return MatchedService
		}
		if ps.any {
			return MatchedWildcard
		}
		return NoPrincipal
	}
	if p.ARN != "" {
		if slices.Contains(ps.arns, p.ARN) {
			return MatchedARN
		}
		if p.RoleARN != "" && slices.Contains(ps.arns, p.RoleARN) {
			return MatchedRole
		}
		if acct := p.Account(); acct != "" && slices.Contains(ps.accounts, acct) {
			return MatchedAccount
		}
	}
	if ps.any {
		return MatchedWildcard
	}
	return NoPrincipal
}

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// awsPrincipalARN is the shape of an "AWS" principal IAM accepts.
	awsPrincipalARN = regexp.MustCompile(`^arn:aws:(iam::[0-9]{12}:(root|user/[^*?]+|role/[^*?]+)|sts::[0-9]{12}:(assumed-role/[^/*?]+/[^*?]+|federated-user/[^*?]+))$`)
)

func validatePrincipal(pv principalValue) error {
	bad := func() error {
		if pv.typ == "" {
			return malformed("Invalid principal in policy: %q", pv.value)
		}
		return malformed("Invalid principal in policy: %q:%q", pv.typ, pv.value)
	}
	switch pv.typ {
	case "":
		if pv.value != "*" {
			return bad()
		}
	case "AWS":
		if pv.value != "*" && !accountPattern.MatchString(pv.value) && !awsPrincipalARN.MatchString(pv.value) {
			return bad()
		}
	case "Service", "Federated", "CanonicalUser":
		if pv.value == "" || strings.ContainsAny(pv.value, " \t\n") {
			return bad()
		}
	default:
		return bad()
	}
	return nil
}

// PrincipalARNs returns the IAM ARNs a trust policy names in its "AWS"
// principals (users, roles, sessions; not accounts or "*"), so the IAM API
// can refuse a role whose trust names an entity that does not exist, as AWS
// does ("Invalid principal in policy").
func (p *Policy) PrincipalARNs() []string {
	var out []string
	for _, st := range p.statements {
		if st.principal != nil {
			out = append(out, st.principal.arns...)
		}
	}
	return out
}

// InvalidPrincipal returns the MalformedPolicyDocument error AWS gives for a
// trust policy naming an entity that does not exist.
func InvalidPrincipal(arn string) error {
	return malformed("Invalid principal in policy: %q:%q", "AWS", arn)
}
