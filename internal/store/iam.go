package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IAMKey is the key of a role, user or managed policy name: names are
// unique ignoring case, and listings are ordered by key.
func IAMKey(name string) string { return strings.ToLower(name) }

// IAM is the storage contract of podid's IAM: roles, users, managed
// policies, their attachments and users' access keys. IAM is global: one
// set per store, whatever region a server answers for.
//
// Names of roles, users and managed policies are unique ignoring case, as
// IAM's are ("Role with name X already exists" for x); a record keeps the
// name as created and lookups by name ignore case. ARNs are made by the
// caller (it knows the account) and stored as given.
//
// Every write takes one revision of the store-wide counter, so watchers
// (store.Watcher) are signalled, and records it as the IAM revision
// (IAMRevision): a reader that cached what it read at IAM revision R is
// current as long as IAMRevision still returns R.
//
// Writes are serialized with every other write of the store (no lost
// update); a read-modify-write function runs inside the write transaction,
// under the same rules as UpdateAssociation's.
type IAM interface {
	// CreateRole stores a new role. A name in use (ignoring case) is
	// ErrAlreadyExists (an *ExistsError of KindRole naming the name).
	CreateRole(ctx context.Context, r Role) (Role, error)
	// GetRole returns the role named name (ignoring case); ErrNotFound (a
	// *MissingError of KindRole) when there is none.
	GetRole(ctx context.Context, name string) (Role, error)
	// UpdateRole runs fn on the current role in the write transaction and
	// stores what it leaves. Name, Path, ID, ARN, CreatedAt and
	// AttachedPolicies cannot change (attach and detach instead); inline
	// policies (Policies) and the rest can.
	UpdateRole(ctx context.Context, name string, fn func(*Role) error) (Role, error)
	// DeleteRole removes a role and returns it as it was. A role with
	// inline policies is an *InUseError of ConflictPolicies, one with
	// attached policies of ConflictAttached.
	DeleteRole(ctx context.Context, name string) (Role, error)
	// ListRoles returns a page of the roles whose path starts with
	// pathPrefix ("" or "/": all), ordered by IAMKey(name); next is the
	// Page.After of the following page ("" at the end).
	ListRoles(ctx context.Context, pathPrefix string, p Page) (roles []Role, next string, err error)

	// CreateUser, GetUser, DeleteUser and ListUsers are the role methods
	// for users. DeleteUser also refuses a user with access keys
	// (ConflictAccessKeys).
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, name string) (User, error)
	// UpdateUser is UpdateRole for users, except that fn may rename the
	// user (Name, Path and ARN): the new name must be free
	// (ErrAlreadyExists), and the user's access keys follow.
	UpdateUser(ctx context.Context, name string, fn func(*User) error) (User, error)
	DeleteUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context, pathPrefix string, p Page) (users []User, next string, err error)

	// CreatePolicy stores a new managed policy with its versions (the
	// caller makes version "v1" the default). A policy name in use
	// (ignoring case, whatever the path) is ErrAlreadyExists.
	CreatePolicy(ctx context.Context, mp ManagedPolicy) (ManagedPolicy, error)
	// GetPolicy returns the managed policy with ARN arn; ErrNotFound (a
	// *MissingError of KindPolicy) when there is none.
	GetPolicy(ctx context.Context, arn string) (ManagedPolicy, error)
	// UpdatePolicy runs fn on the current policy in the write transaction
	// (versions, default version, description, tags, UpdatedAt). Name,
	// Path, ID, ARN, CreatedAt and AttachmentCount cannot change. The
	// default version must be one of the versions.
	UpdatePolicy(ctx context.Context, arn string, fn func(*ManagedPolicy) error) (ManagedPolicy, error)
	// DeletePolicy removes a managed policy. One still attached is an
	// *InUseError of ConflictPolicyAttached; one with versions besides the
	// default of ConflictPolicyVersions.
	DeletePolicy(ctx context.Context, arn string) (ManagedPolicy, error)
	// ListPolicies lists managed policies as ListRoles lists roles.
	ListPolicies(ctx context.Context, pathPrefix string, p Page) (policies []ManagedPolicy, next string, err error)

	// AttachPolicy attaches the managed policy arn to the role or user
	// (kind KindRole or KindUser) named name. Attaching an attached policy
	// again changes nothing. limit (> 0) bounds the entity's attached
	// policies: one more is ErrLimitExceeded (a *LimitError). A missing
	// entity or policy is a *MissingError saying which.
	AttachPolicy(ctx context.Context, kind Kind, name, arn string, limit int) error
	// DetachPolicy detaches it; a policy not attached is a *MissingError
	// of KindAttachment.
	DetachPolicy(ctx context.Context, kind Kind, name, arn string) error

	// CreateAccessKey stores a new access key of an existing user. The
	// user's limit+1st key is ErrLimitExceeded (a *LimitError).
	CreateAccessKey(ctx context.Context, k AccessKey, limit int) (AccessKey, error)
	// ListAccessKeys returns the user's access keys, oldest first.
	ListAccessKeys(ctx context.Context, userName string) ([]AccessKey, error)
	// SetAccessKeyStatus sets the status of the user's access key id; a
	// key that is not the user's is a *MissingError of KindAccessKey.
	SetAccessKeyStatus(ctx context.Context, userName, id string, status AccessKeyStatus) (AccessKey, error)
	// DeleteAccessKey removes the user's access key id.
	DeleteAccessKey(ctx context.Context, userName, id string) (AccessKey, error)
	// LookupAccessKey returns an access key and its user, read together
	// (the authentication path); ErrNotFound when the key does not exist.
	LookupAccessKey(ctx context.Context, id string) (AccessKey, User, error)

	// RolePrincipal and UserPrincipal return what the policy engine needs
	// about a role or a user in one call: the record (trust policy and
	// inline policies included) and the default version of every attached
	// managed policy, with the IAM revision read before them (what is
	// returned is at least that new), so a caller may cache what it parsed
	// until IAMRevision moves.
	RolePrincipal(ctx context.Context, name string) (Principal, error)
	UserPrincipal(ctx context.Context, name string) (Principal, error)
	// IAMRevision is the revision of the newest IAM write (0: none yet).
	IAMRevision(ctx context.Context) (int64, error)

	// CreateOIDCProvider stores a new OpenID Connect provider. Its ARN
	// is its key: one in use is ErrAlreadyExists (an *ExistsError of
	// KindOIDCProvider naming the provider's URL).
	CreateOIDCProvider(ctx context.Context, p OIDCProvider) (OIDCProvider, error)
	// GetOIDCProvider returns the provider with ARN arn; ErrNotFound (a
	// *MissingError of KindOIDCProvider) when there is none.
	GetOIDCProvider(ctx context.Context, arn string) (OIDCProvider, error)
	// UpdateOIDCProvider runs fn on the current provider in the write
	// transaction and stores what it leaves; ARN, URL and CreatedAt
	// cannot change.
	UpdateOIDCProvider(ctx context.Context, arn string, fn func(*OIDCProvider) error) (OIDCProvider, error)
	// DeleteOIDCProvider removes a provider and returns it as it was.
	DeleteOIDCProvider(ctx context.Context, arn string) (OIDCProvider, error)
	// ListOIDCProviders returns a page of the providers, ordered by ARN.
	ListOIDCProviders(ctx context.Context, p Page) (providers []OIDCProvider, next string, err error)
}

// Kind names a kind of IAM record in errors and in AttachPolicy.
type Kind string

// The kinds of IAM records.
const (
	KindRole       Kind = "role"
	KindUser       Kind = "user"
	KindPolicy     Kind = "policy"
	KindAccessKey  Kind = "access key"
	KindAttachment Kind = "attachment" // a managed policy attached to a role or user
	// KindOIDCProvider is an OpenID Connect identity provider.
	KindOIDCProvider Kind = "OpenID Connect provider"
)

// MissingError is returned (wrapping ErrNotFound) by IAM methods, naming
// which record is missing: the role, user, policy, access key or
// attachment Name.
type MissingError struct {
	Kind Kind
	Name string
}

func (e *MissingError) Error() string { return string(e.Kind) + " " + e.Name + ": not found" }

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *MissingError) Unwrap() error { return ErrNotFound }

// LimitError is returned (wrapping ErrLimitExceeded) by IAM writes that
// would exceed a quota: an user's access keys (Kind KindAccessKey), or the
// policies attached to a role or user (Kind KindAttachment, Entity the
// kind of the role or user).
type LimitError struct {
	Kind   Kind
	Entity Kind
	Limit  int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s %s limit of %d exceeded", e.Entity, e.Kind, e.Limit)
}

// Unwrap makes errors.Is(err, ErrLimitExceeded) true.
func (e *LimitError) Unwrap() error { return ErrLimitExceeded }

// ErrInUse: a delete refused because the record is still in use.
var ErrInUse = errors.New("in use")

// InUseError (wrapping ErrInUse) says what a delete found in the way.
type InUseError struct {
	Conflict Conflict
}

// Conflict is what keeps a record from being deleted.
type Conflict string

// The conflicts of DeleteRole, DeleteUser and DeletePolicy.
const (
	ConflictPolicies       Conflict = "inline policies"
	ConflictAttached       Conflict = "attached policies"
	ConflictAccessKeys     Conflict = "access keys"
	ConflictPolicyAttached Conflict = "attached to entities"
	ConflictPolicyVersions Conflict = "non-default versions"
)

func (e *InUseError) Error() string { return "in use: " + string(e.Conflict) }

// Unwrap makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Unwrap() error { return ErrInUse }

// Role is an IAM role.
type Role struct {
	Name string // as created
	Path string // "/" or "/a/b/"
	ID   string // "AROA..."
	ARN  string
	// AssumeRolePolicy is the trust policy document, as written.
	AssumeRolePolicy    string
	Description         string
	MaxSessionDuration  int32  // seconds
	PermissionsBoundary string // a managed policy ARN, or ""
	Tags                map[string]string
	// Policies are the inline policies: name -> document. Never nil
	// when returned by a store.
	Policies map[string]string
	// AttachedPolicies are the ARNs of the attached managed policies, in
	// attachment order. Never nil when returned by a store.
	AttachedPolicies []string
	CreatedAt        time.Time
	// Revision is the store revision of the record's last write.
	Revision int64
}

// User is an IAM user.
type User struct {
	Name                string
	Path                string
	ID                  string // "AIDA..."
	ARN                 string
	PermissionsBoundary string
	Tags                map[string]string
	Policies            map[string]string // inline policies, as for Role
	AttachedPolicies    []string
	CreatedAt           time.Time
	Revision            int64
}

// ManagedPolicy is a customer managed policy and its versions.
type ManagedPolicy struct {
	Name        string
	Path        string
	ID          string // "ANPA..."
	ARN         string
	Description string
	// DefaultVersion is the ID of the version in effect ("v1", ...).
	DefaultVersion string
	// Versions, oldest first (at most five, IAM's quota the caller
	// enforces).
	Versions []PolicyVersion
	// NextVersion is the number of the next version to create: IAM never
	// reuses a deleted version's ID.
	NextVersion int
	// AttachmentCount is how many roles and users it is attached to,
	// kept by AttachPolicy and DetachPolicy.
	AttachmentCount int
	Tags            map[string]string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Revision        int64
}

// Version returns the version with ID id.
func (mp *ManagedPolicy) Version(id string) (PolicyVersion, bool) {
	for _, v := range mp.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return PolicyVersion{}, false
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID        string // "v1", "v2", ...
	Document  string
	CreatedAt time.Time
}

// AccessKeyStatus is Active or Inactive; an Inactive key authenticates
// nothing.
type AccessKeyStatus string

// The access key statuses, as IAM spells them.
const (
	AccessKeyActive   AccessKeyStatus = "Active"
	AccessKeyInactive AccessKeyStatus = "Inactive"
)

// AccessKey is a user's long-term access key. The store keeps no secret:
// the IAM layer derives a key's secret from its ID and a key kept with
// Store.Secret, so the table of keys is no table of secrets.
type AccessKey struct {
	ID        string // "AKIA..."
	UserName  string
	Status    AccessKeyStatus
	CreatedAt time.Time
	Revision  int64
}

// OIDCProvider is an IAM OpenID Connect identity provider: an issuer
// whose tokens roles may trust (AssumeRoleWithWebIdentity), as EKS's IAM
// roles for service accounts use it.
type OIDCProvider struct {
	// ARN is arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH: the URL
	// without its scheme (and port).
	ARN string
	// URL is HOST/PATH, as GetOpenIDConnectProvider returns it.
	URL string
	// ClientIDs are the audiences, in the order added. Never nil when
	// returned by a store.
	ClientIDs []string
	// Thumbprints are the server certificates' SHA-1 thumbprints (hex).
	// Never nil when returned by a store.
	Thumbprints []string
	Tags        map[string]string
	CreatedAt   time.Time
	Revision    int64
}

// Principal is a role or a user with every policy document the engine
// evaluates for it (RolePrincipal, UserPrincipal). Treat it as read-only:
// callers may share it.
type Principal struct {
	Role *Role // set for a role: its trust policy and inline policies
	User *User // set for a user: its inline policies
	// Attached are the attached managed policies' default versions, in
	// attachment order. An attachment whose policy is gone (never, as
	// DeletePolicy refuses) is left out.
	Attached []AttachedPolicy
	// Boundary is the permissions boundary's default version when the
	// role or user has one that is a customer managed policy of the store;
	// nil otherwise (no boundary, an AWS managed policy, or a policy that
	// is gone: PermissionsBoundary says which).
	Boundary *AttachedPolicy
	// IAMRevision is the IAM revision read before the records.
	IAMRevision int64
}

// AttachedPolicy is the document in effect of an attached managed policy.
type AttachedPolicy struct {
	ARN       string
	Name      string
	VersionID string
	Document  string
}
