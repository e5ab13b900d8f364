package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The policy language versions IAM accepts. A document without Version is
// read as 2008-10-17, whose strings hold no policy variables.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Kind is what a document is for; it decides which elements are required
// or prohibited.
type Kind uint8

const (
	// Identity: a user's or a role's policy (inline or managed). No
	// Principal; Resource or NotResource required.
	Identity Kind = iota
	// Session: a session policy passed to AssumeRole; the same rules as
	// Identity.
	Session
	// Trust: a role's trust (assume-role) policy. Principal or
	// NotPrincipal required, no Resource, only sts actions.
	Trust
)

func (k Kind) String() string {
	switch k {
	case Session:
		return "session"
	case Trust:
		return "trust"
	default:
		return "identity"
	}
}

// ErrMalformed is the sentinel of every validation error: the IAM API
// answers it as MalformedPolicyDocument (HTTP 400) with the error's
// Message.
var ErrMalformed = errors.New("malformed policy document")

// MalformedError is a document that IAM would refuse; Message is AWS's
// wording ("Syntax errors in policy.", "Missing required field Principal").
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return "malformed policy document: " + e.Message }

// Is makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(format string, args ...any) *MalformedError {
	if len(args) == 0 {
		return &MalformedError{Message: format}
	}
	return &MalformedError{Message: fmt.Sprintf(format, args...)}
}

// The messages AWS gives for the commonest faults.
const (
	MsgSyntax             = "Syntax errors in policy."
	MsgLegacyParsing      = "The policy failed legacy parsing"
	MsgSidUnique          = "Statement IDs (SID) in a single policy must be unique."
	MsgSidAlphanumeric    = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	MsgNoActions          = "Policy statement must contain actions."
	MsgNoResources        = "Policy statement must contain resources."
	MsgNoPrincipalAllowed = "Policy document should not specify a principal."
	MsgMissingPrincipal   = "Missing required field Principal"
	MsgTrustActions       = "AssumeRole policy may only specify STS AssumeRole actions."
	MsgActionVendor       = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	MsgActionColons       = "Actions/Condition can contain only one colon."
)

// Policy is a parsed, validated and compiled document. It is immutable and
// safe for concurrent evaluation.
type Policy struct {
	// Name identifies the policy in Results (an inline policy's name, a
	// managed policy's ARN, "trust", "session").
	Name    string
	Kind    Kind
	Version string // as written; "" when absent
	ID      string
	// Document is the JSON text Parse was given.
	Document   string
	statements []statement
}

// Len returns the number of statements.
func (p *Policy) Len() int { return len(p.statements) }

// Sids returns the statements' Sids in order ("" where a statement has none).
func (p *Policy) Sids() []string {
	s := make([]string, len(p.statements))
	for i, st := range p.statements {
		s[i] = st.sid
	}
	return s
}

type statement struct {
	sid          string
	deny         bool
	principal    *principalSet // nil: no Principal/NotPrincipal
	notPrincipal bool
	actions      []actionPattern
	notAction    bool
	resources    []resourcePattern // nil: no Resource/NotResource (trust policies)
	notResource  bool
	conditions   []condition
}

type actionPattern struct {
	exact string // lower-case; used when g is nil
	g     glob
}

func (a actionPattern) match(action string) bool {
	if a.g == nil {
		return len(a.exact) == len(action) && strings.EqualFold(a.exact, action)
	}
	return a.g.match(action, true)
}

type resourcePattern struct {
	any bool // "*"
	t   template
	g   glob // nil when t has variables
}

func (r resourcePattern) match(resource string, ctx Keys) bool {
	if r.any {
		return true
	}
	if r.g != nil {
		return r.g.match(resource, false)
	}
	g, ok := r.t.expandGlob(ctx, false)
	return ok && g.match(resource, false)
}

// Parse validates document as a policy of the given kind and compiles it.
// A document IAM would refuse yields a *MalformedError (errors.Is
// ErrMalformed) with AWS's message.
func Parse(name, document string, kind Kind) (*Policy, error) {
	top, err := decodeObject(document)
	if err != nil {
		return nil, err
	}
	p := &Policy{Name: name, Kind: kind, Document: document}
	var rawStatements json.RawMessage
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != Version2012 && p.Version != Version2008) {
				return nil, malformed(MsgSyntax)
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed(MsgSyntax)
			}
		case "Statement":
			rawStatements = v
		default:
			return nil, malformed(MsgSyntax)
		}
	}
	raws, err := statementList(rawStatements)
	if err != nil {
		return nil, err
	}
	withVars := p.Version == Version2012
	ps := make([]parsedStatement, len(raws))
	for i, raw := range raws {
		if err := ps[i].decode(raw, withVars); err != nil {
			return nil, err
		}
	}
	if err := validate(ps, kind); err != nil {
		return nil, err
	}
	p.statements = make([]statement, len(ps))
	for i := range ps {
		p.statements[i] = ps[i].st
	}
	return p, nil
}

// decodeObject decodes a JSON object into its members (numbers kept as
// written); anything else is a syntax error.
func decodeObject(doc string) (map[string]json.RawMessage, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	var m map[string]json.RawMessage
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, malformed(MsgSyntax)
	}
	if strings.Trim(doc[d.InputOffset():], " \t\r\n") != "" {
		return nil, malformed(MsgSyntax) // trailing data
	}
	return m, nil
}

// statementList reads Statement: one object or a non-empty list of them.
func statementList(raw json.RawMessage) ([]map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, malformed(MsgSyntax)
	}
	if raw[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, malformed(MsgSyntax)
		}
		return []map[string]json.RawMessage{one}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, malformed(MsgSyntax)
	}
	out := make([]map[string]json.RawMessage, len(list))
	for i, r := range list {
		r = bytes.TrimSpace(r)
		if len(r) == 0 || r[0] != '{' {
			return nil, malformed(MsgSyntax)
		}
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, malformed(MsgSyntax)
		}
	}
	return out, nil
}

// parsedStatement is a statement with what validation needs beside the
// compiled form.
type parsedStatement struct {
	st              statement
	has             map[string]bool
	effect          string
	actions         []string
	resources       []string
	principalValues []principalValue
	legacyFailure   bool
}

type principalValue struct{ typ, value string }

// stringOrList reads a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	}
	var l []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &l) != nil {
		return nil, false
	}
	return l, true
}

func (ps *parsedStatement) decode(m map[string]json.RawMessage, withVars bool) error {
	ps.has = make(map[string]bool, len(m))
	for k, v := range m {
		ps.has[k] = true
		var ok bool
		switch k {
		case "Sid":
			ok = json.Unmarshal(v, &ps.st.sid) == nil
		case "Effect":
			ok = json.Unmarshal(v, &ps.effect) == nil
		case "Action", "NotAction":
			ps.actions, ok = stringOrList(v)
			ps.st.notAction = k == "NotAction"
		case "Resource", "NotResource":
			ps.resources, ok = stringOrList(v)
			ps.st.notResource = k == "NotResource"
		case "Principal", "NotPrincipal":
			ps.principalValues, ok = decodePrincipal(v)
			ps.st.notPrincipal = k == "NotPrincipal"
		case "Condition":
			var err error
			ps.st.conditions, err = decodeConditions(v, withVars)
			if err != nil {
				return err
			}
			ok = true
		}
		if !ok {
			return malformed(MsgSyntax)
		}
	}
	if (ps.has["Action"] && ps.has["NotAction"]) || (ps.has["Resource"] && ps.has["NotResource"]) ||
		(ps.has["Principal"] && ps.has["NotPrincipal"]) {
		return malformed(MsgSyntax)
	}
	switch {
	case ps.effect == "Allow":
	case ps.effect == "Deny":
		ps.st.deny = true
	case strings.EqualFold(ps.effect, "Allow"), strings.EqualFold(ps.effect, "Deny"):
		ps.legacyFailure = true // AWS matches the effect case-sensitively at its second pass
	default:
		return malformed(MsgSyntax)
	}
	for _, a := range ps.actions {
		ap := actionPattern{exact: lowerASCII(a)}
		if hasWild(a) {
			ap.g = glob(nil).appendWild(ap.exact)
		}
		ps.st.actions = append(ps.st.actions, ap)
	}
	if ps.has["Resource"] || ps.has["NotResource"] {
		ps.st.resources = make([]resourcePattern, 0, len(ps.resources))
		for _, r := range ps.resources {
			rp := resourcePattern{any: r == "*", t: parseTemplate(r, withVars)}
			if !rp.t.hasVars() {
				rp.g = rp.t.glob(false)
			}
			ps.st.resources = append(ps.st.resources, rp)
		}
	}
	if ps.principalValues != nil {
		ps.st.principal = compilePrincipals(ps.principalValues)
	}
	return nil
}

var (
	sidPattern    = regexp.MustCompile(`^[0-9A-Za-z]*$`)
	vendorPattern = regexp.MustCompile(`^[a-zA-Z0-9\-.*?]+$`)
)

// validate applies IAM's checks in the order IAM reports them: legacy
// parsing, Sids, actions, resources, kind rules, then value formats.
func validate(ps []parsedStatement, kind Kind) error {
	for i := range ps {
		if ps[i].legacyFailure {
			return malformed(MsgLegacyParsing)
		}
	}
	for i := range ps {
		if kind != Trust && (ps[i].has["Principal"] || ps[i].has["NotPrincipal"]) {
			return malformed(MsgNoPrincipalAllowed)
		}
		if kind == Trust {
			for _, f := range []string{"Resource", "NotResource"} {
				if ps[i].has[f] {
					return malformed("Has prohibited field %s", f)
				}
			}
		}
	}
	sids := make(map[string]bool, len(ps))
	for i := range ps {
		sid := ps[i].st.sid
		if sid == "" {
			continue
		}
		if sids[sid] {
			return malformed(MsgSidUnique)
		}
		sids[sid] = true
	}
	for i := range ps {
		if !sidPattern.MatchString(ps[i].st.sid) {
			return malformed(MsgSidAlphanumeric)
		}
	}
	for i := range ps {
		if len(ps[i].actions) == 0 {
			return malformed(MsgNoActions)
		}
	}
	if kind == Trust {
		for i := range ps {
			if ps[i].st.principal == nil {
				return malformed(MsgMissingPrincipal)
			}
		}
	} else {
		for i := range ps {
			if len(ps[i].resources) == 0 {
				return malformed(MsgNoResources)
			}
		}
	}
	for i := range ps {
		for _, r := range ps[i].resources {
			if err := validateResource(r); err != nil {
				return err
			}
		}
	}
	for i := range ps {
		for _, a := range ps[i].actions {
			if err := validateAction(a); err != nil {
				return err
			}
		}
	}
	if kind == Trust {
		for i := range ps {
			for _, a := range ps[i].actions {
				if a != "*" && !strings.HasPrefix(lowerASCII(a), "sts:") {
					return malformed(MsgTrustActions)
				}
			}
			for _, pv := range ps[i].principalValues {
				if err := validatePrincipal(pv); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateAction(a string) error {
	if a == "*" {
		return nil
	}
	parts := strings.Split(a, ":")
	switch {
	case len(parts) == 1:
		return malformed(MsgActionVendor)
	case len(parts) > 2:
		return malformed(MsgActionColons)
	case !vendorPattern.MatchString(parts[0]):
		return malformed("Vendor %s is not valid", parts[0])
	}
	return nil
}

// iamResourceTypes are the resource types an IAM ARN may name.
var iamResourceTypes = []string{"user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
	"server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/"}

func validateResource(r string) error {
	if r == "*" {
		return nil
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) == 1 {
		return malformed("Resource %s must be in ARN format or \"*\".", r)
	}
	if len(parts) < 6 {
		if parts[0] == "arn" && len(parts) >= 3 && strings.Contains(r, "::") {
			return malformed(MsgLegacyParsing)
		}
		return nil // "s3:bucket"-like forms are left to the service
	}
	if parts[0] != "arn" {
		return nil
	}
	if p := parts[1]; p != "aws" && !hasWild(p) {
		return malformed("Partition \"%s\" is not valid for resource \"%s\".", p, r)
	}
	if parts[2] == "" {
		return malformed("Resource vendor must be fully qualified and cannot contain regexes.")
	}
	if parts[2] == "iam" {
		if parts[3] != "" {
			return malformed("IAM resource %s cannot contain region information.", r)
		}
		if res := parts[5]; res != "*" && res != "root" && !hasAnyPrefix(res, iamResourceTypes) && !strings.HasPrefix(res, "*") {
			return malformed("IAM resource path must either be \"*\" or start with %s.", strings.Join(iamResourceTypes, ", "))
		}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}
