package satoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/podid/podid/internal/store"
)

// DiscoveryPrefix is the path under which podid serves each podid-issued
// cluster's OpenID discovery document and keys: the issuer URL of cluster
// NAME is PUBLIC_URL + DiscoveryPrefix + NAME in the server's region, and
// PUBLIC_URL + DiscoveryPrefix + REGION/NAME in another region.
const DiscoveryPrefix = "/clusters-oidc/"

// Discovery serves GET /clusters-oidc/[{region}/]{name}/.well-known/openid-configuration
// and GET /clusters-oidc/[{region}/]{name}/keys for clusters whose tokens
// podid issues, so that OIDC consumers (and kube-apiserver-like tooling)
// can find the public keys. Other clusters get ErrNoIssuer (a 404).
type Discovery struct {
	// Cluster reads region's cluster record (store.ErrNotFound when
	// unknown).
	Cluster func(ctx context.Context, region, name string) (store.Cluster, error)
	// Region is the region of paths that name none (the server's).
	Region string
	// IssuerURL gives a cluster's issuer URL.
	IssuerURL func(store.Cluster) string
}

// ErrNoIssuer: the cluster does not exist or podid does not issue its
// tokens, so there is no discovery document to serve.
var ErrNoIssuer = errors.New("no OIDC issuer served by podid for the cluster")

// Routes returns the discovery handlers by ServeMux pattern. They write
// the document or return the error for the HTTP host to write
// (ErrNoIssuer for an unknown cluster).
func (d *Discovery) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"GET " + DiscoveryPrefix + "{name}/.well-known/openid-configuration":          d.serveConfig,
		"GET " + DiscoveryPrefix + "{name}/keys":                                      d.serveKeys,
		"GET " + DiscoveryPrefix + "{region}/{name}/.well-known/openid-configuration": d.serveConfig,
		"GET " + DiscoveryPrefix + "{region}/{name}/keys":                             d.serveKeys,
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

func (d *Discovery) serveConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := d.cluster(r)
	if err != nil {
		return err
	}
	iss := d.IssuerURL(c)
	return writeDoc(w, openIDConfig{
		Issuer:                iss,
		JWKSURI:               iss + "/keys",
		AuthorizationEndpoint: "urn:kubernetes:programmatic_authorization",
		ResponseTypes:         []string{"id_token"},
		SubjectTypes:          []string{"public"},
		ClaimsSupported:       []string{"sub", "iss"},
		IDTokenSigningAlgs:    []string{"RS256"},
	})
}

func (d *Discovery) serveKeys(w http.ResponseWriter, r *http.Request) error {
	c, err := d.cluster(r)
	if err != nil {
		return err
	}
	jwks, err := PublicJWKS(c.Issuer.SigningKeys)
	if err != nil {
		return fmt.Errorf("reading the signing keys of cluster %s: %w", c.Name, err)
	}
	return writeDoc(w, json.RawMessage(jwks))
}

// cluster finds the podid-issued cluster the request names.
func (d *Discovery) cluster(r *http.Request) (store.Cluster, error) {
	name, region := r.PathValue("name"), r.PathValue("region")
	if region == "" {
		region = d.Region
	}
	c, err := d.Cluster(r.Context(), region, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !PodidIssued(c.Issuer):
		return c, ErrNoIssuer
	case err != nil:
		return c, fmt.Errorf("reading cluster %s in %s: %w", name, region, err)
	}
	return c, nil
}

func writeDoc(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
	return nil
}
