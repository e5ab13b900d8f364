package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/agent"
	"github.com/podid/podid/internal/agent/agenttest"
)

type credsDoc struct {
	AccessKeyId, SecretAccessKey, Token, AccountId, Expiration string
}

func TestSuccessResponse(t *testing.T) {
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	status, ctype, body := s.get(t, tok)
	if status != http.StatusOK || ctype != "application/json" {
		t.Fatalf("status %d, content type %q, body %s", status, ctype, body)
	}
	var got credsDoc
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := expected(t, s, tok)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("credentials (-got +want):\n%s", diff)
	}
	call := s.fake.Log()[0]
	if call.Token != tok || call.Cluster != cluster || call.SignatureErr != nil {
		t.Errorf("upstream call cluster %q, token matches %v, signature %v", call.Cluster, call.Token == tok, call.SignatureErr)
	}
}

// expected is the document the agent must return for tok's first call,
// when that was the fake's only call.
func expected(t *testing.T, s *stack, tok string) credsDoc {
	t.Helper()
	out, _ := s.fake.Success(agenttest.Call{Cluster: cluster, Token: tok})
	c := out.Credentials
	return credsDoc{
		AccessKeyId:     c.AccessKeyId, // derived from the token and the call count
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		AccountId:       agenttest.AccountID,
		Expiration:      s.clock.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
	}
}

func TestSDKEndpointProvider(t *testing.T) {
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	p := endpointcreds.New(s.srv.URL+"/v1/credentials", func(o *endpointcreds.Options) {
		o.AuthorizationToken = tok
	})
	creds, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := expected(t, s, tok)
	got := credsDoc{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, creds.AccountID, creds.Expires.UTC().Format(time.RFC3339)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("credentials (-got +want):\n%s", diff)
	}
	if !creds.CanExpire {
		t.Error("CanExpire = false; Expiration was not read")
	}

	// Errors reach the SDK with EKS Auth's text.
	s.fake.SetResponder(agenttest.Err(eksapi.CodeAccessDenied, "Unauthorized Exception! EKS does not have permissions to assume the associated role."))
	p = endpointcreds.New(s.srv.URL+"/v1/credentials", func(o *endpointcreds.Options) {
		o.AuthorizationToken = podToken(t, s.clock.Now(), "app2")
	})
	_, err = p.Retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "(AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client") {
		t.Errorf("err = %v", err)
	}
}

// TestSDKDefaultChainChildProcess runs the unmodified SDK default chain in
// a child process against a live agent.
func TestSDKDefaultChainChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	bin := filepath.Join(t.TempDir(), "sdkclient")
	build := exec.Command("go", "build", "-o", bin, "./testdata/sdkclient")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sdkclient: %v\n%s", err, out)
	}
	s := newStack(t)
	// Real time here: the child's SDK compares Expiration with its clock.
	s.fake.Now = time.Now
	tok := podToken(t, time.Now(), "app1")
	tokFile := filepath.Join(t.TempDir(), "eks-pod-identity-token")
	if err := os.WriteFile(tokFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	// The agent's clock must accept the token too.
	s.clock.Advance(time.Since(s.clock.Now()))
	serveLive(t, s)

	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=us-west-2",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + s.srv.URL + "/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + tokFile,
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("sdkclient: %v\n%s", err, stderr)
	}
	var got struct {
		AccessKeyID, SecretAccessKey, SessionToken, AccountID, Source, Expires string
		CanExpire                                                              bool
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := s.fake.Success(agenttest.Call{Cluster: cluster, Token: tok})
	if got.SecretAccessKey != want.Credentials.SecretAccessKey || got.SessionToken != want.Credentials.SessionToken ||
		got.AccountID != agenttest.AccountID || !strings.HasPrefix(got.AccessKeyID, "ASIA") || !got.CanExpire {
		t.Errorf("child got %+v", got)
	}
	exp, err := time.Parse(time.RFC3339, got.Expires)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK reports expiry 5 minutes early (its ExpiryWindow) at most.
	if d := time.Until(exp); d < 5*time.Hour || d > 6*time.Hour+time.Minute {
		t.Errorf("expires in %v, want about 6h", d)
	}
}

// serveLive replaces s.srv's handler host: the child needs a URL whose
// Host is loopback, which httptest gives; nothing to do beyond checking.
func serveLive(t *testing.T, s *stack) {
	t.Helper()
	if !strings.HasPrefix(s.srv.URL, "http://127.0.0.1:") {
		t.Skipf("httptest server is not on 127.0.0.1: %s", s.srv.URL)
	}
}

func TestRequestValidation(t *testing.T) {
	s := newStack(t)
	now := s.clock.Now()
	tests := []struct {
		name, token, want string
	}{
		{"empty", "", "Service account token cannot be empty"},
		{"bearer prefix", "Bearer " + podToken(t, now, "a"), "Service account token cannot be parsed: token is malformed: could not base64 decode header"},
		{"two segments", "a.b", "Service account token cannot be parsed: token is malformed: token contains an invalid number of segments"},
		{"bad header json", "bm9wZQ.e30.c2ln", "Service account token cannot be parsed: token is malformed: could not JSON decode header"},
		{"no alg", "e30.e30.c2ln", "Service account token cannot be parsed: token is unverifiable: signing method (alg) is unspecified"},
		{"string exp", makeToken(t, map[string]any{"exp": "soon"}), "Service account token cannot be parsed: token is malformed: could not JSON decode claim"},
		{"expired", makeToken(t, map[string]any{"exp": now.Add(-time.Second).Unix()}), "Service account token failed basic claim validations: token has invalid claims: token is expired"},
		{"not yet valid", makeToken(t, map[string]any{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(time.Minute).Unix()}), "Service account token failed basic claim validations: token has invalid claims: token is not valid yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := s.get(t, tt.token)
			if status != http.StatusBadRequest || ctype != "text/plain; charset=utf-8" || !strings.HasPrefix(body, tt.want) || !strings.HasSuffix(body, "\n") {
				t.Errorf("got %d %q %q; want 400 text/plain %q…", status, ctype, body, tt.want)
			}
		})
	}
	if n := s.fake.Calls(); n != 0 {
		t.Errorf("upstream calls = %d, want 0", n)
	}
}

func TestHostCheck(t *testing.T) {
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	tests := []struct {
		host   string
		status int
	}{
		{"169.254.170.23", 200},
		{"169.254.170.23:80", 200},
		{"[fd00:ec2::23]", 200},
		{"[FD00:EC2::23]:80", 200},
		{"localhost:2704", 200},
		{"evil.example", 403},
		{"169.254.170.2", 403},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			status, _, body := getWithHost(t, s.srv.URL, tt.host, tok)
			if status != tt.status {
				t.Errorf("status %d, want %d; body %q", status, tt.status, body)
			}
			if tt.status == 403 {
				host := strings.Split(tt.host, ":")[0]
				want := "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23 127.0.0.1 ::1 localhost] address not " + host + "\n"
				if body != want {
					t.Errorf("body %q, want %q", body, want)
				}
			}
		})
	}
	t.Run("not loopback-listening", func(t *testing.T) {
		s := newStack(t, func(c *agent.Config) { c.Listen = []string{"169.254.170.23:80"} })
		if status, _, _ := s.get(t, tok); status != 403 {
			t.Errorf("status %d for 127.0.0.1 when not listening on loopback, want 403", status)
		}
	})
}

func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name   string
		resp   agenttest.Responder
		status int
		body   string
	}{
		{"access denied", agenttest.Err(eksapi.CodeAccessDenied, "Unauthorized Exception! EKS does not have permissions to assume the associated role."),
			400, "[req-1]: (AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client\n"},
		{"not found", agenttest.Err(eksapi.CodeResourceNotFound, "No pod identity association found."),
			404, "[req-1]: (ResourceNotFoundException): No pod identity association found., fault: client\n"},
		{"server", agenttest.Err(eksapi.CodeInternalServer, "boom"),
			500, "[req-3]: (InternalServerException): boom, fault: server\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t)
			s.fake.SetResponder(tt.resp)
			status, ctype, body := s.get(t, podToken(t, s.clock.Now(), "app1"))
			if diff := cmp.Diff([]any{status, ctype, body}, []any{tt.status, "text/plain; charset=utf-8", tt.body}); diff != "" {
				t.Errorf("response (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCacheHit(t *testing.T) {
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	_, _, first := s.get(t, tok)
	s.clock.Advance(30 * time.Minute)
	_, _, second := s.get(t, tok)
	if first != second {
		t.Errorf("second response differs:\n%s\n%s", first, second)
	}
	if n := s.fake.Calls(); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
	if h, m := counter(t, s.reg, "podid_agent_cache_hits_total"), counter(t, s.reg, "podid_agent_cache_misses_total"); h != 1 || m != 1 {
		t.Errorf("hits %v misses %v, want 1 1", h, m)
	}
	// Another token is another entry.
	s.get(t, podToken(t, s.clock.Now(), "app2"))
	if n := s.fake.Calls(); n != 2 {
		t.Errorf("upstream calls = %d, want 2", n)
	}
	if n := counter(t, s.reg, "podid_agent_cache_entries"); n != 2 {
		t.Errorf("cache entries metric %v, want 2", n)
	}
}

func TestSingleflight(t *testing.T) {
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	release := s.fake.Hold()
	defer release()
	const n = 20
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, bodies[i] = s.get(t, tok)
		})
	}
	eventually(t, "all requests to miss", func() bool {
		return counter(t, s.reg, "podid_agent_cache_misses_total") == n && s.fake.Calls() == 1
	})
	release()
	wg.Wait()
	if c := s.fake.Calls(); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}
	for i := range bodies {
		if bodies[i] != bodies[0] || !strings.Contains(bodies[0], "AccessKeyId") {
			t.Fatalf("response %d = %q, want %q", i, bodies[i], bodies[0])
		}
	}
}

func TestRenewalAheadOfExpiry(t *testing.T) {
	s := newStack(t, func(c *agent.Config) {
		c.Cache.Retention = time.Hour
		c.Cache.RefreshWindow = 5 * time.Minute
	})
	tok := podToken(t, s.clock.Now(), "app1")
	_, _, first := s.get(t, tok)

	s.clock.Advance(54 * time.Minute) // before the window: a plain hit
	if _, _, b := s.get(t, tok); b != first || s.fake.Calls() != 1 {
		t.Fatalf("calls %d; body changed: %v", s.fake.Calls(), b != first)
	}
	s.clock.Advance(2 * time.Minute) // in the window: served, renewed behind
	if _, _, b := s.get(t, tok); b != first {
		t.Errorf("in-window request did not get the cached credentials")
	}
	eventually(t, "background renewal", func() bool { return s.fake.Calls() == 2 })
	var renewed string
	eventually(t, "renewed credentials served", func() bool {
		_, _, renewed = s.get(t, tok)
		return renewed != first
	})
	if s.fake.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2", s.fake.Calls())
	}

	// Sweep renews idle entries too.
	s.clock.Advance(57 * time.Minute)
	s.agent.Cache().Sweep()
	eventually(t, "sweep renewal", func() bool {
		return s.fake.Calls() == 3 && counter(t, s.reg, "podid_agent_cache_refreshes_total") == 2
	})

	// Past the end without renewal: fetched synchronously.
	s.clock.Advance(2 * time.Hour)
	s.get(t, tok)
	if s.fake.Calls() != 4 {
		t.Errorf("upstream calls = %d after the entry ended, want 4", s.fake.Calls())
	}
}

func TestRetentionFollowsCredentialExpiry(t *testing.T) {
	// Credentials for 6h, retention 3h by default: renewal at ~2h55m.
	s := newStack(t)
	tok := podToken(t, s.clock.Now(), "app1")
	s.get(t, tok)
	s.clock.Advance(2*time.Hour + 50*time.Minute)
	s.agent.Cache().Sweep()
	s.get(t, tok)
	if s.fake.Calls() != 1 {
		t.Fatalf("renewed before the window: %d calls", s.fake.Calls())
	}
	// Chained-role credentials: 1h. The entry ends 15s before they do.
	s.fake.SetResponder(func(c agenttest.Call) (*eksapi.AssumeRoleForPodIdentityOutput, *eksapi.Error) {
		out, _ := s.fake.Success(c)
		out.Credentials.Expiration = eksapi.NewTime(s.clock.Now().Add(time.Hour))
		return out, nil
	})
	tok2 := podToken(t, s.clock.Now(), "app2")
	s.get(t, tok2)
	s.clock.Advance(time.Hour - 14*time.Second)
	s.get(t, tok2)
	if s.fake.Calls() != 3 {
		t.Errorf("upstream calls = %d, want 3 (credentials with <15s left are not served)", s.fake.Calls())
	}
}

func TestIrrecoverableEvicts(t *testing.T) {
	s := newStack(t, func(c *agent.Config) { c.Cache.Retention = time.Hour })
	tok := podToken(t, s.clock.Now(), "app1")
	s.get(t, tok)
	s.fake.SetResponder(agenttest.Err(eksapi.CodeResourceNotFound, "No pod identity association found."))
	s.clock.Advance(58 * time.Minute)
	s.agent.Cache().Sweep()
	eventually(t, "eviction", func() bool { return s.agent.Cache().Len() == 0 })
	status, _, body := s.get(t, tok)
	if status != 404 || !strings.Contains(body, "(ResourceNotFoundException)") {
		t.Errorf("after eviction: %d %q", status, body)
	}
	// Nothing keeps refreshing it.
	s.agent.Cache().Sweep()
	if s.fake.Calls() != 3 {
		t.Errorf("upstream calls = %d, want 3", s.fake.Calls())
	}
}

func TestRecoverableRenewalFailureKeepsServing(t *testing.T) {
	s := newStack(t, func(c *agent.Config) { c.Cache.Retention = time.Hour })
	tok := podToken(t, s.clock.Now(), "app1")
	_, _, first := s.get(t, tok)
	s.fake.SetResponder(agenttest.Err(eksapi.CodeThrottling, "slow down"))
	s.clock.Advance(58 * time.Minute)
	s.agent.Cache().Sweep()
	eventually(t, "failed renewal", func() bool { return counter(t, s.reg, "podid_agent_cache_refreshes_total") == 1 })
	if status, _, b := s.get(t, tok); status != 200 || b != first {
		t.Errorf("status %d; cached credentials not served after a throttled renewal", status)
	}
}

func TestSizeBound(t *testing.T) {
	s := newStack(t, func(c *agent.Config) { c.Cache.MaxSize = 3 })
	var toks []string
	for i := range 5 {
		toks = append(toks, podToken(t, s.clock.Now(), fmt.Sprint("app", i)))
		s.get(t, toks[i])
	}
	if n := s.agent.Cache().Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	s.get(t, toks[4]) // most recent: cached
	if s.fake.Calls() != 5 {
		t.Errorf("calls = %d, want 5", s.fake.Calls())
	}
	s.get(t, toks[0]) // least recent: evicted
	if s.fake.Calls() != 6 {
		t.Errorf("calls = %d, want 6", s.fake.Calls())
	}
}

func TestRateLimit(t *testing.T) {
	s := newStack(t, func(c *agent.Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	tok := podToken(t, s.clock.Now(), "app1")
	var got []int
	for range 3 {
		status, _, body := s.get(t, tok)
		got = append(got, status)
		if status == 429 && !strings.HasPrefix(body, "Too Many Requests.") {
			t.Errorf("429 body %q", body)
		}
	}
	if diff := cmp.Diff(got, []int{200, 200, 429}); diff != "" {
		t.Errorf("statuses (-got +want):\n%s", diff)
	}
	if n := counter(t, s.reg, "podid_agent_http_responses_total"); n != 3 {
		t.Errorf("responses counted %v, want 3", n)
	}
}

func TestServeProbesAndShutdown(t *testing.T) {
	s := newStack(t, func(c *agent.Config) { c.ProbeListen = "127.0.0.1:0" })
	probes := newHTTPServer(t, s.agent.ProbeHandler())
	if code := statusOf(t, probes+"/readyz"); code != 503 {
		t.Errorf("readyz before serving = %d, want 503", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.agent.Serve(ctx, []net.Listener{ln}, nil) }()
	eventually(t, "ready", func() bool { return statusOf(t, probes+"/readyz") == 200 })
	if code := statusOf(t, probes+"/healthz"); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	tok := podToken(t, s.clock.Now(), "app1")
	if status, _, body := getWithHost(t, "http://"+ln.Addr().String(), "", tok); status != 200 {
		t.Errorf("live credentials request: %d %s", status, body)
	}
	resp, err := http.Get(probes + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	_, _ = io.Copy(&sb, resp.Body)
	resp.Body.Close()
	for _, name := range []string{"podid_agent_http_responses_total{code=\"200\"} 1", "podid_agent_cache_misses_total 1",
		"podid_agent_cache_entries 1", "podid_agent_upstream_duration_seconds_count{outcome=\"ok\"} 1"} {
		if !strings.Contains(sb.String(), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRenewalQPSLimit(t *testing.T) {
	s := newStack(t, func(c *agent.Config) {
		c.Cache.Retention = time.Hour
		c.Cache.RefreshQPS = 0.001 // one renewal now, the next in ~17 minutes
	})
	for i := range 3 {
		s.get(t, podToken(t, s.clock.Now(), fmt.Sprint("app", i)))
	}
	s.clock.Advance(58 * time.Minute)
	s.agent.Cache().Sweep()
	eventually(t, "one renewal", func() bool { return counter(t, s.reg, "podid_agent_cache_refreshes_total") == 1 })
	s.agent.Cache().Close() // stops the renewals still waiting for their turn
	if n := s.fake.Calls(); n != 4 {
		t.Errorf("upstream calls = %d, want 4 (3 fetches + 1 renewal within the QPS limit)", n)
	}
}
