// Package store defines podid's storage contract: plain value records for
// clusters and pod identity associations, the sentinel errors every backend
// returns, and the Store interface that the embedded SQLite backend and the
// PostgreSQL backend both implement (and that storetest checks).
//
// The shape follows dex's storage package: context-first methods over value
// structs, read-modify-write updates as closures run inside the backend's
// transaction, and driver errors turned into the sentinels below at the edge.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them (fmt.Errorf("...: %w", ErrNotFound)) so
// callers test with errors.Is.
var (
	// ErrNotFound: the cluster or association does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a cluster with that name, or an association for that
	// (cluster, namespace, service account), already exists. For associations
	// the returned error is an *ExistsError naming the existing ID.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLimitExceeded: the per-cluster association limit was reached.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrIdempotencyMismatch: a client request token was reused with
	// different parameters.
	ErrIdempotencyMismatch = errors.New("client request token reused with different parameters")
	// ErrNoSpace: the write was not applied because the store's disk (or
	// its database server's) has no space left. Reads still work; writes
	// work again once space is freed.
	ErrNoSpace = errors.New("no space left on the store's disk")
)

// ExistsError is returned (wrapping ErrAlreadyExists) when a create collides
// with an existing record. ID names the existing association (empty for
// clusters); for IAM records, Kind is the record's kind and ID the name
// asked for.
type ExistsError struct {
	ID   string
	Kind Kind
}

func (e *ExistsError) Error() string {
	if e.ID == "" {
		return ErrAlreadyExists.Error()
	}
	return "already exists: " + e.ID
}

// Unwrap makes errors.Is(err, ErrAlreadyExists) true.
func (e *ExistsError) Unwrap() error { return ErrAlreadyExists }

// Association is a pod identity association as stored. ARNs are derived from
// its region and the server's account and are not stored.
type Association struct {
	// Region is the AWS region of the association's cluster: a cluster
	// is keyed by (Region, Name), as EKS's are.
	Region             string
	ID                 string // "a-" + 17 of [a-z0-9]
	ClusterName        string
	Namespace          string
	ServiceAccount     string
	RoleARN            string
	TargetRoleARN      string // empty: no target role
	ExternalID         string // set exactly when TargetRoleARN is set
	Policy             string // session policy JSON; empty: none
	DisableSessionTags bool
	OwnerARN           string
	Tags               map[string]string // never nil when returned by a store
	CreatedAt          time.Time
	ModifiedAt         time.Time
	// Revision is assigned by the store on every write (create, update,
	// tag change) from one store-wide counter. Revisions grow in commit
	// order, so a reader that has applied every change up to R has seen
	// every write acknowledged with a revision <= R.
	Revision int64
}

// Cluster is a (minimal) EKS cluster as stored. Clusters are keyed by
// (Region, Name): one name may be in use in several regions, each its own
// cluster, as on EKS.
type Cluster struct {
	Region             string
	Name               string
	CreatedAt          time.Time
	Version            string
	RoleARN            string
	ClientRequestToken string
	// Config holds the restJson members of the cluster that podid only
	// stores and echoes (resourcesVpcConfig, kubernetesNetworkConfig,
	// logging, accessConfig, ...), as a JSON object.
	Config []byte
	Tags   map[string]string // never nil when returned by a store
	// Issuer describes whose service-account tokens this cluster trusts.
	Issuer Issuer
	// APIServer is the cluster's real Kubernetes API server, when one was
	// registered (podid cluster register); zero otherwise.
	APIServer APIServer
	// Revision as for Association.
	Revision int64
}

// Issuer is the service-account token issuer a cluster trusts.
type APIServer struct {
	// Endpoint is the API server's https URL (DescribeCluster's endpoint).
	Endpoint string
	// CAData is the PEM certificate authority of its serving certificate
	// (DescribeCluster's certificateAuthority.data, base64-encoded there).
	CAData []byte
}

// Issuer is a cluster's service-account token issuer.
type Issuer struct {
	// URL is an external issuer's ("iss") URL. Empty means podid itself
	// issues the cluster's tokens, as PodidURL.
	URL string
	// PodidURL is the issuer URL of podid's own tokens for this cluster
	// (.../clusters-oidc/{name}), fixed when the cluster is created, as EKS
	// fixes a cluster's OIDC issuer: every replica and every restart signs
	// and verifies the cluster's tokens as this URL, whatever its own
	// public URL. It is kept while an external issuer is set, so a switch
	// back keeps tokens valid. Empty only for a cluster stored before
	// podid kept it, until the server backfills it.
	PodidURL string
	// JWKSURL, if set, is fetched for the verification keys (external
	// issuer); re-read when an unknown key ID arrives.
	JWKSURL string
	// JWKS is a static JSON Web Key Set (external issuer configured from a
	// file), or empty.
	JWKS []byte
	// SigningKeys is podid's own private key set for this cluster (a JSON
	// Web Key Set with private keys) when podid is the issuer; empty for
	// external issuers.
	SigningKeys []byte
}

// Idempotency identifies a client request token for replay detection.
type Idempotency struct {
	// Key scopes the token: operation, cluster and token, e.g.
	// "CreatePodIdentityAssociation/c1/3f0c...".
	Key string
	// Hash is a digest of the request's parameters. A repeat with the same
	// Key and Hash replays the original result; the same Key with another
	// Hash is ErrIdempotencyMismatch.
	Hash string
}

// WriteOptions tune a create or an update: the one options shape every
// write that takes options has.
type WriteOptions struct {
	// Idempotency is the write's client request token; nil: none. A
	// repeat of the token with the same parameters returns the stored
	// result without writing again.
	Idempotency *Idempotency
	// MaxPerCluster is the association limit per cluster
	// (CreateAssociation only); a create that would exceed it fails with
	// ErrLimitExceeded. 0 means no limit.
	MaxPerCluster int
}

// AssociationFilter narrows ListAssociations to exact matches. Empty fields
// match everything.
type AssociationFilter struct {
	Namespace      string
	ServiceAccount string
}

// Page asks for one page of a listing ordered by the record's key (the
// association ID, the cluster name). After is the last key of the previous
// page (empty for the first page); Limit is the page size (>= 1).
//
// Keyset paging gives every record that exists throughout a listing exactly
// once, whatever is created or deleted meanwhile.
type Page struct {
	After string
	Limit int
}

// Change is one entry of the change feed: the current state of an
// association that was written after a given revision, or its deletion.
type Change struct {
	Revision      int64
	Region        string
	ClusterName   string
	AssociationID string
	// Association is the association as of Revision; nil when Deleted.
	Association *Association
	Deleted     bool
}

// Store is what the server needs from a backend. Every method is safe for
// concurrent use; every write is durable when it returns nil. Times are kept
// in UTC to at least the millisecond, and a write returns the record exactly
// as a later read returns it.
type Store interface {
	// IAM is podid's IAM: roles, users, policies, access keys.
	IAM
	// Audit is the audit trail's events.
	Audit

	// CreateCluster stores a new cluster. A name in use in c.Region is
	// ErrAlreadyExists (an *ExistsError). With opts' token: a replay
	// returns the stored cluster.
	CreateCluster(ctx context.Context, c Cluster, opts WriteOptions) (Cluster, error)
	GetCluster(ctx context.Context, region, name string) (Cluster, error)
	// GetClusterPublic returns what GetCluster returns, except that
	// Issuer.JWKS and Issuer.SigningKeys are nil: a backend may skip
	// reading the key sets (SQLite then skips their overflow pages).
	// DescribeCluster uses it; callers that verify or sign tokens use
	// GetCluster.
	GetClusterPublic(ctx context.Context, region, name string) (Cluster, error)
	// UpdateCluster runs fn on the current record inside one transaction and
	// stores what fn leaves (the region and name cannot change). An error
	// from fn aborts and is returned as is.
	UpdateCluster(ctx context.Context, region, name string, fn func(*Cluster) error) (Cluster, error)
	// DeleteCluster removes the cluster, its associations and their tags,
	// and returns the cluster as it was, except Revision: the revision as
	// of which the delete is in effect (the last of its associations'
	// deletions; the store's revision at the delete when it had none).
	DeleteCluster(ctx context.Context, region, name string) (Cluster, error)
	// ListClusters returns the names of region's clusters in ascending
	// order, and the name to pass as Page.After for the next page (""
	// when there is no more).
	ListClusters(ctx context.Context, region string, p Page) (names []string, next string, err error)

	// CreateAssociation stores a new association. The caller fills every
	// field but Revision. The cluster (a.Region, a.ClusterName) must exist
	// (ErrNotFound); (cluster, namespace, service account) must be free
	// (an *ExistsError naming the existing ID).
	CreateAssociation(ctx context.Context, a Association, opts WriteOptions) (Association, error)
	GetAssociation(ctx context.Context, region, cluster, id string) (Association, error)
	// UpdateAssociation is a read-modify-write in one transaction: fn gets
	// the current record and edits it in place; ID, region, cluster,
	// namespace and service account cannot change. An error from fn aborts
	// and is returned as is. With a token, a replay returns the stored
	// result without calling fn.
	UpdateAssociation(ctx context.Context, region, cluster, id string, fn func(*Association) error, opts WriteOptions) (Association, error)
	// DeleteAssociation removes the association and returns it as it was,
	// except Revision: the delete's own revision (its entry in the change
	// feed).
	DeleteAssociation(ctx context.Context, region, cluster, id string) (Association, error)
	// ListAssociations returns a page of the cluster's associations ordered
	// by ID, and the ID to pass as Page.After for the next page ("" when
	// there is no more). An unknown cluster is ErrNotFound.
	ListAssociations(ctx context.Context, region, cluster string, f AssociationFilter, p Page) (items []Association, next string, err error)

	// AdoptRegion gives region to every cluster and association (and
	// deletion in the change feed) stored before podid kept regions, and
	// returns how many clusters it gave it. A server runs it at start
	// with its --region, before it serves; records with a region already
	// are left alone, so a second run (or another replica's) changes
	// nothing. It takes no revision: the records are as they were, only
	// now with the region they were always in.
	AdoptRegion(ctx context.Context, region string) (int, error)

	// ChangesSince returns up to limit changes with Revision > after, in
	// revision order. A caller that has applied all of them is current as
	// of the last one's revision.
	ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error)
	// Revision returns the newest revision the store has assigned.
	Revision(ctx context.Context) (int64, error)

	// Secret returns the named secret, creating it with gen the first time;
	// concurrent callers (and replicas) all get the same value.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)

	// Close releases the backend's resources.
	Close() error
}

// Watcher is implemented by backends that can signal committed changes
// promptly (an in-process signal for SQLite, LISTEN/NOTIFY for PostgreSQL).
// Readers of the change feed wait on it instead of polling tightly; they
// still resync periodically in case a signal is lost.
type Watcher interface {
	// Watch returns a channel that receives a value after one or more
	// changes are committed (signals may be coalesced), until ctx ends.
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// KnownRevisions is implemented by Watchers that know, without reading
// the database, what their signals announce: a replica knows the revisions
// it committed itself, and the PostgreSQL store's notifications carry the
// revisions other replicas committed. A reader woken by Watch may take the
// revisions from here instead of reading Revision and IAMRevision (one
// round trip each per commit on a networked database).
type KnownRevisions interface {
	// KnownRevisions returns the newest revision and IAM revision known
	// to be committed. Both are set before the Watch signal that
	// announces them, and a read that starts after that signal sees
	// everything up to them. ok is false when the store does not know
	// (no listener yet, or notifications may have been missed): read
	// Revision and IAMRevision then.
	KnownRevisions() (rev, iamRev int64, ok bool)
}

// RecentChanges is implemented by Watchers that keep the change feed of
// their own recent commits in memory (storecore.ChangeLog): a reader woken
// by Watch takes what the commits it was signalled for changed from here,
// without reading the database (the read of the feed cost a local store
// about as much as the write it follows). It answers only while it knows
// every change after the reader's revision: no other process committed
// since (its commits are not in this memory), and the reader is not
// further behind than the memory reaches.
type RecentChanges interface {
	// RecentChanges returns the changes with Revision > after, in
	// revision order, and through, the newest revision committed as far
	// as this process knows (a reader that applied them is current as of
	// through, as after ChangesSince and Revision). Every change it
	// returns is durable, and every write of this process that returned
	// is among them. ok is false when it cannot tell (after is
	// outside its memory, or another process wrote since): read
	// ChangesSince then. The changes and their associations are shared:
	// do not modify them.
	RecentChanges(after int64) (changes []Change, through int64, ok bool)
}
