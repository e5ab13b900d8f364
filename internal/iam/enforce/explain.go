package enforce

import (
	"context"
	"encoding/json"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/sts"
)

// PodRequest is a pod's credential request as EKS Auth would make its role
// assumptions (the association's roles, the pod's session tags), for
// ExplainPodIdentity.
type PodRequest struct {
	// ClusterARN is aws:SourceArn of the first hop.
	ClusterARN    string
	RoleARN       string
	TargetRoleARN string
	ExternalID    string
	// SessionName is the role session name of both hops.
	SessionName string
	// Tags are the six session tags (none with disableSessionTags); they
	// pass on transitively to the target hop.
	Tags []sts.Tag
}

// Explanation says whether a pod's credential request would succeed and,
// if not, what decides it. Its JSON is the admin API's explain answer.
type Explanation struct {
	Allowed bool `json:"allowed"`
	// Decision is "Allow", "ExplicitDeny", "ImplicitDeny" or
	// "RoleNotFound", of the deciding hop.
	Decision string `json:"decision"`
	// Reason is the deciding hop's reason, in words.
	Reason string `json:"reason"`
	// Hop names the deciding hop: "association role" or "target role".
	Hop    string `json:"hop"`
	Role   string `json:"role"`
	Action string `json:"action"`
	// Policy names the deciding policy; PolicyDocument is its text.
	Policy         string `json:"policy,omitempty"`
	PolicyDocument string `json:"policyDocument,omitempty"`
	// Statement is the deciding statement (its JSON), StatementIndex its
	// index in the policy and Sid its Sid.
	Statement      json.RawMessage `json:"statement,omitempty"`
	StatementIndex *int            `json:"statementIndex,omitempty"`
	Sid            string          `json:"sid,omitempty"`
	// Hops are both hops' answers, the association role's first.
	Hops []HopExplanation `json:"hops"`
}

// HopExplanation is one role assumption's answer.
type HopExplanation struct {
	Hop            string          `json:"hop"`
	Role           string          `json:"role"`
	Principal      string          `json:"principal"`
	Allowed        bool            `json:"allowed"`
	Decision       string          `json:"decision"`
	Action         string          `json:"action"`
	Reason         string          `json:"reason"`
	Policy         string          `json:"policy,omitempty"`
	PolicyDocument string          `json:"policyDocument,omitempty"`
	Statement      json.RawMessage `json:"statement,omitempty"`
	StatementIndex *int            `json:"statementIndex,omitempty"`
	Sid            string          `json:"sid,omitempty"`
}

// The hops of a pod's credential request.
const (
	HopAssociation = "association role"
	HopTarget      = "target role"
)

// ExplainPodIdentity decides, without making them, the role assumptions
// EKS Auth would make for r: the association role by the service
// principal (with aws:SourceArn, aws:SourceAccount and the session tags),
// then the target role, if any, by the association role's session (with
// sts:ExternalId and the transitive tags). The first refused hop decides;
// both are evaluated and reported.
func (e *Enforcer) ExplainPodIdentity(ctx context.Context, r PodRequest) (Explanation, error) {
	ctx = authz.WithSecureTransport(ctx) // as EKS Auth's hops are (eksauth)
	first := sts.Assumption{RoleARN: r.RoleARN, RoleSessionName: r.SessionName, SourceARN: r.ClusterARN, Tags: r.Tags}
	hops := []sts.Assumption{first}
	names := []string{HopAssociation}
	if r.TargetRoleARN != "" {
		keys := make([]string, len(r.Tags))
		for i, t := range r.Tags {
			keys[i] = t.Key
		}
		session := &sts.Session{RoleARN: r.RoleARN, RoleSessionName: r.SessionName, Partition: e.cfg.Partition,
			Account: accountOf(r.RoleARN), Tags: r.Tags, TransitiveTagKeys: keys}
		hops = append(hops, sts.Assumption{RoleARN: r.TargetRoleARN, RoleSessionName: r.SessionName,
			ExternalID: r.ExternalID, Caller: session, Tags: r.Tags})
		names = append(names, HopTarget)
	}
	var x Explanation
	decided := false
	for i, a := range hops {
		d, err := e.DecideAssumeRole(ctx, a)
		if err != nil {
			return x, err
		}
		h := explainHop(names[i], a.RoleARN, d)
		x.Hops = append(x.Hops, h)
		if !decided && (!d.Allowed || i == len(hops)-1) {
			decided = true
			x.Allowed, x.Decision, x.Reason, x.Hop, x.Role, x.Action = h.Allowed, h.Decision, h.Reason, h.Hop, h.Role, h.Action
			x.Policy, x.PolicyDocument, x.Statement, x.StatementIndex, x.Sid = h.Policy, h.PolicyDocument, h.Statement, h.StatementIndex, h.Sid
		}
	}
	if x.Allowed {
		// Every hop allowed: the last one is reported, and each hop's own
		// deciding statement is in Hops.
		x.Reason = "every role assumption is allowed; " + x.Reason
	}
	return x, nil
}

func explainHop(hop, role string, d Decision) HopExplanation {
	h := HopExplanation{Hop: hop, Role: role, Principal: d.Principal, Allowed: d.Allowed,
		Decision: d.Result.Decision.String(), Action: d.Action, Reason: d.Reason}
	if d.RoleMissing {
		h.Decision = "RoleNotFound"
		return h
	}
	if d.Result.Policy != "" {
		h.Policy, h.PolicyDocument, h.Sid = d.Result.Policy, d.Document, d.Result.Sid
		i := d.Result.Statement
		h.StatementIndex = &i
		h.Statement = statementAt(d.Document, i)
	}
	return h
}

// statementAt returns the i-th statement of a policy document (Statement
// an object or a list), or nil.
func statementAt(doc string, i int) json.RawMessage {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) == 0 {
		return nil
	}
	if d.Statement[0] == '{' {
		if i == 0 {
			return d.Statement
		}
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(d.Statement, &list) != nil || i >= len(list) {
		return nil
	}
	return list[i]
}
