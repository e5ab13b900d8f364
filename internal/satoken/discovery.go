package satoken

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// DiscoveryPrefix is the path under which podid serves each podid-issued
// cluster's OpenID discovery document and keys: the issuer URL of cluster
// NAME is PUBLIC_URL + DiscoveryPrefix + NAME.
const DiscoveryPrefix = "/clusters-oidc/"

// Discovery serves GET /clusters-oidc/{name}/.well-known/openid-configuration
// and GET /clusters-oidc/{name}/keys for clusters whose tokens podid
// issues, so that OIDC consumers (and kube-apiserver-like tooling) can find
// the public keys. Other clusters get a 404 JSON error.
type Discovery struct {
	// Cluster reads a cluster record (store.ErrNotFound when unknown).
	Cluster func(ctx context.Context, name string) (store.Cluster, error)
	// IssuerURL gives a cluster's issuer URL.
	IssuerURL func(store.Cluster) string
	// Logger reports unexpected failures. Default slog.Default().
	Logger *slog.Logger
}

// Routes returns the discovery routes as ServeMux patterns.
func (d *Discovery) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + DiscoveryPrefix + "{name}/.well-known/openid-configuration": http.HandlerFunc(d.serveConfig),
		"GET " + DiscoveryPrefix + "{name}/keys":                             http.HandlerFunc(d.serveKeys),
	}
}

// openIDConfig is the discovery document EKS serves for its issuers.
type openIDConfig struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	ResponseTypes         []string `json:"response_types_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
	ClaimsSupported       []string `json:"claims_supported"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
}

func (d *Discovery) serveConfig(w http.ResponseWriter, r *http.Request) {
	c, ok := d.cluster(w, r)
	if !ok {
		return
	}
	iss := d.IssuerURL(c)
	writeDoc(w, openIDConfig{
		Issuer:                iss,
		JWKSURI:               iss + "/keys",
		AuthorizationEndpoint: "urn:kubernetes:programmatic_authorization",
		ResponseTypes:         []string{"id_token"},
		SubjectTypes:          []string{"public"},
		ClaimsSupported:       []string{"sub", "iss"},
		IDTokenSigningAlgs:    []string{"RS256"},
	})
}

func (d *Discovery) serveKeys(w http.ResponseWriter, r *http.Request) {
	c, ok := d.cluster(w, r)
	if !ok {
		return
	}
	jwks, err := PublicJWKS(c.Issuer.SigningKeys)
	if err != nil {
		d.logger().Error("serving cluster keys", "cluster", c.Name, "err", err)
		eksapi.NewError(eksapi.CodeServer, "The cluster's signing keys cannot be read.").WriteJSON(w)
		return
	}
	writeDoc(w, json.RawMessage(jwks))
}

// cluster finds the podid-issued cluster the request names, or writes the
// error.
func (d *Discovery) cluster(w http.ResponseWriter, r *http.Request) (store.Cluster, bool) {
	name := r.PathValue("name")
	c, err := d.Cluster(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !PodidIssued(c.Issuer):
		eksapi.NewError(eksapi.CodeNotFound, "No OIDC issuer served by podid for cluster: "+name+".").WriteJSON(w)
		return c, false
	case err != nil:
		d.logger().Error("reading cluster", "cluster", name, "err", err)
		eksapi.NewError(eksapi.CodeServer, "Internal error reading the cluster.").WriteJSON(w)
		return c, false
	}
	return c, true
}

func (d *Discovery) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

func writeDoc(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		eksapi.NewError(eksapi.CodeServer, "internal error").WriteJSON(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}
