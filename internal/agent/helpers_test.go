package agent_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podid/podid/internal/agent"
	"github.com/podid/podid/internal/agent/agenttest"
	"github.com/podid/podid/internal/agent/eksauthclient"
)

const cluster = "c1"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// makeToken builds an (unsigned for our purposes) JWT with the given
// payload claims, shaped like a projected service-account token.
func makeToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "kid": "k1"}) + "." + enc(claims) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("s", 256)))
}

// podToken is a valid token for pod name at clock time now.
func podToken(t testing.TB, now time.Time, pod string) string {
	return makeToken(t, map[string]any{
		"aud": []string{"pods.eks.amazonaws.com"},
		"exp": now.Add(24 * time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"iss": "https://podid.example/clusters/c1",
		"sub": "system:serviceaccount:ns-a:sa1",
		"kubernetes.io": map[string]any{
			"namespace":      "ns-a",
			"pod":            map[string]string{"name": pod, "uid": "fd6df8ef-0000-4000-8000-" + strings.Repeat("0", 12)},
			"serviceaccount": map[string]string{"name": "sa1", "uid": "aad7d4eb-0000-4000-8000-" + strings.Repeat("0", 12)},
		},
	})
}

// stack is an agent in front of a fake EKS Auth.
type stack struct {
	fake  *agenttest.Fake
	agent *agent.Agent
	srv   *httptest.Server // the credentials handler
	reg   *prometheus.Registry
	clock *clock
}

type stackOpt func(*agent.Config)

func newStack(t testing.TB, opts ...stackOpt) *stack {
	t.Helper()
	clk := newClock()
	fake := agenttest.NewFake(t)
	fake.Now = clk.Now
	client, err := eksauthclient.New(eksauthclient.Config{
		Endpoint: fake.URL, Region: agenttest.Region, Credentials: agenttest.Credentials(),
		BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := agent.Config{
		Cluster:  cluster,
		Upstream: &agent.Upstream{Client: client},
		Listen:   []string{"127.0.0.1:0"},
		Cache:    agent.CacheConfig{Jitter: 0},
		Now:      clk.Now,
		Registry: reg,
		Logger:   discardLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Cache().Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &stack{fake: fake, agent: a, srv: srv, reg: reg, clock: clk}
}

// get calls /v1/credentials with token and returns status, content type
// and body.
func (s *stack) get(t testing.TB, token string) (int, string, string) {
	t.Helper()
	return getWithHost(t, s.srv.URL, "", token)
}

func getWithHost(t testing.TB, base, host, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/v1/credentials", nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// eventually waits up to 10s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
