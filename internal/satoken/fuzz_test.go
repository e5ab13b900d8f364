package satoken_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

// FuzzVerify feeds arbitrary tokens to the verifier: it must never panic,
// and must reject everything it did not see signed.
func FuzzVerify(f *testing.F) {
	keys := testKeys(f)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	good := mint(f, keys[0], issuerURL, now, time.Hour)
	parts := strings.Split(good, ".")
	for _, s := range []string{
		good, "", "a.b.c", "...", parts[0] + "." + parts[1] + ".",
		b64(`{"alg":"none"}`) + "." + parts[1] + ".",
		b64(`{"alg":"RS256","kid":"x","crit":["exp"]}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"RS256"}`) + "." + b64(`{"kubernetes.io":null,"aud":7}`) + "." + parts[2],
		parts[0] + "." + b64(`{"exp":1e400}`) + "." + parts[2],
	} {
		f.Add(s)
	}
	v := satoken.NewVerifier(satoken.VerifierOptions{Now: func() time.Time { return now }})
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.Verify(context.Background(), c1, issuerURL, tok)
		if err == nil {
			if tok != good {
				t.Fatalf("accepted a token it never signed: %q -> %+v", tok, claims)
			}
			return
		}
		if !errors.Is(err, satoken.ErrInvalid) && !errors.Is(err, satoken.ErrExpired) {
			t.Fatalf("error %v is neither ErrInvalid nor ErrExpired", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	keys := testKeys(b)
	v := satoken.NewVerifier(satoken.VerifierOptions{})
	c1 := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: store.Issuer{SigningKeys: keys[0]}}
	tok := mint(b, keys[0], issuerURL, time.Now(), time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, c1, issuerURL, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzWellFormed: WellFormed is EKS Auth's token pattern, as a regular
// expression reads it.
func FuzzWellFormed(f *testing.F) {
	for _, s := range []string{"a.b.c", "a..c", ".a.b", "a.b.c.", "a.b", "A-_=.0.9", "a.b.c\n", "a.b.\xffc"} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(`^[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+$`)
	f.Fuzz(func(t *testing.T, tok string) {
		if got, want := satoken.WellFormed(tok), pattern.MatchString(tok); got != want {
			t.Errorf("WellFormed(%q) = %v, the pattern says %v", tok, got, want)
		}
	})
}
