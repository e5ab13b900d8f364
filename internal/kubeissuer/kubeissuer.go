// Package kubeissuer reads a Kubernetes cluster's service-account token
// issuer from its API server, and keeps reading it: the issuer URL from
// /.well-known/openid-configuration, the verification keys from
// /openid/v1/jwks, and the API server's own endpoint and CA, which is what
// podid records for the cluster (DescribeCluster shows them, and tokens
// are verified against the keys).
//
// Both documents are read with the client configuration's CA and
// credentials (a kubeconfig's or the in-cluster service account's), so
// they need not be public. Watch reads them again on an interval and hands
// on every change: after a key rotation a token signed with the new key is
// accepted within one interval, and a key the cluster stopped publishing
// stops being accepted within one interval.
package kubeissuer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podid/podid/internal/satoken"
)

// Issuer is what a cluster's API server publishes about its tokens.
type Issuer struct {
	// URL is the issuer ("iss") of the cluster's service-account tokens.
	URL string
	// JWKS is the public JSON Web Key Set tokens are verified with, as
	// served.
	JWKS []byte
	// Endpoint is the API server's URL, as clients of the cluster reach it.
	Endpoint string
	// CAData is the PEM certificate authority of the API server's serving
	// certificate; empty when the client trusts the system roots.
	CAData []byte
}

// Equal reports whether i and o are the same.
func (i Issuer) Equal(o Issuer) bool {
	return i.URL == o.URL && i.Endpoint == o.Endpoint &&
		bytes.Equal(i.JWKS, o.JWKS) && bytes.Equal(i.CAData, o.CAData)
}

// Paths on the API server.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Reader reads an API server's issuer.
type Reader struct {
	rest     rest.Interface
	endpoint string
	ca       []byte
}

// NewReader makes a Reader for the API server cfg points at. endpoint is
// the API server URL to report; empty means cfg.Host (which, in a pod, is
// the in-cluster service address rather than the one outside clients use).
func NewReader(cfg *rest.Config, endpoint string) (*Reader, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	r := &Reader{rest: cs.Discovery().RESTClient(), endpoint: endpoint, ca: cfg.TLSClientConfig.CAData}
	if r.endpoint == "" {
		r.endpoint = cfg.Host
	}
	if u, err := url.Parse(r.endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("API server endpoint %q is not an https URL", r.endpoint)
	}
	if len(r.ca) == 0 && cfg.TLSClientConfig.CAFile != "" {
		if r.ca, err = os.ReadFile(cfg.TLSClientConfig.CAFile); err != nil {
			return nil, fmt.Errorf("reading the API server's CA: %w", err)
		}
	}
	return r, nil
}

// maxDocument bounds each document read (a JWKS of a few keys is ~2 KB).
const maxDocument = 1 << 20

// Read reads the issuer and its keys.
func (r *Reader) Read(ctx context.Context) (Issuer, error) {
	disc, err := r.get(ctx, DiscoveryPath)
	if err != nil {
		return Issuer{}, err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(disc, &doc); err != nil {
		return Issuer{}, fmt.Errorf("parsing %s: %w", DiscoveryPath, err)
	}
	if u, err := url.Parse(doc.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		return Issuer{}, fmt.Errorf("%s: issuer %q is not an https URL", DiscoveryPath, doc.Issuer)
	}
	jwks, err := r.get(ctx, JWKSPath)
	if err != nil {
		return Issuer{}, err
	}
	if err := satoken.ValidateJWKS(jwks); err != nil {
		return Issuer{}, fmt.Errorf("%s: %w", JWKSPath, err)
	}
	return Issuer{URL: doc.Issuer, JWKS: jwks, Endpoint: r.endpoint, CAData: r.ca}, nil
}

func (r *Reader) get(ctx context.Context, path string) ([]byte, error) {
	body, err := r.rest.Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s from the API server: %w", path, err)
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("reading %s from the API server: larger than %d bytes", path, maxDocument)
	}
	return body, nil
}

// Record stores an issuer read from the cluster (podid's admin API).
type Record func(ctx context.Context, iss Issuer) error

// Register reads the issuer and records it.
func Register(ctx context.Context, r *Reader, record Record) (Issuer, error) {
	iss, err := r.Read(ctx)
	if err != nil {
		return Issuer{}, err
	}
	return iss, record(ctx, iss)
}

// Watch registers the issuer (Register) and then reads it every interval,
// recording it when it differs from what was last recorded. The first
// read and record must succeed (their error is returned: a wrong
// kubeconfig or a missing cluster should stop the command); later failures
// are logged and retried at the next interval. It returns when ctx ends.
func Watch(ctx context.Context, r *Reader, interval time.Duration, record Record, log *slog.Logger) error {
	if interval <= 0 {
		return errors.New("the watch interval must be positive")
	}
	last, err := Register(ctx, r, record)
	if err != nil {
		return err
	}
	log.Info("cluster issuer recorded", "issuer", last.URL, "endpoint", last.Endpoint)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := r.Read(ctx)
		if err != nil {
			log.Warn("reading the cluster's issuer; retrying at the next interval", "err", err)
			continue
		}
		if cur.Equal(last) {
			continue
		}
		if err := record(ctx, cur); err != nil {
			log.Warn("recording the cluster's issuer; retrying at the next interval", "err", err)
			continue
		}
		log.Info("cluster issuer changed and recorded", "issuer", cur.URL, "endpoint", cur.Endpoint)
		last = cur
	}
}
