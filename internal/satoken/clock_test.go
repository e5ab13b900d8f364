package satoken_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

// TestClockEdges: a token's exp, nbf and iat at the verifier's leeway and
// one second either side of it, for the default leeway and a smaller one,
// with the verifier's clock on a whole second and half-way through one
// (JWT times are whole seconds). A token is good up to and including
// exp+leeway, and from nbf-leeway and iat-leeway on.
func TestClockEdges(t *testing.T) {
	keys := testKeys(t)
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, leeway := range []time.Duration{0, 10 * time.Second} { // 0: the default, 60 s
		eff := leeway
		if eff == 0 {
			eff = 60 * time.Second
		}
		for _, frac := range []time.Duration{0, 500 * time.Millisecond} {
			now := base.Add(frac)
			v := satoken.NewVerifier(satoken.VerifierOptions{Now: func() time.Time { return now }, Leeway: leeway})
			sec := func(d time.Duration) int64 { return base.Add(d).Unix() }
			tests := []struct {
				name  string
				claim string
				at    int64 // the claim's value
				want  error
			}{
				{"exp at now", "exp", sec(0), nil},
				{"exp a second past the leeway", "exp", sec(-eff - time.Second), satoken.ErrExpired},
				{"exp a second within the leeway", "exp", sec(-eff + time.Second), nil},
				{"nbf at the leeway", "nbf", sec(eff), nil},
				{"nbf a second beyond the leeway", "nbf", sec(eff + time.Second), satoken.ErrInvalid},
				{"nbf a second past", "nbf", sec(-time.Second), nil},
				{"iat at the leeway", "iat", sec(eff), nil},
				{"iat a second beyond the leeway", "iat", sec(eff + time.Second), satoken.ErrInvalid},
				{"iat a second past", "iat", sec(-time.Second), nil},
			}
			// exp exactly at the leeway's edge: good on a whole second
			// (now-leeway == exp), expired half a second later.
			edge := tests[0]
			edge.name, edge.at = "exp at the leeway", sec(-eff)
			if frac != 0 {
				edge.want = satoken.ErrExpired
			}
			tests = append(tests, edge)
			for _, tt := range tests {
				t.Run(fmt.Sprintf("leeway %s/now +%s/%s", eff, frac, tt.name), func(t *testing.T) {
					claims := goodClaims(base.Add(-time.Hour))
					claims["exp"] = base.Add(time.Hour).Unix()
					claims[tt.claim] = tt.at
					_, err := v.Verify(context.Background(), c1, issuerURL, signRaw(t, keys[0], claims))
					if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
						t.Errorf("Verify with %s = now%+ds: %v, want %v", tt.claim, tt.at-now.Unix(), err, tt.want)
					}
				})
			}
		}
	}
}
