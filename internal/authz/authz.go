package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/podid/podid/internal/iam/policy"
)

// Authorizer decides whether an identity may perform an action on a
// resource.
type Authorizer interface {
	// Authorize returns nil to allow id (nil: the request carried none)
	// to perform action ("eks:UpdatePodIdentityAssociation") on resource
	// (an ARN, or "*"), or an error: a *DeniedError when the policy
	// refuses, anything else when it could not decide. reqCtx holds the
	// request's condition keys (aws:RequestTag/KEY, aws:TagKeys); nil
	// when the request has none. Authorize does not modify reqCtx
	// (callers share one map among requests).
	Authorize(ctx context.Context, id *Identity, action, resource string, reqCtx map[string][]string) error
}

// Check asks a whether the caller ctx carries may perform action on
// resource. A nil Authorizer allows everything (a server without
// authentication).
func Check(ctx context.Context, a Authorizer, action, resource string, reqCtx map[string][]string) error {
	if a == nil {
		return nil
	}
	id, _ := FromContext(ctx)
	return a.Authorize(ctx, id, action, resource, reqCtx)
}

// ErrDenied is what every *DeniedError is (errors.Is).
var ErrDenied = errors.New("access denied")

// DeniedError is a refusal, worded as IAM words it.
type DeniedError struct {
	// Principal is the caller's ARN; "" for a request without identity.
	Principal string
	Action    string
	Resource  string
	// Reason says what decided the refusal, for the server's log and the
	// audit trail, never for the caller: the deciding statement ("denied
	// by Statement[1] (Sid \"NoProd\") of policy \"app\""), the action no
	// statement allowed ("no statement of the trust policy allowed
	// sts:TagSession"), or a missing role. Empty under Rules.
	Reason string
	// Decision is the policy engine's result behind Reason (Policy,
	// Statement, Sid, Scope); nil when no policy was evaluated (a missing
	// role, Rules).
	Decision *policy.Result
	// Message, when set, is what the caller is told instead of the usual
	// "User: ... is not authorized ..." (STS's "Roles may not be assumed
	// by root accounts.").
	Message string
}

func (e *DeniedError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Principal == "" {
		return fmt.Sprintf("The request is not authenticated: it is not authorized to perform: %s on resource: %s", e.Action, e.Resource)
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", e.Principal, e.Action, e.Resource)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// RequestTags returns the condition keys of a request that sets tags:
// aws:RequestTag/KEY for each tag and aws:TagKeys; nil for no tags.
func RequestTags(tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string][]string, len(tags)+1)
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		m["aws:RequestTag/"+k] = []string{v}
		keys = append(keys, k)
	}
	m["aws:TagKeys"] = keys
	return m
}

// ResourceTagger is an Authorizer whose decisions may read the tags of the
// resource acted on (aws:ResourceTag/KEY). A handler that can read them
// asks first, so it reads them only when the caller's policies could use
// them.
type ResourceTagger interface {
	// NeedsResourceTags reports whether a decision for id may depend on
	// the resource's tags.
	NeedsResourceTags(ctx context.Context, id *Identity) bool
}

// NeedsResourceTags reports whether a's decisions for the caller ctx
// carries may depend on the resource's tags: false unless a is a
// ResourceTagger that says so.
func NeedsResourceTags(ctx context.Context, a Authorizer) bool {
	rt, ok := a.(ResourceTagger)
	if !ok {
		return false
	}
	id, _ := FromContext(ctx)
	return id != nil && rt.NeedsResourceTags(ctx, id)
}

// WithResourceTags adds aws:ResourceTag/KEY for each of the resource's
// tags to reqCtx (a new map when reqCtx is nil) and returns it.
func WithResourceTags(reqCtx map[string][]string, tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return reqCtx
	}
	if reqCtx == nil {
		reqCtx = make(map[string][]string, len(tags))
	}
	for k, v := range tags {
		reqCtx["aws:ResourceTag/"+k] = []string{v}
	}
	return reqCtx
}
