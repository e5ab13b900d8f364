package kubeissuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"k8s.io/client-go/rest"

	"github.com/podid/podid/internal/kubeissuer"
	"github.com/podid/podid/internal/kubetest"
)

func TestNewReaderEndpoint(t *testing.T) {
	for _, endpoint := range []string{"http://example.com", "example.com:6443", "https://"} {
		if _, err := kubeissuer.NewReader(&rest.Config{Host: "https://127.0.0.1:1"}, endpoint); err == nil {
			t.Errorf("NewReader(endpoint %q): no error", endpoint)
		}
	}
}

func TestReadAndWatch(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	r, err := kubeissuer.NewReader(c.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if iss.URL != c.Issuer || iss.Endpoint != c.URL || !bytes.Equal(iss.CAData, c.CAData) {
		t.Errorf("Read() = issuer %q endpoint %q CA %d bytes; want %q %q and the cluster's CA",
			iss.URL, iss.Endpoint, len(iss.CAData), c.Issuer, c.URL)
	}
	if n := len(keyIDs(t, iss.JWKS)); n != 1 {
		t.Errorf("JWKS holds %d keys, want 1", n)
	}

	// Without credentials the documents are not readable (they are not
	// public by default): the reader uses the configuration's.
	anon := rest.AnonymousClientConfig(c.Config)
	ra, err := kubeissuer.NewReader(anon, "https://kubernetes.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ra.Read(ctx); err == nil {
		t.Error("read the issuer anonymously")
	}

	// Watch records the first read, then each change.
	recorded := make(chan kubeissuer.Issuer, 10)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- kubeissuer.Watch(wctx, r, 100*time.Millisecond, func(_ context.Context, iss kubeissuer.Issuer) error {
			recorded <- iss
			return nil
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	next := func(what string) kubeissuer.Issuer {
		t.Helper()
		select {
		case iss := <-recorded:
			return iss
		case <-ctx.Done():
			t.Fatalf("nothing recorded %s", what)
		}
		return kubeissuer.Issuer{}
	}
	first := next("at the start")
	if !first.Equal(iss) {
		t.Errorf("first recorded issuer differs from Read's")
	}
	c.RotateSigningKey(t, true)
	if ids := keyIDs(t, next("after a rotation").JWKS); len(ids) != 2 {
		t.Errorf("after a rotation keeping the old key: recorded %d keys, want 2", len(ids))
	}
	c.RotateSigningKey(t, false)
	if ids := keyIDs(t, next("after dropping the old keys").JWKS); len(ids) != 1 {
		t.Errorf("after dropping the old keys: recorded %d keys, want 1", len(ids))
	}
	select {
	case iss := <-recorded:
		t.Errorf("recorded again without a change: %d keys", len(keyIDs(t, iss.JWKS)))
	case <-time.After(500 * time.Millisecond): // five intervals
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Watch: %v", err)
	}
}

func keyIDs(t *testing.T, jwks []byte) []string {
	t.Helper()
	var s jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &s); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range s.Keys {
		ids = append(ids, k.KeyID)
	}
	return ids
}
