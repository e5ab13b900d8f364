package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

// WaitOutput is the body of a successful wait: the revision now in effect
// for credential requests on this server.
type WaitOutput struct {
	Revision int64 `json:"revision"`
}

// CodeRequestTimeout is the error of a wait that timed out (HTTP 408).
const CodeRequestTimeout = "RequestTimeoutException"

// wait answers once the cache has applied the revision asked for:
// revision=N, or the revision of cluster=C&associationId=ID (a deleted
// association: its deletion's; one that does not exist, or a cluster that
// does not exist: ResourceNotFoundException), or with
// neither, the store's current revision (every write made so far).
func (h *Handler) wait(r *http.Request) (any, error) {
	q := r.URL.Query()
	resource := "*"
	if c, id := q.Get("cluster"), q.Get("associationId"); id != "" {
		resource = h.cfg.AssociationARN(h.region(r), c, id)
	}
	if err := h.authorize(r, authz.ActionWait, resource); err != nil {
		return nil, err
	}
	timeout := 30 * time.Second
	if s := q.Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, invalidParameter("timeout must be a positive duration such as 30s.")
		}
		timeout = min(d, h.cfg.MaxWait)
	}
	rev, err := h.waitRevision(r.Context(), h.region(r), q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := h.cfg.Cache.WaitFor(ctx, rev); err != nil {
		return nil, &eksapi.Error{Code: CodeRequestTimeout, Status: http.StatusRequestTimeout, Message: fmt.Sprintf(
			"Revision %d is not in effect after %s (in effect: %d).", rev, timeout, h.cfg.Cache.AppliedRevision())}
	}
	return WaitOutput{Revision: h.cfg.Cache.AppliedRevision()}, nil
}

func (h *Handler) waitRevision(ctx context.Context, region string, q url.Values) (int64, error) {
	if s := q.Get("revision"); s != "" {
		rev, err := strconv.ParseInt(s, 10, 64)
		if err != nil || rev < 0 {
			return 0, invalidParameter("revision must be a non-negative integer.")
		}
		return rev, nil
	}
	cluster, id := q.Get("cluster"), q.Get("associationId")
	if id == "" {
		return h.cfg.Store.Revision(ctx)
	}
	a, err := h.cfg.Store.GetAssociation(ctx, region, cluster, id)
	if err == nil {
		return a.Revision, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if _, err := h.cfg.Store.GetClusterPublic(ctx, region, cluster); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, httpx.ClusterNotFound(cluster)
		}
		return 0, err
	}
	// Deleted recently: its tombstone's revision. Never made (or deleted
	// longer ago than the feed remembers): ResourceNotFound, so a script
	// waiting on a mistyped ID fails instead of succeeding at once.
	rev, found, err := h.deletion(ctx, region, cluster, id)
	if err != nil || found {
		return rev, err
	}
	return 0, &httpx.ResourceError{Kind: httpx.KindAssociation, Cluster: cluster, AssociationID: id, Err: store.ErrNotFound}
}

// Bounds of deletion's search of the change feed, newest first.
const (
	deletionWindow  = 1000
	deletionWindows = 10
)

// deletion finds the revision at which the association was deleted, in the
// change feed's last deletionWindows*deletionWindow revisions.
func (h *Handler) deletion(ctx context.Context, region, cluster, id string) (int64, bool, error) {
	top, err := h.cfg.Store.Revision(ctx)
	if err != nil {
		return 0, false, err
	}
	for i := 0; i < deletionWindows && top > 0; i++ {
		after := max(top-deletionWindow, 0)
		changes, err := h.cfg.Store.ChangesSince(ctx, after, deletionWindow)
		if err != nil {
			return 0, false, err
		}
		for _, ch := range changes {
			if ch.Deleted && ch.AssociationID == id && ch.ClusterName == cluster && ch.Region == region {
				return ch.Revision, true, nil
			}
		}
		top = after
	}
	return 0, false, nil
}

// MintTokenInput is the body of a token request.
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

// mintToken signs a token for a pod of a podid-issued cluster (a token is
// a pod's identity).
func (h *Handler) mintToken(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := h.authorize(r, authz.ActionMintToken, h.cfg.ClusterARN(h.region(r), name)); err != nil {
		return nil, err
	}
	var in MintTokenInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	if in.Namespace == "" || in.ServiceAccount == "" || in.PodName == "" || in.PodUID == "" {
		return nil, invalidParameter("namespace, serviceAccount, podName and podUid are required.")
	}
	ttl := defaultTokenTTL
	maxSeconds := int64(maxTokenTTL / time.Second)
	if in.ExpiresInSeconds != 0 {
		// Checked before the conversion: 2^55+3600 seconds overflows a
		// time.Duration into a one-hour token.
		if in.ExpiresInSeconds < 1 || in.ExpiresInSeconds > maxSeconds {
			return nil, invalidParameter(fmt.Sprintf("expiresInSeconds must be between 1 and %d.", maxSeconds))
		}
		ttl = time.Duration(in.ExpiresInSeconds) * time.Second
	}
	if ttl <= 0 || ttl > maxTokenTTL {
		return nil, invalidParameter(fmt.Sprintf("expiresInSeconds must be between 1 and %d.", int64(maxTokenTTL/time.Second)))
	}
	c, err := h.cfg.Store.GetCluster(r.Context(), h.region(r), name)
	if err != nil {
		return nil, err
	}
	if !satoken.PodidIssued(c.Issuer) {
		return nil, eksapi.NewError(eksapi.CodeInvalidRequest, "Cluster "+name+" trusts an external token issuer; podid cannot sign its tokens.")
	}
	now := h.now()
	tok, err := satoken.Mint(c.Issuer.SigningKeys, h.cfg.IssuerURL(c), satoken.Claims{
		Namespace: in.Namespace, ServiceAccount: in.ServiceAccount, ServiceAccountUID: in.ServiceAccountUID,
		PodName: in.PodName, PodUID: in.PodUID, NodeName: in.NodeName,
	}, now, ttl)
	if err != nil {
		return nil, err
	}
	return MintTokenOutput{Token: tok, Expiration: eksapi.NewTime(now.Truncate(time.Second).Add(ttl))}, nil
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
	// APIServerEndpoint and CertificateAuthorityData are the cluster's
	// real Kubernetes API server and the base64 of its PEM CA, for an
	// external issuer registered from the cluster (podid cluster
	// register); DescribeCluster shows them as endpoint and
	// certificateAuthority.data. Setting the issuer without them clears
	// them.
	APIServerEndpoint        string `json:"apiServerEndpoint,omitempty"`
	CertificateAuthorityData string `json:"certificateAuthorityData,omitempty"`
	// Keys lists the verification keys' IDs, on output only: podid's
	// signing keys with their creation time, or a static JWKS's keys (a
	// JWKS URL's keys are read when tokens arrive, not listed).
	Keys []IssuerKey `json:"keys,omitempty"`
}

// IssuerKey is one of a cluster issuer's keys.
type IssuerKey struct {
	KeyID string `json:"keyId"`
	// CreatedAt is when podid made the key (podid-issued clusters).
	CreatedAt *eksapi.Time `json:"createdAt,omitempty"`
}

func (h *Handler) getIssuer(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := h.authorize(r, authz.ActionGetIssuer, h.cfg.ClusterARN(h.region(r), name)); err != nil {
		return nil, err
	}
	c, err := h.cfg.Store.GetCluster(r.Context(), h.region(r), name)
	if err != nil {
		return nil, err
	}
	return h.issuerDoc(c), nil
}

func (h *Handler) issuerDoc(c store.Cluster) IssuerDoc {
	d := IssuerDoc{IssuerURL: h.cfg.IssuerURL(c), JWKSURL: c.Issuer.JWKSURL, PodidIssued: satoken.PodidIssued(c.Issuer)}
	if len(c.Issuer.JWKS) > 0 {
		d.JWKS = json.RawMessage(c.Issuer.JWKS)
	}
	d.Keys = h.issuerKeys(c, d.PodidIssued)
	d.APIServerEndpoint = c.APIServer.Endpoint
	if len(c.APIServer.CAData) > 0 {
		d.CertificateAuthorityData = base64.StdEncoding.EncodeToString(c.APIServer.CAData)
	}
	return d
}

// issuerKeys lists the keys tokens of c are verified with. A podid key
// without a recorded time was made with its cluster (the only way podid
// made keys before recording the time).
func (h *Handler) issuerKeys(c store.Cluster, podidIssued bool) []IssuerKey {
	set := c.Issuer.JWKS
	if podidIssued {
		set = c.Issuer.SigningKeys
	}
	if len(set) == 0 {
		return nil
	}
	keys, err := satoken.Keys(set)
	if err != nil { // stored sets were validated when set: log, show none
		h.log.Error("admin: listing the cluster's issuer keys", "cluster", c.Name, "err", err)
		return nil
	}
	out := make([]IssuerKey, 0, len(keys))
	for _, k := range keys {
		ik := IssuerKey{KeyID: k.KeyID}
		if podidIssued {
			created := k.Created
			if created.IsZero() {
				created = c.CreatedAt
			}
			t := eksapi.NewTime(created)
			ik.CreatedAt = &t
		}
		out = append(out, ik)
	}
	return out
}

func (h *Handler) putIssuer(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := h.authorize(r, authz.ActionSetIssuer, h.cfg.ClusterARN(h.region(r), name)); err != nil {
		return nil, err
	}
	var in IssuerDoc
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	if err := validateIssuer(in); err != nil {
		return nil, err
	}
	api, err := apiServer(in)
	if err != nil {
		return nil, err
	}
	if in.JWKSURL != "" && h.cfg.JWKS != nil {
		if err := h.cfg.JWKS.CheckJWKSURL(r.Context(), in.JWKSURL); err != nil {
			return nil, invalidParameter("jwksUrl does not serve a JSON Web Key Set: " + err.Error() + ".")
		}
	}
	cur, err := h.cfg.Store.GetCluster(r.Context(), h.region(r), name)
	if err != nil {
		return nil, err
	}
	var keys []byte
	if in.PodidIssued && len(cur.Issuer.SigningKeys) == 0 {
		// Made outside the transaction: generating a key is slow.
		if keys, err = satoken.NewSigningKeys(); err != nil {
			return nil, err
		}
	}
	c, err := h.cfg.Store.UpdateCluster(r.Context(), h.region(r), name, func(c *store.Cluster) error {
		if in.PodidIssued {
			if len(c.Issuer.SigningKeys) > 0 {
				keys = c.Issuer.SigningKeys // keep the cluster's key: its tokens stay valid
			}
			c.Issuer = store.Issuer{SigningKeys: keys, PodidURL: c.Issuer.PodidURL}
			c.APIServer = store.APIServer{}
			return nil
		}
		c.APIServer = api
		// Keep podid's own keys and issuer URL so a switch back keeps them.
		c.Issuer = store.Issuer{URL: in.IssuerURL, JWKSURL: in.JWKSURL, JWKS: []byte(in.JWKS),
			SigningKeys: c.Issuer.SigningKeys, PodidURL: c.Issuer.PodidURL}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.cfg.Cache.InvalidateClusters()
	h.log.Info("admin: cluster issuer set", "cluster", c.Name, "issuer", h.cfg.IssuerURL(c), "jwksUrl", c.Issuer.JWKSURL,
		"staticJwks", len(c.Issuer.JWKS) > 0, "podidIssued", satoken.PodidIssued(c.Issuer), "apiServer", c.APIServer.Endpoint)
	return h.issuerDoc(c), nil
}

func validateIssuer(in IssuerDoc) error {
	if in.PodidIssued {
		if in.IssuerURL != "" || in.JWKSURL != "" || len(in.JWKS) > 0 || in.APIServerEndpoint != "" || in.CertificateAuthorityData != "" {
			return invalidParameter("podidIssued excludes issuerUrl, jwksUrl, jwks, apiServerEndpoint and certificateAuthorityData.")
		}
		return nil
	}
	if !httpURL(in.IssuerURL) {
		return invalidParameter("issuerUrl must be an absolute http(s) URL.")
	}
	switch {
	case (in.JWKSURL == "") == (len(in.JWKS) == 0):
		return invalidParameter("Exactly one of jwks and jwksUrl is required.")
	case in.JWKSURL != "" && !httpURL(in.JWKSURL):
		return invalidParameter("jwksUrl must be an absolute http(s) URL.")
	case len(in.JWKS) > 0:
		if err := satoken.ValidateJWKS(in.JWKS); err != nil {
			return invalidParameter("jwks is not usable: " + err.Error() + ".")
		}
	}
	return nil
}

// apiServer is the API server an issuer document records: an https
// endpoint, and a CA (only with an endpoint) that is base64 of PEM
// certificates.
func apiServer(in IssuerDoc) (store.APIServer, error) {
	if in.APIServerEndpoint == "" {
		if in.CertificateAuthorityData != "" {
			return store.APIServer{}, invalidParameter("certificateAuthorityData requires apiServerEndpoint.")
		}
		return store.APIServer{}, nil
	}
	if !httpURL(in.APIServerEndpoint) || !strings.HasPrefix(in.APIServerEndpoint, "https://") {
		return store.APIServer{}, invalidParameter("apiServerEndpoint must be an absolute https URL.")
	}
	api := store.APIServer{Endpoint: in.APIServerEndpoint}
	if in.CertificateAuthorityData == "" {
		return api, nil
	}
	ca, err := base64.StdEncoding.DecodeString(in.CertificateAuthorityData)
	if err != nil || !pemCertificates(ca) {
		return store.APIServer{}, invalidParameter("certificateAuthorityData must be the base64 encoding of PEM certificates.")
	}
	api.CAData = ca
	return api, nil
}

// pemCertificates reports whether b is one or more PEM CERTIFICATE blocks
// that parse, and nothing else.
func pemCertificates(b []byte) bool {
	n := 0
	for rest := b; len(bytes.TrimSpace(rest)) > 0; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return false
		}
	}
	return n > 0
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// InspectRequest is the body of a session inspection.
type InspectRequest struct {
	SessionToken string `json:"sessionToken"`
}

// inspect shows a vended session (an sts.SessionView, expired sessions
// too); a token this STS did not seal is an InvalidParameterException.
func (h *Handler) inspect(r *http.Request) (any, error) {
	if err := h.authorize(r, authz.ActionInspectSession, "*"); err != nil {
		return nil, err
	}
	var in InspectRequest
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	if in.SessionToken == "" {
		return nil, invalidParameter("sessionToken is required.")
	}
	sess, err := h.cfg.Sessions.Inspect(in.SessionToken)
	if err != nil {
		return nil, invalidParameter("The session token is not one this server issued.")
	}
	return sess.View(h.now()), nil
}
