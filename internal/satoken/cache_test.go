package satoken_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

// TestVerifiedTokenCache: a token verified once is remembered, yet what
// a full verification would refuse now is still refused: a signing key
// rotated away or removed, a token past its expiry, another issuer URL,
// another cluster's keys, bytes that differ.
func TestVerifiedTokenCache(t *testing.T) {
	keys := testKeys(t)
	ctx := context.Background()
	var now atomic.Int64
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	// Remembered for a day: the clock moves past exp and JWKSMaxAge
	// while the token is still remembered.
	newVerifier := func() *satoken.Verifier {
		return satoken.NewVerifier(satoken.VerifierOptions{Now: clock, VerifiedTTL: 24 * time.Hour})
	}
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}
	verify := func(t *testing.T, v *satoken.Verifier, c store.Cluster, iss, tok string, want error) {
		t.Helper()
		_, err := v.Verify(ctx, c, iss, tok)
		if (want == nil) != (err == nil) || want != nil && !errors.Is(err, want) {
			t.Errorf("Verify = %v, want %v", err, want)
		}
	}

	t.Run("signing key rotated", func(t *testing.T) {
		v := newVerifier()
		tok := mint(t, keys[0], issuerURL, clock(), time.Hour)
		verify(t, v, c1, issuerURL, tok, nil)
		verify(t, v, c1, issuerURL, tok, nil)
		rotated := c1
		rotated.Issuer.SigningKeys = keys[1]
		verify(t, v, rotated, issuerURL, tok, satoken.ErrInvalid)
		verify(t, v, c1, issuerURL, tok, nil)
	})
	t.Run("key removed from a static JWKS", func(t *testing.T) {
		v := newVerifier()
		const extIss = "https://kubernetes.default.svc"
		c := store.Cluster{Region: "us-east-1", Name: "ext", Issuer: store.Issuer{URL: extIss, JWKS: publicJWKS(t, keys[0], keys[1])}}
		tok := mint(t, keys[0], extIss, clock(), time.Hour)
		verify(t, v, c, extIss, tok, nil)
		c.Issuer.JWKS = publicJWKS(t, keys[1])
		verify(t, v, c, extIss, tok, satoken.ErrInvalid)
	})
	t.Run("key removed from a JWKS URL", func(t *testing.T) {
		defer now.Store(start.UnixNano())
		v := newVerifier()
		srv := newJWKSServer(t, publicJWKS(t, keys[0], keys[1]))
		const extIss = "https://kubernetes.default.svc"
		c := store.Cluster{Region: "us-east-1", Name: "kind", Issuer: store.Issuer{URL: extIss, JWKSURL: srv.URL + "/openid/v1/jwks"}}
		tok := mint(t, keys[0], extIss, clock(), 24*time.Hour)
		verify(t, v, c, extIss, tok, nil)
		srv.set(publicJWKS(t, keys[1]))
		// The key set is read again after JWKSMaxAge (1 h), as without
		// the cache.
		now.Add(int64(time.Hour))
		verify(t, v, c, extIss, tok, satoken.ErrInvalid)
	})
	t.Run("expired after it was remembered", func(t *testing.T) {
		defer now.Store(start.UnixNano())
		v := newVerifier()
		tok := mint(t, keys[0], issuerURL, clock(), time.Hour)
		verify(t, v, c1, issuerURL, tok, nil)
		now.Add(int64(time.Hour + 59*time.Second)) // within the leeway
		verify(t, v, c1, issuerURL, tok, nil)
		now.Add(int64(2 * time.Second))
		verify(t, v, c1, issuerURL, tok, satoken.ErrExpired)
	})
	t.Run("another issuer URL", func(t *testing.T) {
		v := newVerifier()
		tok := mint(t, keys[0], issuerURL, clock(), time.Hour)
		verify(t, v, c1, issuerURL, tok, nil)
		verify(t, v, c1, issuerURL+"-other", tok, satoken.ErrInvalid)
	})
	t.Run("another cluster's keys", func(t *testing.T) {
		v := newVerifier()
		tok := mint(t, keys[0], issuerURL, clock(), time.Hour)
		verify(t, v, c1, issuerURL, tok, nil)
		c2 := store.Cluster{Region: "us-east-1", Name: "c2", Issuer: store.Issuer{SigningKeys: keys[1]}}
		verify(t, v, c2, issuerURL, tok, satoken.ErrInvalid)
	})
	t.Run("a changed signature", func(t *testing.T) {
		v := newVerifier()
		tok := mint(t, keys[0], issuerURL, clock(), time.Hour)
		verify(t, v, c1, issuerURL, tok, nil)
		last := byte('A')
		if tok[len(tok)-2] == 'A' {
			last = 'B'
		}
		forged := tok[:len(tok)-2] + string(last) + tok[len(tok)-1:]
		verify(t, v, c1, issuerURL, forged, satoken.ErrInvalid)
	})
	t.Run("bounded", func(t *testing.T) {
		v := satoken.NewVerifier(satoken.VerifierOptions{Now: clock, MaxCachedTokens: 4})
		toks := make([]string, 10)
		for i := range toks {
			toks[i] = mint(t, keys[0], issuerURL, clock().Add(time.Duration(i)*time.Second), time.Hour)
		}
		for range 2 {
			for _, tok := range toks {
				verify(t, v, c1, issuerURL, tok, nil)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		v := satoken.NewVerifier(satoken.VerifierOptions{Now: clock, MaxCachedTokens: 8})
		toks := make([]string, 16)
		for i := range toks {
			toks[i] = mint(t, keys[i%2], issuerURL, clock().Add(time.Duration(i)*time.Second), time.Hour)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 64 {
					tok := toks[(w+i)%len(toks)]
					want := error(nil)
					if (w+i)%2 == 1 {
						want = satoken.ErrInvalid // keys[1]'s token against c1
					}
					verify(t, v, c1, issuerURL, tok, want)
				}
			})
		}
		wg.Wait()
	})
}
