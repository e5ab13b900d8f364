package satoken_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

const issuerURL = "https://podid.example/clusters-oidc/c1"

var (
	keysOnce sync.Once
	keyPool  [3][]byte
)

// testKeys returns three distinct signing key sets, generated once.
func testKeys(t testing.TB) [3][]byte {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keyPool {
			k, err := satoken.NewSigningKeys()
			if err != nil {
				panic(err)
			}
			keyPool[i] = k
		}
	})
	return keyPool
}

var pod = satoken.Claims{
	Namespace:         "ns-a",
	ServiceAccount:    "sa1",
	ServiceAccountUID: "aad7d4eb-0000-4000-8000-000000000001",
	PodName:           "app1",
	PodUID:            "fd6df8ef-0000-4000-8000-000000000002",
}

func mint(t testing.TB, keys []byte, iss string, now time.Time, ttl time.Duration) string {
	t.Helper()
	tok, err := satoken.Mint(keys, iss, pod, now, ttl)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// signRaw signs an arbitrary claim set with the first key of keys, for
// tokens Mint would never make.
func signRaw(t testing.TB, keys []byte, claims map[string]any) string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(keys, &set); err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: set.Keys[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// goodClaims is the claim set Mint makes, as a map to vary.
func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": issuerURL,
		"sub": "system:serviceaccount:ns-a:sa1",
		"aud": []string{"pods.eks.amazonaws.com"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      "ns-a",
			"pod":            map[string]any{"name": "app1", "uid": "u-1"},
			"serviceaccount": map[string]any{"name": "sa1", "uid": "u-2"},
		},
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestMintVerify(t *testing.T) {
	keys := testKeys(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v := satoken.NewVerifier(satoken.VerifierOptions{Now: func() time.Time { return now }})
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}

	tok := mint(t, keys[0], issuerURL, now, 24*time.Hour)
	got, err := v.Verify(context.Background(), c1, issuerURL, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := &satoken.Claims{
		Issuer: issuerURL, Subject: "system:serviceaccount:ns-a:sa1", Audience: []string{"pods.eks.amazonaws.com"},
		IssuedAt: now, NotBefore: now, Expiry: now.Add(24 * time.Hour),
		Namespace: "ns-a", ServiceAccount: "sa1", ServiceAccountUID: pod.ServiceAccountUID,
		PodName: "app1", PodUID: pod.PodUID,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("claims (-got +want):\n%s", diff)
	}

	// The header is RS256 with the key's ID, as the kubelet's tokens are.
	hdr, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(hdr)
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "RS256" || h["kid"] == "" || h["kid"] == nil {
		t.Errorf("header = %v, want alg RS256 and a kid", h)
	}
}

func TestVerifyRejects(t *testing.T) {
	keys := testKeys(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v := satoken.NewVerifier(satoken.VerifierOptions{Now: func() time.Time { return now }})
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}

	with := func(edit func(m map[string]any)) string {
		m := goodClaims(now)
		edit(m)
		return signRaw(t, keys[0], m)
	}
	good := mint(t, keys[0], issuerURL, now, time.Hour)
	parts := strings.Split(good, ".")
	hs := func() string {
		h := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + parts[1]
		mac := hmac.New(sha256.New, []byte("secret"))
		mac.Write([]byte(h))
		return h + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()

	tests := []struct {
		name  string
		token string
		want  error
		msg   string
	}{
		{"expired", mint(t, keys[0], issuerURL, now.Add(-3*time.Hour), time.Hour), satoken.ErrExpired,
			"The token included in the request is expired: current date/time 2026-11-27T12:00:00.000000Z must be before the expiration date/time 2026-11-27T10:00:00Z."},
		{"expired within leeway is accepted", mint(t, keys[0], issuerURL, now.Add(-time.Hour-30*time.Second), time.Hour), nil, ""},
		{"forged: other key", mint(t, keys[1], issuerURL, now, time.Hour), satoken.ErrInvalid, ""},
		{"forged: payload swapped", parts[0] + "." + strings.Split(with(func(m map[string]any) { m["sub"] = "system:serviceaccount:ns-a:admin" }), ".")[1] + "." + parts[2], satoken.ErrInvalid, ""},
		{"wrong audience", with(func(m map[string]any) { m["aud"] = []string{"sts.amazonaws.com"} }), satoken.ErrInvalid, ""},
		{"wrong issuer", mint(t, keys[0], "https://other.example", now, time.Hour), satoken.ErrInvalid, ""},
		{"no exp", with(func(m map[string]any) { delete(m, "exp") }), satoken.ErrInvalid, ""},
		{"not yet valid", with(func(m map[string]any) { m["nbf"] = now.Add(time.Hour).Unix() }), satoken.ErrInvalid, ""},
		{"issued in the future", with(func(m map[string]any) { m["iat"] = now.Add(time.Hour).Unix() }), satoken.ErrInvalid, ""},
		{"no kubernetes.io", with(func(m map[string]any) { delete(m, "kubernetes.io") }), satoken.ErrInvalid, ""},
		{"no pod", with(func(m map[string]any) { delete(m["kubernetes.io"].(map[string]any), "pod") }), satoken.ErrInvalid, ""},
		{"no pod uid", with(func(m map[string]any) {
			m["kubernetes.io"].(map[string]any)["pod"] = map[string]any{"name": "app1"}
		}), satoken.ErrInvalid, ""},
		{"no namespace", with(func(m map[string]any) { delete(m["kubernetes.io"].(map[string]any), "namespace") }), satoken.ErrInvalid, ""},
		{"sub mismatch", with(func(m map[string]any) { m["sub"] = "system:serviceaccount:ns-a:other" }), satoken.ErrInvalid, ""},
		{"alg none", b64(`{"alg":"none"}`) + "." + parts[1] + ".", satoken.ErrInvalid, ""},
		{"alg none with signature", b64(`{"alg":"none"}`) + "." + parts[1] + "." + parts[2], satoken.ErrInvalid, ""},
		{"HS256 keyed with anything", hs, satoken.ErrInvalid, ""},
		{"garbage", "not-a-token", satoken.ErrInvalid, ""},
		{"garbage parts", "a.b.c", satoken.ErrInvalid, ""},
		{"empty", "", satoken.ErrInvalid, ""},
		{"four parts", good + ".x", satoken.ErrInvalid, ""},
		{"oversized", parts[0] + "." + strings.Repeat("A", 20<<10) + "." + parts[2], satoken.ErrInvalid, ""},
		{"sub of the wrong type", with(func(m map[string]any) { m["sub"] = 42 }), satoken.ErrInvalid,
			"The token included in the request is invalid: a claim has the wrong type (iss, sub and jti are strings; aud a string or strings; exp, nbf and iat numbers; kubernetes.io an object of strings and objects)."},
		{"pod name of the wrong type", with(func(m map[string]any) {
			m["kubernetes.io"].(map[string]any)["pod"] = map[string]any{"name": []string{"app1"}, "uid": "u-1"}
		}), satoken.ErrInvalid, "The token included in the request is invalid: a claim has the wrong type (iss, sub and jti are strings; aud a string or strings; exp, nbf and iat numbers; kubernetes.io an object of strings and objects)."},
		{"unknown kid", b64(`{"alg":"RS256","kid":"nope"}`) + "." + parts[1] + "." + parts[2], satoken.ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), c1, issuerURL, tt.token)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if err == nil {
				return
			}
			var te *satoken.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *satoken.Error", err)
			}
			if tt.msg != "" && te.Message != tt.msg {
				t.Errorf("message = %q, want %q", te.Message, tt.msg)
			}
			if strings.Contains(err.Error(), tt.token) && len(tt.token) > 10 {
				t.Errorf("error message quotes the token")
			}
		})
	}
}

func TestOtherClusterToken(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	v := satoken.NewVerifier(satoken.VerifierOptions{})
	c2 := store.Cluster{Region: "us-east-1", Name: "c2", Issuer: store.Issuer{SigningKeys: keys[1]}}
	iss2 := "https://podid.example/clusters-oidc/c2"
	// A token of c1 (its key, its issuer) presented for c2.
	tok := mint(t, keys[0], issuerURL, now, time.Hour)
	if _, err := v.Verify(context.Background(), c2, iss2, tok); !errors.Is(err, satoken.ErrInvalid) {
		t.Errorf("c1's token for c2: error = %v, want ErrInvalid", err)
	}
	// Even signed with c2's key, c1's issuer is refused.
	tok = mint(t, keys[1], issuerURL, now, time.Hour)
	if _, err := v.Verify(context.Background(), c2, iss2, tok); !errors.Is(err, satoken.ErrInvalid) {
		t.Errorf("c1's issuer for c2: error = %v, want ErrInvalid", err)
	}
}

func publicJWKS(t testing.TB, keys ...[]byte) []byte {
	t.Helper()
	var all jose.JSONWebKeySet
	for _, k := range keys {
		b, err := satoken.PublicJWKS(k)
		if err != nil {
			t.Fatal(err)
		}
		var s jose.JSONWebKeySet
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		all.Keys = append(all.Keys, s.Keys...)
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExternalStaticJWKS(t *testing.T) {
	keys := testKeys(t)
	const extIss = "https://oidc.eks.us-west-2.amazonaws.com/id/8BA4A70AA33A68D27898EB4903D8A6E7"
	v := satoken.NewVerifier(satoken.VerifierOptions{})
	c := store.Cluster{Region: "us-east-1", Name: "real", Issuer: store.Issuer{URL: extIss, JWKS: publicJWKS(t, keys[0], keys[1])}}
	for i, k := range keys[:2] {
		if _, err := v.Verify(context.Background(), c, extIss, mint(t, k, extIss, time.Now(), time.Hour)); err != nil {
			t.Errorf("key %d: %v", i, err)
		}
	}
	if _, err := v.Verify(context.Background(), c, extIss, mint(t, keys[2], extIss, time.Now(), time.Hour)); !errors.Is(err, satoken.ErrInvalid) {
		t.Errorf("key outside the set: error = %v, want ErrInvalid", err)
	}
	// Reconfigured keys take effect at once.
	c.Issuer.JWKS = publicJWKS(t, keys[2])
	if _, err := v.Verify(context.Background(), c, extIss, mint(t, keys[2], extIss, time.Now(), time.Hour)); err != nil {
		t.Errorf("after reconfiguring: %v", err)
	}
	if err := satoken.ValidateJWKS(keys[0]); err == nil {
		t.Errorf("ValidateJWKS accepted a private key set")
	}
	if err := satoken.ValidateJWKS(publicJWKS(t, keys[0])); err != nil {
		t.Errorf("ValidateJWKS(public set) = %v", err)
	}
}

// jwksServer serves a JWKS that the test can replace, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte) {
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

// A JWKS URL that redirects to another host is not followed: that host's
// keys do not verify the cluster's tokens.
func TestJWKSRedirectToAnotherHost(t *testing.T) {
	keys := testKeys(t)
	other := newJWKSServer(t, publicJWKS(t, keys[0]))
	redirector := httptest.NewServer(http.RedirectHandler(other.URL+"/keys", http.StatusFound))
	t.Cleanup(redirector.Close)
	const extIss = "https://kubernetes.default.svc"
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v := satoken.NewVerifier(satoken.VerifierOptions{Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	c := store.Cluster{Region: "us-east-1", Name: "kind", Issuer: store.Issuer{URL: extIss, JWKSURL: redirector.URL + "/openid/v1/jwks"}}
	if _, err := v.Verify(context.Background(), c, extIss, mint(t, keys[0], extIss, now, time.Hour)); err == nil {
		t.Errorf("a token verified with keys from the host the JWKS URL redirected to")
	}
	if got := other.fetches.Load(); got != 0 {
		t.Errorf("the other host was fetched %d times, want 0", got)
	}
}

func TestExternalJWKSURLRotation(t *testing.T) {
	keys := testKeys(t)
	srv := newJWKSServer(t, publicJWKS(t, keys[0]))
	const extIss = "https://kubernetes.default.svc"
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	v := satoken.NewVerifier(satoken.VerifierOptions{Now: clock, RefetchInterval: 10 * time.Second})
	c := store.Cluster{Region: "us-east-1", Name: "kind", Issuer: store.Issuer{URL: extIss, JWKSURL: srv.URL + "/openid/v1/jwks"}}
	ctx := context.Background()

	if _, err := v.Verify(ctx, c, extIss, mint(t, keys[0], extIss, clock(), time.Hour)); err != nil {
		t.Fatalf("first key: %v", err)
	}
	if _, err := v.Verify(ctx, c, extIss, mint(t, keys[0], extIss, clock(), time.Hour)); err != nil {
		t.Fatalf("first key again: %v", err)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("fetches after two tokens = %d, want 1 (cached)", got)
	}

	// The cluster rotates to a new key. Right away, the refetch is rate
	// limited: a flood of unknown key IDs must not become a flood of fetches.
	srv.set(publicJWKS(t, keys[0], keys[1]))
	rotated := mint(t, keys[1], extIss, clock(), time.Hour)
	for range 5 {
		if _, err := v.Verify(ctx, c, extIss, rotated); !errors.Is(err, satoken.ErrInvalid) {
			t.Fatalf("new key within the refetch interval: error = %v, want ErrInvalid", err)
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("fetches within the refetch interval = %d, want 1", got)
	}
	// Past the interval, the unknown key ID prompts one refetch.
	now.Add(int64(11 * time.Second))
	if _, err := v.Verify(ctx, c, extIss, rotated); err != nil {
		t.Fatalf("new key after the interval: %v", err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2", got)
	}

	// An unreachable JWKS URL is not the token's fault.
	srv.Close()
	c2 := store.Cluster{Region: "us-east-1", Name: "gone", Issuer: store.Issuer{URL: extIss, JWKSURL: srv.URL + "/other"}}
	if _, err := v.Verify(ctx, c2, extIss, rotated); !errors.Is(err, satoken.ErrKeysUnavailable) {
		t.Errorf("unreachable JWKS: error = %v, want ErrKeysUnavailable", err)
	}
	// Keys fetched before outlive an outage.
	now.Add(int64(2 * time.Hour))
	if _, err := v.Verify(ctx, c, extIss, mint(t, keys[1], extIss, clock(), time.Hour)); err != nil {
		t.Errorf("during an outage, with keys fetched before: %v", err)
	}
}

func TestJWKSURLTooLarge(t *testing.T) {
	srv := newJWKSServer(t, []byte(`{"keys":[`+strings.Repeat(" ", 2<<10)+`]}`))
	v := satoken.NewVerifier(satoken.VerifierOptions{MaxJWKSBytes: 1 << 10})
	c := store.Cluster{Region: "us-east-1", Name: "big", Issuer: store.Issuer{URL: "https://x", JWKSURL: srv.URL}}
	tok := mint(t, testKeys(t)[0], "https://x", time.Now(), time.Hour)
	if _, err := v.Verify(context.Background(), c, "https://x", tok); !errors.Is(err, satoken.ErrKeysUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized JWKS: error = %v, want ErrKeysUnavailable (larger than)", err)
	}
}

func TestWellFormed(t *testing.T) {
	for tok, want := range map[string]bool{
		"a.b.c": true, "A-_=.b.c9": true, "a.b": false, "a..c": false, ".b.c": false, "a.b.": false,
		"a.b.c.d": false, "a b.c.d": false, "a.b.c\n": false, "": false, "a+b.c.d": false,
	} {
		if got := satoken.WellFormed(tok); got != want {
			t.Errorf("WellFormed(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestDiscovery(t *testing.T) {
	keys := testKeys(t)
	clusters := map[string]store.Cluster{
		"c1":   {Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}},
		"real": {Name: "real", Issuer: store.Issuer{URL: "https://x", JWKS: publicJWKS(t, keys[1])}},
	}
	d := &satoken.Discovery{
		Cluster: func(_ context.Context, _, name string) (store.Cluster, error) {
			c, ok := clusters[name]
			if !ok {
				return c, store.ErrNotFound
			}
			return c, nil
		},
		IssuerURL: func(c store.Cluster) string { return "https://podid.example/clusters-oidc/" + c.Name },
	}
	host := httpx.New(httpx.Config{Logger: slog.New(slog.DiscardHandler)})
	for p, h := range d.Routes() {
		if err := host.Handle(p, httpx.OIDC, "", h); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(host)
	defer srv.Close()

	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("GET %s: decoding: %v", path, err)
		}
		return resp.StatusCode, m
	}
	st, doc := get("/clusters-oidc/c1/.well-known/openid-configuration")
	if st != 200 || doc["issuer"] != "https://podid.example/clusters-oidc/c1" || doc["jwks_uri"] != "https://podid.example/clusters-oidc/c1/keys" {
		t.Errorf("discovery = %d %v", st, doc)
	}
	st, jwks := get("/clusters-oidc/c1/keys")
	if st != 200 {
		t.Fatalf("keys status = %d", st)
	}
	b, _ := json.Marshal(jwks)
	if err := satoken.ValidateJWKS(b); err != nil {
		t.Errorf("served keys are not a public JWKS: %v", err)
	}
	// The served keys verify the cluster's tokens.
	v := satoken.NewVerifier(satoken.VerifierOptions{})
	iss := "https://podid.example/clusters-oidc/c1"
	ext := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{URL: iss, JWKS: b}}
	if _, err := v.Verify(context.Background(), ext, iss, mint(t, keys[0], iss, time.Now(), time.Hour)); err != nil {
		t.Errorf("token against served keys: %v", err)
	}
	for _, p := range []string{"/clusters-oidc/real/keys", "/clusters-oidc/nope/.well-known/openid-configuration"} {
		if st, m := get(p); st != 404 || m["__type"] != "NotFoundException" {
			t.Errorf("GET %s = %d %v, want 404 NotFoundException", p, st, m)
		}
	}
}

// TestKeys: a new signing key set records when its key was made; a
// public JWKS lists its key IDs with no time.
func TestKeys(t *testing.T) {
	before := time.Now().Add(-time.Second)
	priv, err := satoken.NewSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	got, err := satoken.Keys(priv)
	if err != nil || len(got) != 1 {
		t.Fatalf("Keys(new set) = %+v, %v; want one key", got, err)
	}
	if got[0].Created.Before(before) || got[0].Created.After(time.Now()) {
		t.Errorf("key made at %v, want between %v and now", got[0].Created, before)
	}
	pub := publicJWKS(t, priv, testKeys(t)[0])
	if strings.Contains(string(pub), "podidCreated") {
		t.Errorf("the public JWKS carries the creation times: %s", pub)
	}
	keys, err := satoken.Keys(pub)
	if err != nil || len(keys) != 2 || keys[0].KeyID != got[0].KeyID || !keys[0].Created.IsZero() || !keys[1].Created.IsZero() {
		t.Errorf("Keys(public set) = %+v, %v; want both key IDs, no times", keys, err)
	}
	if _, err := satoken.Keys([]byte("{")); err == nil {
		t.Error("Keys accepted a broken set")
	}
}
