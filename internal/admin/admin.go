// Package admin is podid's own API under /podid/v1/ and its Go client,
// which the podid token, wait, issuer and session commands use:
//
//	POST /podid/v1/clusters/{name}/tokens    mint a service-account token   podid:MintToken
//	GET  /podid/v1/clusters/{name}/issuer    show the cluster's issuer      podid:GetIssuer
//	PUT  /podid/v1/clusters/{name}/issuer    set the cluster's issuer       podid:SetIssuer
//	GET  /podid/v1/wait?revision=N|cluster=C&associationId=ID&timeout=30s   podid:Wait
//	POST /podid/v1/sessions/inspect          show a vended session          podid:InspectSession
//
// Every request is authorized as the action on the right through the
// Authorizer. The handlers return errors; the host (internal/httpx) maps
// and writes them (restJson1, as the EKS API's).
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// Paths of the admin API.
const (
	Prefix      = "/podid/v1/"
	WaitPath    = Prefix + "wait"
	InspectPath = Prefix + "sessions/inspect"
)

// TokensPath is where a cluster's tokens are minted.
func TokensPath(cluster string) string { return clusterPath(cluster) + "/tokens" }

// IssuerPath is where a cluster's issuer is shown and set.
func IssuerPath(cluster string) string { return clusterPath(cluster) + "/issuer" }

// Cache is what the admin API needs of the credential path's association
// cache (*assoccache.Cache).
type Cache interface {
	// WaitFor returns once revision rev is in effect, or ctx's error.
	WaitFor(ctx context.Context, rev int64) error
	// AppliedRevision is the revision in effect.
	AppliedRevision() int64
	// InvalidateClusters drops cached clusters (after an issuer change).
	InvalidateClusters()
}

// Sessions opens session tokens (*sts.Service), expired ones too.
type Sessions interface {
	Inspect(token string) (*sts.Session, error)
}

// Config configures a Handler. Every field but Now, Logger, MaxWait and
// Authorizer is required.
type Config struct {
	// Store holds the clusters (issuers) and the revisions to wait for.
	Store store.Store
	// Cache is the credential path's cache podid wait waits on.
	Cache Cache
	// Sessions opens the session tokens to inspect.
	Sessions Sessions
	// IssuerURL gives a cluster's token issuer URL.
	IssuerURL func(store.Cluster) string
	// ClusterARN and AssociationARN name the resources of the actions.
	ClusterARN     func(region, name string) string
	AssociationARN func(region, cluster, id string) string
	// Region is the region of requests whose signing scope names none
	// (the server's --region). A signed request's clusters are its scope
	// region's, as for the EKS API: podid's commands select one with
	// --region. Default "us-east-1" (server.DefaultRegion).
	Region string
	// Authorizer decides every request; nil: every caller may.
	Authorizer authz.Authorizer
	// Explainer answers the explain endpoint; nil: it refuses.
	Explainer Explainer
	// IAMMode is serve's --iam ("enforce" or "off"), reported by explain.
	IAMMode string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger gets issuer changes and internal errors. Default
	// slog.Default().
	Logger *slog.Logger
	// MaxWait bounds the timeout of a wait: keep it below the HTTP
	// server's write timeout. Default 50 s.
	MaxWait time.Duration
	// JWKS fetches a JWKS URL once when an issuer is set with one, so a
	// URL that serves no key set is refused then, not at the first
	// token (*satoken.Verifier). Nil: not checked.
	JWKS interface {
		CheckJWKSURL(ctx context.Context, url string) error
	}
}

// Handler serves the admin API.
type Handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// region is the region r acts in: its signing scope's, else the server's.
func (h *Handler) region(r *http.Request) string { return authz.Region(r.Context(), h.cfg.Region) }

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.cfg.Region == "" {
		h.cfg.Region = "us-east-1" // server.DefaultRegion
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.MaxWait <= 0 {
		h.cfg.MaxWait = 50 * time.Second
	}
	return h
}

// Mount mounts the admin API on host (family httpx.Admin: restJson1
// errors, 64 KiB bodies, behind authentication).
func (h *Handler) Mount(host *httpx.Host) error {
	return errors.Join(
		host.Handle("GET "+WaitPath, httpx.Admin, "Wait", op(h.wait)),
		host.Handle("POST /podid/v1/clusters/{name}/tokens", httpx.Admin, "MintToken", op(h.mintToken)),
		host.Handle("GET /podid/v1/clusters/{name}/issuer", httpx.Admin, "GetClusterIssuer", op(h.getIssuer)),
		host.Handle("PUT /podid/v1/clusters/{name}/issuer", httpx.Admin, "SetClusterIssuer", op(h.putIssuer)),
		host.Handle("POST "+InspectPath, httpx.Admin, "InspectSession", op(h.inspect)),
		host.Handle("POST "+ExplainPath, httpx.Admin, "Explain", op(h.explain)),
	)
}

// op adapts an operation to the host: it authorizes and decodes itself (a
// refusal before reading the body), and returns its response or error.
func op(fn func(r *http.Request) (any, error)) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		out, err := fn(r)
		if err != nil {
			return err
		}
		return httpx.WriteJSON(w, out)
	}
}
