package satoken

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/podid/podid/internal/store"
)

// Sentinel errors of Verify. A rejected token is an *Error wrapping
// ErrInvalid or ErrExpired, its message worded for the caller.
var (
	// ErrInvalid: the token is malformed, forged, or not for this cluster.
	ErrInvalid = errors.New("invalid token")
	// ErrExpired: the token's exp is past (beyond the leeway).
	ErrExpired = errors.New("expired token")
	// ErrKeysUnavailable: the cluster's verification keys could not be
	// read (JWKS URL unreachable, stored keys unreadable). Not the token's
	// fault; retrying later may succeed.
	ErrKeysUnavailable = errors.New("verification keys unavailable")
)

// Error is a rejected token: Kind is ErrInvalid or ErrExpired, Message
// says why in words fit for the API caller (it never quotes the token).
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvalid/ErrExpired) work.
func (e *Error) Unwrap() error { return e.Kind }

// claimTypeError words a signed token's claims that do not decode (go-jose
// decodes with its own JSON package, whose type errors name no field).
func claimTypeError(error) error {
	return invalid("a claim has the wrong type (iss, sub and jti are strings; aud a string or strings; exp, nbf and iat numbers; kubernetes.io an object of strings and objects)")
}

func invalid(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Message: "The token included in the request is invalid: " + fmt.Sprintf(format, args...) + "."}
}

// VerifierOptions tune a Verifier. Zero values take the defaults.
type VerifierOptions struct {
	// HTTPClient fetches JWKS URLs. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 60 s.
	Leeway time.Duration
	// MaxTokenBytes bounds the token's length. Default 16 KiB.
	MaxTokenBytes int
	// MaxJWKSBytes bounds a fetched JWKS document. Default 1 MiB.
	MaxJWKSBytes int64
	// RefetchInterval is the least time between two fetches of one JWKS
	// URL (an unknown key ID prompts a fetch; a flood of them must not
	// become a flood of fetches). Default 10 s.
	RefetchInterval time.Duration
	// JWKSMaxAge is how long fetched keys are used before they are read
	// again. Default 1 h.
	JWKSMaxAge time.Duration
	// Logger reports JWKS fetch failures. Default slog.Default().
	Logger *slog.Logger
	// MaxCachedTokens bounds the verified-token cache: tokens that passed
	// a full verification, remembered by the SHA-256 of their bytes for
	// at most VerifiedTTL, so that the same bytes presented again skip
	// parsing and the RSA signature check (kube-apiserver caches
	// authenticated tokens the same way). Default 16384; negative: no
	// cache.
	MaxCachedTokens int
	// VerifiedTTL is how long a verified token is remembered. Default
	// 5 min.
	VerifiedTTL time.Duration
}

// sameHostRedirect follows at most 5 redirects, each to the same scheme
// and host:port as the JWKS URL.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if first := via[0].URL; req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return fmt.Errorf("JWKS URL redirects to another host (%s://%s)", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

func (o *VerifierOptions) setDefaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	// A JWKS URL names the host that vouches for the keys: a redirect to
	// another host (another origin's keys, or an internal address) is not
	// followed, whatever client is given.
	c := *o.HTTPClient
	c.CheckRedirect = sameHostRedirect
	o.HTTPClient = &c
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leeway == 0 {
		o.Leeway = 60 * time.Second
	}
	if o.MaxTokenBytes == 0 {
		o.MaxTokenBytes = 16 << 10
	}
	if o.MaxJWKSBytes == 0 {
		o.MaxJWKSBytes = 1 << 20
	}
	if o.RefetchInterval == 0 {
		o.RefetchInterval = 10 * time.Second
	}
	if o.JWKSMaxAge == 0 {
		o.JWKSMaxAge = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxCachedTokens == 0 {
		o.MaxCachedTokens = 16384
	}
	if o.VerifiedTTL == 0 {
		o.VerifiedTTL = 5 * time.Minute
	}
}

// Verifier checks service-account tokens against their cluster's issuer.
// It caches parsed keys per cluster, fetched key sets per URL and tokens
// that passed verification (see VerifierOptions.MaxCachedTokens); it is
// safe for concurrent use.
type Verifier struct {
	opts VerifierOptions

	mu      sync.Mutex
	static  map[string]*staticKeys // by cluster name
	remotes map[string]*remoteKeys // by JWKS URL
	fetches singleflight.Group

	tmu      sync.Mutex
	verified map[[sha256.Size]byte]*verifiedToken // by the token's SHA-256
}

// verifiedToken is a token whose signature key verified and whose claims
// passed checkClaims at the time it was remembered.
type verifiedToken struct {
	kid string
	key *rsa.PublicKey // the key its signature verified under
	p   payload
	at  time.Time // when it was verified
}

// staticKeys are keys parsed from a cluster's stored key material, valid
// while that material is unchanged.
type staticKeys struct {
	src []byte
	set *keySet
}

// remoteKeys is the cached state of one JWKS URL.
type remoteKeys struct {
	mu        sync.Mutex
	set       *keySet
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
}

// maxCachedClusters bounds the per-cluster caches; past it they restart.
const maxCachedClusters = 100_000

// NewVerifier returns a Verifier.
func NewVerifier(opts VerifierOptions) *Verifier {
	opts.setDefaults()
	return &Verifier{
		opts:     opts,
		static:   map[string]*staticKeys{},
		remotes:  map[string]*remoteKeys{},
		verified: map[[sha256.Size]byte]*verifiedToken{},
	}
}

// Verify checks token as a service-account token of cluster, whose issuer
// URL is issuerURL: its shape, its RS256 signature against the cluster's
// keys, iss, aud, exp/nbf/iat (with leeway), the kubernetes.io claims and
// sub. A rejected token is an *Error (ErrInvalid or ErrExpired); keys that
// cannot be read are ErrKeysUnavailable.
//
// The same bytes verified before skip the signature check, and only it:
// the key that verified them must still be the cluster's, and every claim
// is checked again.
func (v *Verifier) Verify(ctx context.Context, cluster store.Cluster, issuerURL, token string) (*Claims, error) {
	if len(token) > v.opts.MaxTokenBytes {
		return nil, invalid("token is larger than %d bytes", v.opts.MaxTokenBytes)
	}
	if !WellFormed(token) {
		return nil, invalid("token is not a JSON Web Token")
	}
	sum := sha256.Sum256([]byte(token))
	if c, hit, err := v.cachedVerify(ctx, cluster, issuerURL, sum); hit {
		return c, err
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalid("token is malformed or not signed with RS256")
	}
	kid := tok.Headers[0].KeyID
	keys, err := v.keys(ctx, cluster, kid)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, invalid("no key of the cluster's issuer has the token's key ID")
	}
	var (
		p   payload
		key *rsa.PublicKey
	)
	for _, k := range keys {
		err := tok.Claims(k, &p)
		if err == nil {
			key = k
			break
		}
		// go-jose checks the signature, then decodes the claims: a good
		// signature over claims of the wrong type says so.
		if !errors.Is(err, jose.ErrCryptoFailure) {
			return nil, claimTypeError(err)
		}
	}
	if key == nil {
		return nil, invalid("signature verification failed")
	}
	if err := v.checkClaims(&p, issuerURL); err != nil {
		return nil, err
	}
	v.remember(sum, &verifiedToken{kid: kid, key: key, p: p, at: v.opts.Now()})
	return claimsOf(&p), nil
}

// cachedVerify verifies a token that passed a full verification before
// (hit is false when sum is not remembered, or its entry no longer
// holds): the key its signature verified under must still be one of
// the cluster's keys for its key ID, so a removed or rotated key takes
// effect at once, and its claims are checked again now (issuer,
// audience, exp, nbf, iat, the kubernetes.io claims).
func (v *Verifier) cachedVerify(ctx context.Context, cluster store.Cluster, issuerURL string, sum [sha256.Size]byte) (c *Claims, hit bool, err error) {
	if v.opts.MaxCachedTokens < 0 {
		return nil, false, nil
	}
	v.tmu.Lock()
	e := v.verified[sum]
	v.tmu.Unlock()
	if e == nil {
		return nil, false, nil
	}
	if v.opts.Now().Sub(e.at) >= v.opts.VerifiedTTL {
		v.forget(sum, e)
		return nil, false, nil
	}
	keys, err := v.keys(ctx, cluster, e.kid)
	if err != nil {
		return nil, true, err
	}
	if !slices.Contains(keys, e.key) {
		// Another cluster's token, or the key is gone or re-read:
		// verify in full.
		v.forget(sum, e)
		return nil, false, nil
	}
	if err := v.checkClaims(&e.p, issuerURL); err != nil {
		return nil, true, err
	}
	return claimsOf(&e.p), true, nil
}

// remember adds a verified token to the cache. A full cache first loses
// the entries past VerifiedTTL, then arbitrary ones down to 3/4 of its
// bound, so the scan is paid once per quarter of the bound.
func (v *Verifier) remember(sum [sha256.Size]byte, e *verifiedToken) {
	limit := v.opts.MaxCachedTokens
	if limit < 0 {
		return
	}
	v.tmu.Lock()
	defer v.tmu.Unlock()
	if len(v.verified) >= limit {
		for k, old := range v.verified {
			if e.at.Sub(old.at) >= v.opts.VerifiedTTL {
				delete(v.verified, k)
			}
		}
		for k := range v.verified {
			if len(v.verified) < limit*3/4 {
				break
			}
			delete(v.verified, k)
		}
	}
	v.verified[sum] = e
}

// forget drops sum's entry if it is still e.
func (v *Verifier) forget(sum [sha256.Size]byte, e *verifiedToken) {
	v.tmu.Lock()
	if v.verified[sum] == e {
		delete(v.verified, sum)
	}
	v.tmu.Unlock()
}

// claimsOf returns the Claims of a verified payload.
func claimsOf(p *payload) *Claims {
	c := &Claims{
		Issuer:            p.Issuer,
		Subject:           p.Subject,
		Audience:          slices.Clone([]string(p.Audience)),
		IssuedAt:          p.IssuedAt.Time(),
		NotBefore:         p.NotBefore.Time(),
		Expiry:            p.Expiry.Time(),
		Namespace:         p.K8s.Namespace,
		ServiceAccount:    p.K8s.ServiceAccount.Name,
		ServiceAccountUID: p.K8s.ServiceAccount.UID,
		PodName:           p.K8s.Pod.Name,
		PodUID:            p.K8s.Pod.UID,
	}
	if p.K8s.Node != nil {
		c.NodeName, c.NodeUID = p.K8s.Node.Name, p.K8s.Node.UID
	}
	return c
}

// checkClaims checks the claims of a token whose signature is good.
func (v *Verifier) checkClaims(p *payload, issuerURL string) error {
	if p.Issuer != issuerURL {
		return invalid("issuer %q is not the cluster's issuer %q", p.Issuer, issuerURL)
	}
	if !p.Audience.Contains(Audience) {
		return invalid("audience does not include %s", Audience)
	}
	if p.Expiry == nil {
		return invalid("token has no expiration")
	}
	now := v.opts.Now()
	leeway := v.opts.Leeway
	if exp := p.Expiry.Time(); now.Add(-leeway).After(exp) {
		return &Error{Kind: ErrExpired, Message: fmt.Sprintf(
			"The token included in the request is expired: current date/time %s must be before the expiration date/time %s.",
			now.UTC().Format("2006-01-02T15:04:05.000000Z"), exp.UTC().Format("2006-01-02T15:04:05Z"))}
	}
	if p.NotBefore != nil && now.Add(leeway).Before(p.NotBefore.Time()) {
		return invalid("token is not valid before %s", p.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if p.IssuedAt != nil && now.Add(leeway).Before(p.IssuedAt.Time()) {
		return invalid("token was issued in the future")
	}
	k := p.K8s
	if k == nil || k.Namespace == "" || k.ServiceAccount == nil || k.ServiceAccount.Name == "" ||
		k.Pod == nil || k.Pod.Name == "" || k.Pod.UID == "" {
		return invalid("token lacks the kubernetes.io namespace, service account or pod claims")
	}
	if p.Subject != SubjectFor(k.Namespace, k.ServiceAccount.Name) {
		return invalid("subject does not match the kubernetes.io claims")
	}
	return nil
}

// WellFormed reports whether token has the shape EKS Auth requires of it:
// three dot-separated runs of [A-Za-z0-9-_=].
func WellFormed(token string) bool {
	parts, run := 1, 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case tokenByte[c]:
			run++
		case c == '.':
			if run == 0 {
				return false
			}
			parts, run = parts+1, 0
		default:
			return false
		}
	}
	return parts == 3 && run > 0
}

// tokenByte marks [A-Za-z0-9-_=], the bytes of a token's parts (a table:
// WellFormed reads every byte of a kilobyte token twice per request).
var tokenByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '='
	}
	return t
}()

// keys returns the cluster's verification keys matching kid (all keys when
// kid is empty).
func (v *Verifier) keys(ctx context.Context, c store.Cluster, kid string) ([]*rsa.PublicKey, error) {
	iss := c.Issuer
	switch {
	case iss.JWKSURL != "":
		return v.remoteKeys(ctx, iss.JWKSURL, kid)
	case len(iss.JWKS) > 0:
		return v.staticKeys(c.Name, iss.JWKS, false, kid)
	case len(iss.SigningKeys) > 0:
		return v.staticKeys(c.Name, iss.SigningKeys, true, kid)
	}
	return nil, fmt.Errorf("cluster %s has no token issuer keys: %w", c.Name, ErrKeysUnavailable)
}

func (v *Verifier) staticKeys(cluster string, src []byte, private bool, kid string) ([]*rsa.PublicKey, error) {
	v.mu.Lock()
	e := v.static[cluster]
	v.mu.Unlock()
	if e == nil || !bytes.Equal(e.src, src) {
		set, err := parseKeySet(src, private)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w: %w", cluster, ErrKeysUnavailable, err)
		}
		e = &staticKeys{src: bytes.Clone(src), set: set}
		v.mu.Lock()
		if len(v.static) >= maxCachedClusters {
			clear(v.static)
		}
		v.static[cluster] = e
		v.mu.Unlock()
	}
	return e.set.lookup(kid), nil
}

func (v *Verifier) remoteKeys(ctx context.Context, url, kid string) ([]*rsa.PublicKey, error) {
	v.mu.Lock()
	r := v.remotes[url]
	if r == nil {
		if len(v.remotes) >= maxCachedClusters {
			clear(v.remotes)
		}
		r = &remoteKeys{}
		v.remotes[url] = r
	}
	v.mu.Unlock()

	now := v.opts.Now()
	r.mu.Lock()
	set, fetchedAt, triedAt := r.set, r.fetchedAt, r.triedAt
	r.mu.Unlock()
	var keys []*rsa.PublicKey
	if set != nil {
		keys = set.lookup(kid)
	}
	stale := set == nil || now.Sub(fetchedAt) >= v.opts.JWKSMaxAge
	mayRetry := now.Sub(triedAt) >= v.opts.RefetchInterval
	if (stale || len(keys) == 0) && mayRetry {
		fresh, err := v.fetch(ctx, url, r)
		switch {
		case err == nil:
			set = fresh
		case set == nil:
			return nil, err
		default:
			v.opts.Logger.Warn("refreshing JWKS failed; using the keys fetched before", "url", url, "err", err)
		}
	}
	if set == nil {
		return nil, fmt.Errorf("JWKS %s not fetched yet (retry after %s): %w", url, v.opts.RefetchInterval, ErrKeysUnavailable)
	}
	return set.lookup(kid), nil
}

// CheckJWKSURL fetches url once and reports whether it serves a usable
// JSON Web Key Set (podid issuer set checks a URL before storing it).
func (v *Verifier) CheckJWKSURL(ctx context.Context, url string) error {
	_, err := v.get(ctx, url)
	return err
}

// fetch reads a JWKS URL once for all concurrent callers.
func (v *Verifier) fetch(ctx context.Context, url string, r *remoteKeys) (*keySet, error) {
	ch := v.fetches.DoChan(url, func() (any, error) {
		// The fetch outlives any one caller's cancellation; the
		// client's timeout bounds it.
		ctx := context.WithoutCancel(ctx)
		set, err := v.get(ctx, url)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.triedAt = v.opts.Now()
		if err != nil {
			return nil, err
		}
		r.set, r.fetchedAt = set, r.triedAt
		return set, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*keySet), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (v *Verifier) get(ctx context.Context, url string) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS %s: %w: %w", url, ErrKeysUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w: %w", ErrKeysUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS %s: %w: HTTP status %s", url, ErrKeysUnavailable, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, v.opts.MaxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS %s: %w: %w", url, ErrKeysUnavailable, err)
	}
	if int64(len(b)) > v.opts.MaxJWKSBytes {
		return nil, fmt.Errorf("JWKS %s: %w: larger than %d bytes", url, ErrKeysUnavailable, v.opts.MaxJWKSBytes)
	}
	set, err := parseKeySet(b, false)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w: %w", url, ErrKeysUnavailable, err)
	}
	return set, nil
}
