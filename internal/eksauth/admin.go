package eksauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// WaitOutput is the body of a successful GET /podid/v1/wait: the revision
// now in effect for credential requests on this server.
type WaitOutput struct {
	Revision int64 `json:"revision"`
}

// CodeRequestTimeout is the error of a wait that timed out (HTTP 408).
const CodeRequestTimeout = "RequestTimeoutException"

// serveWait answers once the cache has applied the revision asked for:
// revision=N, or the revision of cluster=C&associationId=ID (a deleted
// association: the current revision, which covers its deletion), or with
// neither, the store's current revision (every write made so far).
func (h *Handler) serveWait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	timeout := 30 * time.Second
	if s := q.Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			writeError(w, eksapi.NewError(eksapi.CodeInvalidParameter, "timeout must be a positive duration such as 30s."))
			return
		}
		timeout = min(d, h.cfg.MaxWait)
	}
	rev, err := h.waitRevision(r.Context(), q)
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := h.cfg.Cache.WaitFor(ctx, rev); err != nil {
		e := &eksapi.Error{Code: CodeRequestTimeout, Status: http.StatusRequestTimeout, Message: fmt.Sprintf(
			"Revision %d is not in effect after %s (in effect: %d).", rev, timeout, h.cfg.Cache.AppliedRevision())}
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, WaitOutput{Revision: h.cfg.Cache.AppliedRevision()})
}

func (h *Handler) waitRevision(ctx context.Context, q url.Values) (int64, error) {
	if s := q.Get("revision"); s != "" {
		rev, err := strconv.ParseInt(s, 10, 64)
		if err != nil || rev < 0 {
			return 0, eksapi.NewError(eksapi.CodeInvalidParameter, "revision must be a non-negative integer.")
		}
		return rev, nil
	}
	cluster, id := q.Get("cluster"), q.Get("associationId")
	if id != "" {
		a, err := h.cfg.Store.GetAssociation(ctx, cluster, id)
		if err == nil {
			return a.Revision, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		// Deleted (or never made): the current revision covers it.
	}
	return h.cfg.Store.Revision(ctx)
}

// MintTokenInput is the body of POST /podid/v1/clusters/{name}/tokens.
type MintTokenInput struct {
	Namespace         string `json:"namespace"`
	ServiceAccount    string `json:"serviceAccount"`
	ServiceAccountUID string `json:"serviceAccountUid,omitempty"`
	PodName           string `json:"podName"`
	PodUID            string `json:"podUid"`
	NodeName          string `json:"nodeName,omitempty"`
	// ExpiresInSeconds is the token's lifetime. Default 86400 (the
	// projected token EKS mounts lasts a day).
	ExpiresInSeconds int64 `json:"expiresInSeconds,omitempty"`
}

// MintTokenOutput is its response.
type MintTokenOutput struct {
	Token      string      `json:"token"`
	Expiration eksapi.Time `json:"expiration"`
}

const (
	defaultTokenTTL = 24 * time.Hour
	maxTokenTTL     = 7 * 24 * time.Hour
)

// serveMintToken signs a token for a pod of a podid-issued cluster. Only
// the admin identity may: a token is a pod's identity.
func (h *Handler) serveMintToken(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r, "podid:MintToken"); err != nil {
		writeError(w, err)
		return
	}
	var in MintTokenInput
	if err := decodeBody(r, &in); err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	if in.Namespace == "" || in.ServiceAccount == "" || in.PodName == "" || in.PodUID == "" {
		writeError(w, eksapi.NewError(eksapi.CodeInvalidParameter, "namespace, serviceAccount, podName and podUid are required."))
		return
	}
	ttl := defaultTokenTTL
	if in.ExpiresInSeconds != 0 {
		ttl = time.Duration(in.ExpiresInSeconds) * time.Second
	}
	if ttl <= 0 || ttl > maxTokenTTL {
		writeError(w, eksapi.NewError(eksapi.CodeInvalidParameter, fmt.Sprintf("expiresInSeconds must be between 1 and %d.", int64(maxTokenTTL/time.Second))))
		return
	}
	name := r.PathValue("name")
	c, err := h.cfg.Store.GetCluster(r.Context(), name)
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	if !satoken.PodidIssued(c.Issuer) {
		writeError(w, eksapi.NewError(eksapi.CodeInvalidRequest, "Cluster "+name+" trusts an external token issuer; podid cannot sign its tokens."))
		return
	}
	now := h.now()
	tok, err := satoken.Mint(c.Issuer.SigningKeys, h.cfg.IssuerURL(c), satoken.Claims{
		Namespace: in.Namespace, ServiceAccount: in.ServiceAccount, ServiceAccountUID: in.ServiceAccountUID,
		PodName: in.PodName, PodUID: in.PodUID, NodeName: in.NodeName,
	}, now, ttl)
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	writeJSON(w, http.StatusOK, MintTokenOutput{Token: tok, Expiration: eksapi.NewTime(now.Truncate(time.Second).Add(ttl))})
}

// IssuerDoc is a cluster's token issuer as the admin API shows and sets
// it. To set: IssuerURL with exactly one of JWKS or JWKSURL (an external
// issuer), or PodidIssued true alone (podid signs the cluster's tokens).
type IssuerDoc struct {
	// IssuerURL is the "iss" tokens must carry (on output, the effective
	// one, also for podid-issued clusters).
	IssuerURL   string          `json:"issuerUrl,omitempty"`
	JWKSURL     string          `json:"jwksUrl,omitempty"`
	JWKS        json.RawMessage `json:"jwks,omitempty"`
	PodidIssued bool            `json:"podidIssued"`
}

func (h *Handler) serveGetIssuer(w http.ResponseWriter, r *http.Request) {
	c, err := h.cfg.Store.GetCluster(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	writeJSON(w, http.StatusOK, h.issuerDoc(c))
}

func (h *Handler) issuerDoc(c store.Cluster) IssuerDoc {
	d := IssuerDoc{IssuerURL: h.cfg.IssuerURL(c), JWKSURL: c.Issuer.JWKSURL, PodidIssued: satoken.PodidIssued(c.Issuer)}
	if len(c.Issuer.JWKS) > 0 {
		d.JWKS = json.RawMessage(c.Issuer.JWKS)
	}
	return d
}

func (h *Handler) servePutIssuer(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r, "podid:SetClusterIssuer"); err != nil {
		writeError(w, err)
		return
	}
	var in IssuerDoc
	if err := decodeBody(r, &in); err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	if err := validateIssuer(in); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	cur, err := h.cfg.Store.GetCluster(r.Context(), name)
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	var keys []byte
	if in.PodidIssued && len(cur.Issuer.SigningKeys) == 0 {
		// Made outside the transaction: generating a key is slow.
		if keys, err = satoken.NewSigningKeys(); err != nil {
			writeError(w, h.adminError(r, err))
			return
		}
	}
	c, err := h.cfg.Store.UpdateCluster(r.Context(), name, func(c *store.Cluster) error {
		if in.PodidIssued {
			if len(c.Issuer.SigningKeys) > 0 {
				keys = c.Issuer.SigningKeys // keep the cluster's key: its tokens stay valid
			}
			c.Issuer = store.Issuer{SigningKeys: keys}
			return nil
		}
		// Keep podid's own keys so a switch back keeps them.
		c.Issuer = store.Issuer{URL: in.IssuerURL, JWKSURL: in.JWKSURL, JWKS: []byte(in.JWKS), SigningKeys: c.Issuer.SigningKeys}
		return nil
	})
	if err != nil {
		writeError(w, h.adminError(r, err))
		return
	}
	h.cfg.Cache.InvalidateClusters()
	h.log.Info("eksauth: cluster issuer set", "cluster", c.Name, "issuer", h.cfg.IssuerURL(c), "jwksUrl", c.Issuer.JWKSURL,
		"staticJwks", len(c.Issuer.JWKS) > 0, "podidIssued", satoken.PodidIssued(c.Issuer))
	writeJSON(w, http.StatusOK, h.issuerDoc(c))
}

func validateIssuer(in IssuerDoc) *eksapi.Error {
	bad := func(msg string) *eksapi.Error { return eksapi.NewError(eksapi.CodeInvalidParameter, msg) }
	if in.PodidIssued {
		if in.IssuerURL != "" || in.JWKSURL != "" || len(in.JWKS) > 0 {
			return bad("podidIssued excludes issuerUrl, jwksUrl and jwks.")
		}
		return nil
	}
	if !httpURL(in.IssuerURL) {
		return bad("issuerUrl must be an absolute http(s) URL.")
	}
	switch {
	case (in.JWKSURL == "") == (len(in.JWKS) == 0):
		return bad("Exactly one of jwks and jwksUrl is required.")
	case in.JWKSURL != "" && !httpURL(in.JWKSURL):
		return bad("jwksUrl must be an absolute http(s) URL.")
	case len(in.JWKS) > 0:
		if err := satoken.ValidateJWKS(in.JWKS); err != nil {
			return bad("jwks is not usable: " + err.Error() + ".")
		}
	}
	return nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// requireAdmin refuses callers other than the admin identity. A request
// without an identity (no authentication middleware) passes.
func requireAdmin(r *http.Request, action string) *eksapi.Error {
	id, ok := sts.IdentityFrom(r.Context())
	if !ok || id.IsAdmin() {
		return nil
	}
	return eksapi.NewError(eksapi.CodeAccessDenied, fmt.Sprintf("User: %s is not authorized to perform: %s", id.ARN, action))
}

// adminError maps an admin API failure.
func (h *Handler) adminError(r *http.Request, err error) *eksapi.Error {
	var ae *eksapi.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		name := r.PathValue("name")
		if name == "" {
			name = r.URL.Query().Get("cluster")
		}
		return eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: "+name+".").WithCluster(name)
	}
	h.log.Error("eksauth: admin request failed", "path", r.URL.Path, "err", err)
	return eksapi.NewError(eksapi.CodeServer, "An internal error occurred.")
}
