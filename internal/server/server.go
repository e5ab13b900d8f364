// Package server is podid's control plane: an http.Handler speaking the EKS
// API subset for pod identity associations and minimal clusters (restJson1,
// wire-exact as the AWS SDKs send and parse it) on top of a store.Store.
//
// Every response carries X-Amzn-RequestId; every error is an AWS-shaped JSON
// error (status, X-Amzn-ErrorType, {"__type","message",...}) produced by one
// mapping function, whether it comes from validation, the store, an unknown
// route, a wrong method, a malformed or oversized body, or a panic.
//
// The server builds the HTTP host (internal/httpx); other parts of podid
// (EKS Auth, STS, OIDC discovery, the admin API) mount their handler
// families on it through Config.Mounts, and Config.Authenticate runs before
// every handler.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Defaults for Config fields left zero.
const (
	DefaultRegion                    = "us-east-1"
	DefaultAccountID                 = "000000000000"
	DefaultPartition                 = "aws"
	DefaultMaxBodyBytes              = httpx.DefaultMaxBodyBytes
	DefaultMaxAssociationsPerCluster = 5000
	DefaultPublicURL                 = "http://127.0.0.1:8080"
)

// Config configures a Server. Only Store is required.
type Config struct {
	// Store holds clusters and associations.
	Store store.Store
	// Region is the region of requests whose signing scope names none
	// (unsigned requests under --auth none, podid's own clients' defaults)
	// and of the issuer URLs /clusters-oidc/{name} (other regions'
	// clusters get /clusters-oidc/{region}/{name}). A signed request's
	// resources are its scope region's, as on AWS. Default "us-east-1".
	Region string
	// AccountID is the 12-digit account that owns every cluster and
	// association. Default "000000000000".
	AccountID string
	// Partition is the ARN partition. Default "aws".
	Partition string
	// Logger receives one line per request and the details of internal
	// errors. nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock. nil: time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds request bodies; a larger body is a 413
	// RequestEntityTooLargeException. Default 256 KiB
	// (httpx.DefaultMaxBodyBytes says why).
	MaxBodyBytes int64
	// BodyBudget and BodyReadTimeout bound the request bodies being
	// received (before their signature is checked): see httpx.Config.
	// Zero: httpx's defaults; negative: none.
	BodyBudget      int64
	BodyReadTimeout time.Duration
	// MaxAssociationsPerCluster is the association quota per cluster; one
	// more is a ResourceLimitExceededException. Default 5000.
	MaxAssociationsPerCluster int
	// PublicURL is the base URL clients use to reach this server, e.g.
	// http://127.0.0.1:8080. It is every cluster's endpoint and the base of
	// the issuer URL of clusters whose tokens podid issues. Default
	// "http://127.0.0.1:8080".
	PublicURL string
	// Mounts mount the other handler families (EKS Auth, STS, OIDC
	// discovery, the admin API) on the same host, with the same request
	// ID, logging, recovery, body limit, authentication and error mapping
	// as the EKS routes.
	Mounts []func(*httpx.Host) error
	// Routes are plain handlers mounted on the same host (GET /metrics),
	// keyed by http.ServeMux pattern, behind Authenticate.
	Routes map[string]http.Handler
	// Authenticate authenticates every request but GET /healthz (SigV4):
	// the request with the caller's identity, or the refusal for the host
	// to write. nil: none.
	Authenticate func(*http.Request) (*http.Request, error)
	// Observer sees every request the host serves (the audit trail's
	// recorder). nil: none.
	Observer httpx.Observer
	// Authorizer decides, for each EKS operation, whether the caller
	// Authenticate authenticated may perform it (see authz.go). nil: every
	// caller may do everything.
	Authorizer authz.Authorizer
	// NewClusterIssuer is called by CreateCluster to make the cluster's
	// token issuer (signing keys). nil: an empty Issuer (podid issues the
	// cluster's tokens at IssuerURL, with keys made elsewhere).
	NewClusterIssuer func(ctx context.Context, clusterName string) (store.Issuer, error)
}

// Server serves the EKS API subset. Create it with New.
type Server struct {
	cfg     Config
	names   Names
	store   store.Store
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler

	// tokenKey is the MAC key for page tokens, loaded from the store once.
	tokenKeyMu sync.Mutex
	tokenKey   []byte
	// lastToken is the page token encoded last: clients walking the same
	// listing (the first page of ListClusters, most often) get the same
	// token, and its MAC costs more than the rest of the page's answer.
	lastToken atomic.Pointer[encodedPageToken]

	// cas memoizes certificateAuthorityOf by cluster config.
	caMu sync.Mutex
	cas  map[string]*eksapi.CertificateData
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// New checks cfg, fills its defaults and builds the handler.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	problems := cfg.problems()
	if cfg.Store == nil {
		problems = append([]error{errors.New("a store is required")}, problems...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("server config: %w", errors.Join(problems...))
	}

	s := &Server{cfg: cfg, names: cfg.Names(), store: cfg.Store, log: cfg.Logger, now: cfg.Now, cas: map[string]*eksapi.CertificateData{}}
	host := httpx.New(httpx.Config{
		Logger:          cfg.Logger,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		BodyBudget:      cfg.BodyBudget,
		BodyReadTimeout: cfg.BodyReadTimeout,
		Health: func(ctx context.Context) error {
			_, err := s.store.Revision(ctx)
			return err
		},
		Authenticate: cfg.Authenticate,
		Observer:     cfg.Observer,
	})
	errs := []error{s.Mount(host)}
	for _, mount := range cfg.Mounts {
		errs = append(errs, mount(host))
	}
	for pattern, h := range cfg.Routes {
		errs = append(errs, host.HandleHTTP(pattern, httpx.EKS, h))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("server config: routes: %w", err)
	}
	s.handler = host
	return s, nil
}

// Validate reports every problem with cfg's fields other than Store (zero
// fields take their defaults), joined into one error; nil when New would
// accept cfg with a store.
func (cfg Config) Validate() error {
	return errors.Join(cfg.withDefaults().problems()...)
}

func (cfg Config) withDefaults() Config {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Partition == "" {
		cfg.Partition = DefaultPartition
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxAssociationsPerCluster == 0 {
		cfg.MaxAssociationsPerCluster = DefaultMaxAssociationsPerCluster
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = DefaultPublicURL
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

func (cfg Config) problems() []error {
	var problems []error
	if !regionPattern.MatchString(cfg.Region) {
		problems = append(problems, fmt.Errorf("region %q is not a valid AWS region name", cfg.Region))
	}
	if !accountIDPattern.MatchString(cfg.AccountID) {
		problems = append(problems, fmt.Errorf("account ID %q is not 12 digits", cfg.AccountID))
	}
	if !partitionPattern.MatchString(cfg.Partition) {
		problems = append(problems, fmt.Errorf("partition %q is not a valid AWS partition name", cfg.Partition))
	}
	if cfg.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Errorf("max body bytes %d is negative", cfg.MaxBodyBytes))
	}
	if cfg.MaxAssociationsPerCluster < 0 {
		problems = append(problems, fmt.Errorf("max associations per cluster %d is negative", cfg.MaxAssociationsPerCluster))
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		problems = append(problems, fmt.Errorf("public URL %q is not an absolute http(s) URL", cfg.PublicURL))
	}
	return problems
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ClusterARN returns the ARN of region's cluster name:
// arn:{partition}:eks:{region}:{account}:cluster/{name}.
func (s *Server) ClusterARN(region, name string) string { return s.names.ClusterARN(region, name) }

// AssociationARN returns the ARN of an association:
// arn:{partition}:eks:{region}:{account}:podidentityassociation/{cluster}/{id}.
func (s *Server) AssociationARN(region, cluster, id string) string {
	return s.names.AssociationARN(region, cluster, id)
}

// region is the region r acts in: its signing scope's, else the server's.
func (s *Server) region(r *http.Request) string { return authz.Region(r.Context(), s.cfg.Region) }

// IssuerURL returns the service-account token issuer of cluster c: its
// configured Issuer.URL, or PublicURL + "/clusters-oidc/" + name when podid
// issues the cluster's tokens itself.
func (s *Server) IssuerURL(c store.Cluster) string { return s.names.IssuerURL(c) }

// Names are a server's naming rules (ARNs, issuer URLs), for handlers
// that are built before the Server (they go into Config.Routes) and need
// the same names.
type Names struct {
	partition, account string
	region             string // the server's: its issuer URLs name no region
	publicURL          string // without a trailing slash
}

// Names returns the naming rules of a server made from cfg (defaults
// applied).
func (cfg Config) Names() Names {
	c := cfg.withDefaults()
	return Names{partition: c.Partition, account: c.AccountID, region: c.Region, publicURL: c.PublicURL}
}

// Region is the server's region (Config.Region).
func (n Names) Region() string { return n.region }

// arnPrefix is arn:{partition}:eks:{region}:{account}:.
func (n Names) arnPrefix(region string) string {
	return "arn:" + n.partition + ":eks:" + region + ":" + n.account + ":"
}

// ClusterARN is arn:{partition}:eks:{region}:{account}:cluster/{name}.
// (It and AssociationARN are one concatenation each, one allocation, not
// arnPrefix's and another: every association request makes three.)
func (n Names) ClusterARN(region, name string) string {
	return "arn:" + n.partition + ":eks:" + region + ":" + n.account + ":cluster/" + name
}

// AssociationARN is
// arn:{partition}:eks:{region}:{account}:podidentityassociation/{cluster}/{id}.
func (n Names) AssociationARN(region, cluster, id string) string {
	return "arn:" + n.partition + ":eks:" + region + ":" + n.account + ":podidentityassociation/" + cluster + "/" + id
}

// IssuerURL is the issuer of cluster c's service-account tokens: an
// external issuer's URL (Issuer.URL), else podid's issuer URL for c, fixed
// when c was created (Issuer.PodidURL), else (a cluster stored before
// podid kept that, not yet backfilled) the one this configuration gives it.
func (n Names) IssuerURL(c store.Cluster) string {
	switch {
	case c.Issuer.URL != "":
		return c.Issuer.URL
	case c.Issuer.PodidURL != "":
		return c.Issuer.PodidURL
	}
	return n.PodidIssuerURL(c.Region, c.Name)
}

// PodidIssuerURL is the issuer URL this configuration gives region's
// cluster name created now: PublicURL + "/clusters-oidc/" + name in the
// server's region (as before podid kept regions), PublicURL +
// "/clusters-oidc/" + region + "/" + name in another.
func (n Names) PodidIssuerURL(region, name string) string {
	if region == n.region || region == "" {
		return n.publicURL + "/clusters-oidc/" + name
	}
	return n.publicURL + "/clusters-oidc/" + region + "/" + name
}

// errIssuerKept aborts a backfill's update of a cluster that has its
// issuer URL already.
var errIssuerKept = errors.New("issuer URL already stored")

// BackfillIssuerURLs stores, for every cluster stored before podid kept a
// cluster's own issuer URL, the one this configuration gives it (the URL
// its tokens carry until now), and returns how many it stored. A server
// runs it once at start, before it serves: every replica then agrees on
// those clusters' issuers whatever its own public URL. Replicas starting
// at once store one URL each cluster (the first write wins). Such
// clusters are all in the server's region: they predate regions too, and
// AdoptRegion put them there.
func (n Names) BackfillIssuerURLs(ctx context.Context, st store.Store) (int, error) {
	filled := 0
	p := store.Page{Limit: 100}
	for {
		names, next, err := st.ListClusters(ctx, n.region, p)
		if err != nil {
			return filled, fmt.Errorf("backfilling cluster issuer URLs: %w", err)
		}
		for _, name := range names {
			c, err := st.GetClusterPublic(ctx, n.region, name)
			if errors.Is(err, store.ErrNotFound) || err == nil && c.Issuer.PodidURL != "" {
				continue
			}
			if err != nil {
				return filled, fmt.Errorf("backfilling cluster issuer URLs: %w", err)
			}
			_, err = st.UpdateCluster(ctx, n.region, name, func(c *store.Cluster) error {
				if c.Issuer.PodidURL != "" {
					return errIssuerKept
				}
				c.Issuer.PodidURL = n.PodidIssuerURL(n.region, name)
				return nil
			})
			switch {
			case err == nil:
				filled++
			case !errors.Is(err, errIssuerKept) && !errors.Is(err, store.ErrNotFound):
				return filled, fmt.Errorf("backfilling the issuer URL of cluster %s: %w", name, err)
			}
		}
		if next == "" {
			return filled, nil
		}
		p.After = next
	}
}

// externalID is the sts:ExternalId of an association with a target role
// (spec §3.4 [INF]): {region}/{account}/{cluster}/{namespace}/{serviceAccount},
// the region its cluster's.
func (s *Server) externalID(region, cluster, namespace, serviceAccount string) string {
	return region + "/" + s.cfg.AccountID + "/" + cluster + "/" + namespace + "/" + serviceAccount
}
