// Package enforce is podid's IAM applied to requests (--iam enforce): an
// authz.Authorizer that evaluates the caller's identity policies (an IAM
// user's inline and attached policies; a role session's role policies
// intersected with its session policy) and an sts.RoleAuthorizer that
// decides every role assumption with the role's trust policy and the
// caller's identity policies (policy.AuthorizeAssumeRole): EKS Auth's first
// hop (the service principal pods.eks.amazonaws.com), its target hop (the
// association role's session) and STS AssumeRole by any caller.
//
// The admin identity is the account root and may do everything but
// assume a role (STS refuses the root, as AWS does). Policies
// are read from the IAM store (store.IAM's RolePrincipal/UserPrincipal),
// parsed once and cached until the store's IAM revision moves: Start
// follows the store's change signals, and a refusal re-reads the revision
// before it stands, so a fix is in effect at once.
package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// Config configures an Enforcer.
type Config struct {
	// Store holds the IAM records. When it is also a store.Watcher, Start
	// follows its change signals.
	Store store.IAM
	// AccountID is podid's account: the roles and users of Store are its.
	AccountID string
	// Partition is the ARN partition ("aws" when empty).
	Partition string
	// Now is the clock (aws:CurrentTime); time.Now when nil.
	Now func() time.Time
	// Logger gets one line per refusal, saying what decided it;
	// slog.Default() when nil.
	Logger *slog.Logger
	// ResyncInterval is how often Start re-reads the IAM revision without
	// a change signal (a lost signal, another replica); default 10s.
	ResyncInterval time.Duration
}

// Enforcer evaluates podid's IAM. It is safe for concurrent use.
type Enforcer struct {
	cfg  Config
	now  func() time.Time
	log  *slog.Logger
	root string

	mu       sync.RWMutex
	rev      int64              // the IAM revision the cache is current for
	entities map[string]*entity // "role/" or "user/" + store.IAMKey(name)
	sessions map[string]*policy.Policy
}

// entity is a role or user with its policies parsed.
type entity struct {
	missing  bool
	arn      string
	tags     map[string]string
	trust    *policy.Policy // roles only; nil: nothing may assume it
	identity []*policy.Policy
	boundary *policy.Policy // the permissions boundary; nil: none
	// resourceTags: a policy of its identity side (identity, boundary)
	// or its trust policy mentions aws:ResourceTag or iam:ResourceTag, so
	// a decision may need the resource's tags.
	resourceTags bool
}

// mentionsResourceTag reports whether a policy document may read
// aws:ResourceTag/KEY or iam:ResourceTag/KEY (in a condition or a
// variable): only then are a resource's tags looked up.
func mentionsResourceTag(p *policy.Policy) bool {
	return p != nil && docMentionsResourceTag(p.Document)
}

// docMentionsResourceTag is mentionsResourceTag of a document's text,
// without allocating (it runs on every call of a session with a policy).
func docMentionsResourceTag(doc string) bool {
	const key = "resourcetag/"
	for i := 0; i+len(key) <= len(doc); i++ {
		if c := doc[i]; (c == 'r' || c == 'R') && strings.EqualFold(doc[i:i+len(key)], key) {
			return true
		}
	}
	return false
}

// maxSessionPolicies bounds the cache of parsed session policies (a
// session policy is the association's, or a caller's own).
const maxSessionPolicies = 1024

// New returns an Enforcer for cfg.
func New(cfg Config) *Enforcer {
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 10 * time.Second
	}
	e := &Enforcer{cfg: cfg, now: cfg.Now, log: cfg.Logger,
		root:     "arn:" + cfg.Partition + ":iam::" + cfg.AccountID + ":root",
		entities: map[string]*entity{}, sessions: map[string]*policy.Policy{}}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	return e
}

// Start reads the IAM revision and follows the store's changes until ctx
// ends: each change signal (and every ResyncInterval) re-reads the
// revision and drops the cache when it moved.
func (e *Enforcer) Start(ctx context.Context) error {
	if _, err := e.refresh(ctx, false); err != nil {
		return err
	}
	var signals <-chan struct{}
	if w, ok := e.cfg.Store.(store.Watcher); ok {
		ch, err := w.Watch(ctx)
		if err != nil {
			return fmt.Errorf("watching IAM changes: %w", err)
		}
		signals = ch
	}
	go func() {
		t := time.NewTicker(e.cfg.ResyncInterval)
		defer t.Stop()
		for {
			signalled := false
			select {
			case <-ctx.Done():
				return
			case _, ok := <-signals:
				if !ok {
					signals = nil
					continue
				}
				signalled = true
			case <-t.C:
			}
			if _, err := e.refresh(ctx, signalled); err != nil && ctx.Err() == nil {
				e.log.Warn("iam: reading the IAM revision", "err", err)
			}
		}
	}()
	return nil
}

// refresh reads the IAM revision and drops the cache when it moved; it
// reports whether it did (here). signalled: a Watch signal woke it, so a
// store that knows the revisions it signals (store.KnownRevisions) saves
// the read.
func (e *Enforcer) refresh(ctx context.Context, signalled bool) (bool, error) {
	rev, err := e.iamRevision(ctx, signalled)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rev == e.rev {
		return false, nil
	}
	e.rev = rev
	clear(e.entities)
	return true, nil
}

func (e *Enforcer) iamRevision(ctx context.Context, signalled bool) (int64, error) {
	if k, ok := e.cfg.Store.(store.KnownRevisions); ok && signalled {
		if _, rev, ok := k.KnownRevisions(); ok {
			return rev, nil
		}
	}
	return e.cfg.Store.IAMRevision(ctx)
}

// role returns the role named name, from the cache or the store.
func (e *Enforcer) role(ctx context.Context, name string) (*entity, error) {
	return e.entity(ctx, store.KindRole, name)
}

func (e *Enforcer) entity(ctx context.Context, kind store.Kind, name string) (*entity, error) {
	key := string(kind) + "/" + store.IAMKey(name)
	e.mu.RLock()
	ent, ok := e.entities[key]
	gen := e.rev
	e.mu.RUnlock()
	if ok {
		return ent, nil
	}
	var p store.Principal
	var err error
	switch kind {
	case store.KindRole:
		p, err = e.cfg.Store.RolePrincipal(ctx, name)
	case store.KindUser:
		p, err = e.cfg.Store.UserPrincipal(ctx, name)
	case store.KindPolicy:
		ent, err = e.managed(ctx, name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		ent = &entity{missing: true}
	case err != nil:
		return nil, err
	case kind != store.KindPolicy:
		ent = e.compile(p)
	}
	e.mu.Lock()
	// What was read after the cache's revision was may be cached (a newer
	// write's signal follows and drops it); what may be older may not.
	if e.rev == gen || (!ent.missing && kind != store.KindPolicy && p.IAMRevision >= e.rev) {
		e.entities[key] = ent
	}
	e.mu.Unlock()
	return ent, nil
}

// compile parses a principal's documents. They were validated when
// written; one that no longer parses is left out (and logged), which can
// only take permissions away.
func (e *Enforcer) compile(p store.Principal) *entity {
	ent := &entity{}
	var inline map[string]string
	var boundary string
	switch {
	case p.Role != nil:
		ent.arn, ent.tags, inline, boundary = p.Role.ARN, p.Role.Tags, p.Role.Policies, p.Role.PermissionsBoundary
		ent.trust = e.parse(TrustPolicyName(p.Role.Name), p.Role.AssumeRolePolicy, policy.Trust)
	case p.User != nil:
		ent.arn, ent.tags, inline, boundary = p.User.ARN, p.User.Tags, p.User.Policies, p.User.PermissionsBoundary
	}
	if boundary != "" {
		ent.boundary = e.boundary(boundary, p.Boundary)
	}
	ent.resourceTags = mentionsResourceTag(ent.boundary) || mentionsResourceTag(ent.trust)
	for name, doc := range inline {
		if pol := e.parse(name, doc, policy.Identity); pol != nil {
			ent.identity = append(ent.identity, pol)
		}
	}
	for _, a := range p.Attached {
		if pol := e.parse(a.ARN, a.Document, policy.Identity); pol != nil {
			ent.identity = append(ent.identity, pol)
		}
	}
	for _, pol := range ent.identity {
		ent.resourceTags = ent.resourceTags || mentionsResourceTag(pol)
	}
	return ent
}

// boundary parses the permissions boundary arn: its document from the
// store (stored), or an AWS managed policy's (awsManaged). A boundary
// whose document podid does not have allows nothing.
func (e *Enforcer) boundary(arn string, stored *store.AttachedPolicy) *policy.Policy {
	name := "permissions boundary " + arn
	doc := allowsNothing
	_, managed, isAWS := strings.Cut(arn, ":iam::aws:policy/")
	switch {
	case stored != nil:
		doc = stored.Document
	case isAWS && awsManaged[managed] != "":
		doc = awsManaged[managed]
	default:
		e.log.Warn("iam: a permissions boundary's document is unknown; it allows nothing", "boundary", arn)
	}
	if pol := e.parse(name, doc, policy.Identity); pol != nil {
		return pol
	}
	pol, _ := policy.Parse(name, allowsNothing, policy.Identity)
	return pol
}

func (e *Enforcer) parse(name, doc string, kind policy.Kind) *policy.Policy {
	if doc == "" {
		return nil
	}
	pol, err := policy.Parse(name, doc, kind)
	if err != nil {
		e.log.Warn("iam: a stored policy does not parse; left out", "policy", name, "err", err)
		return nil
	}
	return pol
}

// TrustPolicyName is the name a role's trust policy has in decisions.
func TrustPolicyName(role string) string { return "trust policy of role " + role }

// managed reads a customer managed policy's default version, as an entity
// whose identity is that one document.
func (e *Enforcer) managed(ctx context.Context, arn string) (*entity, error) {
	mp, err := e.cfg.Store.GetPolicy(ctx, arn)
	if err != nil {
		return nil, err
	}
	v, _ := mp.Version(mp.DefaultVersion)
	ent := &entity{arn: arn}
	if pol := e.parse(arn, v.Document, policy.Session); pol != nil {
		ent.identity = []*policy.Policy{pol}
		ent.resourceTags = mentionsResourceTag(pol)
	}
	return ent, nil
}

// sessionPolicies returns a session's session policies: its inline policy
// and its managed ones (PolicyArns; IAM UG, "Session policies" [DOC]: the
// session's permissions are the intersection of the role's policies and
// the session policies, inline and managed alike). A managed session
// policy podid does not have (gone, or an AWS managed policy other than
// those in awsManaged) allows nothing [INF].
func (e *Enforcer) sessionPolicies(ctx context.Context, c caller) ([]*policy.Policy, error) {
	out := e.sessionPolicy(c.session)
	if len(c.sessionARNs) == 0 {
		return out, nil
	}
	out = slices.Clip(out)
	for _, arn := range c.sessionARNs {
		if _, name, ok := strings.Cut(arn, ":iam::aws:policy/"); ok {
			doc := awsManaged[name]
			if doc == "" {
				doc = allowsNothing
			}
			out = append(out, e.sessionPolicy(doc)...)
			continue
		}
		ent, err := e.entity(ctx, store.KindPolicy, arn)
		if err != nil {
			return nil, err
		}
		if ent.missing || len(ent.identity) == 0 {
			out = append(out, e.sessionPolicy(allowsNothing)...)
			continue
		}
		out = append(out, ent.identity...)
	}
	return out, nil
}

// sessionPolicy parses (once) a session policy.
func (e *Enforcer) sessionPolicy(doc string) []*policy.Policy {
	if doc == "" {
		return nil
	}
	e.mu.RLock()
	pol, ok := e.sessions[doc]
	e.mu.RUnlock()
	if !ok {
		var err error
		pol, err = policy.Parse("session policy", doc, policy.Session)
		if err != nil {
			// STS accepted it as JSON; a session policy IAM would not
			// accept allows nothing (AWS refuses it at AssumeRole).
			pol, _ = policy.Parse("session policy", `{"Version":"2012-10-17","Statement":[]}`, policy.Session)
		}
		e.mu.Lock()
		if len(e.sessions) >= maxSessionPolicies {
			clear(e.sessions)
		}
		e.sessions[doc] = pol
		e.mu.Unlock()
	}
	return []*policy.Policy{pol}
}

// caller is who makes a request, as identity policies see it.
type caller struct {
	arn     string
	root    bool
	kind    store.Kind // KindRole for a session, KindUser for a user
	name    string     // the role's or user's name
	roleARN string     // a session's role
	tags    map[string]string
	session string // a session's policy
	// sessionARNs are a session's managed session policies (PolicyArns).
	sessionARNs []string
}

func (e *Enforcer) callerOf(id *authz.Identity) caller {
	if id.Session != nil {
		return caller{arn: id.ARN, kind: store.KindRole, name: lastSegment(id.Session.RoleARN),
			roleARN: id.Session.RoleARN, tags: id.Session.Tags, session: id.Session.Policy, sessionARNs: id.Session.PolicyARNs}
	}
	if name, ok := userName(id.ARN); ok {
		return caller{arn: id.ARN, kind: store.KindUser, name: name}
	}
	return caller{arn: id.ARN, root: id.ARN == e.root}
}

func (e *Enforcer) callerOfSession(s *sts.Session) caller {
	return caller{arn: s.AssumedRoleARN(), kind: store.KindRole, name: lastSegment(s.RoleARN),
		roleARN: s.RoleARN, tags: sts.TagMap(s.Tags), session: s.Policy, sessionARNs: s.PolicyARNs}
}

// userName returns NAME of arn:PARTITION:iam::ACCOUNT:user/PATH/NAME.
func userName(arn string) (string, bool) {
	i := strings.Index(arn, ":user/")
	if !strings.HasPrefix(arn, "arn:") || i < 0 {
		return "", false
	}
	return lastSegment(arn[i:]), true
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// identityResult evaluates c's identity side for req: its identity
// policies, permissions boundary and session policy; with limitsOnly, only
// what limits a grant to its role (policy.Caller.EvaluateLimits).
func (e *Enforcer) identityResult(ctx context.Context, c caller, req *policy.Request, limitsOnly bool) (policy.Result, error) {
	if c.root {
		return policy.Result{Decision: policy.Allow, Action: req.Action, Scope: policy.ScopeIdentity, Policy: "account root"}, nil
	}
	if c.kind == "" {
		return policy.Result{Decision: policy.ImplicitDeny, Action: req.Action, Scope: policy.ScopeIdentity}, nil
	}
	ent, err := e.entity(ctx, c.kind, c.name)
	if err != nil {
		return policy.Result{}, err
	}
	if ent.missing {
		// A deleted role's sessions and a deleted user's keys may do
		// nothing.
		return policy.Result{Decision: policy.ImplicitDeny, Action: req.Action, Scope: policy.ScopeIdentity}, nil
	}
	sess, err := e.sessionPolicies(ctx, c)
	if err != nil {
		return policy.Result{}, err
	}
	pc := policy.Caller{Identity: ent.identity, Boundary: ent.boundary, Session: sess}
	if limitsOnly {
		return pc.EvaluateLimits(req), nil
	}
	return pc.Evaluate(req), nil
}

// keys returns the condition keys every request has: the time, whether it
// came over TLS (plain HTTP is "false", so AWS's usual "Deny when
// aws:SecureTransport is false" statement refuses it, as AWS would), and
// the caller's (none for a service).
func (e *Enforcer) keys(ctx context.Context, c caller) *requestKeys {
	return &requestKeys{now: e.now(), secure: authz.SecureTransport(ctx), caller: c}
}

// The values of aws:SecureTransport, shared (the engine never writes a
// request's context).
var (
	overTLS   = []string{"true"}
	plainHTTP = []string{"false"}
)

// accountOf returns the account field of an ARN, or "".
func accountOf(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[4]
}

// Authorize implements authz.Authorizer: the caller's identity policies
// must allow action on resource (reqCtx's keys added to the caller's own).
// sts:AssumeRole is left to the STS service, which decides the assumption
// as a whole (trust and identity policies, AuthorizeAssumeRole) once it
// knows the caller's session and tags.
func (e *Enforcer) Authorize(ctx context.Context, id *authz.Identity, action, resource string, reqCtx map[string][]string) error {
	if id == nil {
		return &authz.DeniedError{Action: action, Resource: resource}
	}
	if strings.EqualFold(action, "sts:AssumeRole") {
		return nil
	}
	c := e.callerOf(id)
	if c.root {
		return nil
	}
	req := &policy.Request{Principal: policy.Principal{ARN: id.ARN}, Action: action, Resource: resource}
	res, err := e.decide(ctx, func() (policy.Result, error) {
		keys := e.keys(ctx, c)
		keys.given = reqCtx
		req.Context = keys
		if e.callerNeedsResourceTags(ctx, c) {
			if err := e.iamResourceTags(ctx, keys, resource); err != nil {
				return policy.Result{}, err
			}
		}
		return e.identityResult(ctx, c, req, false)
	})
	if err != nil {
		return err
	}
	if res.Allowed() {
		return nil
	}
	return e.denied(ctx, id.ARN, action, resource, &res, res.String())
}

// decide runs eval; a refusal stands only if the IAM revision is still
// the one the cache had before eval (else eval runs again on fresh
// records), so a policy fixed a moment ago is in effect.
func (e *Enforcer) decide(ctx context.Context, eval func() (policy.Result, error)) (policy.Result, error) {
	e.mu.RLock()
	gen := e.rev
	e.mu.RUnlock()
	res, err := eval()
	if err != nil || res.Allowed() {
		return res, err
	}
	if _, err := e.refresh(ctx, false); err != nil {
		return res, err
	}
	e.mu.RLock()
	moved := e.rev != gen
	e.mu.RUnlock()
	if !moved {
		return res, nil
	}
	return eval()
}

func (e *Enforcer) denied(ctx context.Context, principal, action, resource string, res *policy.Result, reason string) *authz.DeniedError {
	e.log.LogAttrs(ctx, slog.LevelInfo, "iam: denied", slog.String("principal", principal),
		slog.String("action", action), slog.String("resource", resource), slog.String("reason", reason))
	return &authz.DeniedError{Principal: principal, Action: action, Resource: resource, Reason: reason, Decision: res}
}

// NeedsResourceTags implements authz.ResourceTagger: a decision for id may
// read the resource's tags when one of its policies (identity, boundary,
// session) mentions them. The account root's never does.
func (e *Enforcer) NeedsResourceTags(ctx context.Context, id *authz.Identity) bool {
	return e.callerNeedsResourceTags(ctx, e.callerOf(id))
}

func (e *Enforcer) callerNeedsResourceTags(ctx context.Context, c caller) bool {
	if c.root || c.kind == "" {
		return false
	}
	if docMentionsResourceTag(c.session) {
		return true
	}
	for _, arn := range c.sessionARNs {
		if ent, err := e.entity(ctx, store.KindPolicy, arn); err != nil || ent.resourceTags {
			return true
		}
	}
	ent, err := e.entity(ctx, c.kind, c.name)
	// Unreadable: say yes, so the decision that follows reads what it can.
	return err != nil || ent.resourceTags
}

// iamResourceTags adds the tags of resource to m when it is a role or user
// of podid's account: aws:ResourceTag/KEY and iam:ResourceTag/KEY (IAM UG,
// "Controlling access to and for IAM users and roles using tags" [DOC]).
func (e *Enforcer) iamResourceTags(ctx context.Context, keys *requestKeys, resource string) error {
	prefix := "arn:" + e.cfg.Partition + ":iam::" + e.cfg.AccountID + ":"
	rest, ok := strings.CutPrefix(resource, prefix)
	if !ok {
		return nil
	}
	var kind store.Kind
	switch {
	case strings.HasPrefix(rest, "role/"):
		kind = store.KindRole
	case strings.HasPrefix(rest, "user/"):
		kind = store.KindUser
	default:
		return nil
	}
	ent, err := e.entity(ctx, kind, lastSegment(rest))
	if err != nil {
		return err
	}
	if !ent.missing && ent.arn == resource {
		keys.resourceTags = ent.tags
	}
	return nil
}
