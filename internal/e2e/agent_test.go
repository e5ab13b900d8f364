package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentErrorRE matches the agent's relay of an EKS Auth error (spec §8.3).
func agentErrorRE(code, fault string) *regexp.Regexp {
	return regexp.MustCompile(`^\[[^\]]+\]: \(` + code + `\): .+, fault: ` + fault + `\n$`)
}

// checkAgentError checks that the agent answered an EKS Auth error code
// with status, relayed as the AWS agent does (fault: server for 5xx).
func checkAgentError(t *testing.T, r response, status int, code string) {
	t.Helper()
	fault := "client"
	if status >= 500 {
		fault = "server"
	}
	if r.status != status || !agentErrorRE(code, fault).Match(r.body) {
		t.Errorf("agent answered %d %q, want %d and a %s relay", r.status, r.body, status, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("agent's error Content-Type = %q, want text/plain; charset=utf-8 (http.Error's)", ct)
	}
}

// checkAgentProtocol checks the agent's /v1/credentials answers (spec
// §8.3): the JSON the SDKs read, the Host check, an empty token, and one
// EKS Auth call for concurrent requests with one token, later ones served
// from the cache.
func checkAgentProtocol(t *testing.T, srv *server, ag *agent, cluster string, p pod) (secrets []string) {
	token := srv.token(t, cluster, p)
	secrets = append(secrets, token)
	before := agentUpstreamCalls(t, ag)
	const n = 8
	answers := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i], errs[i] = ag.get(token) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if calls := agentUpstreamCalls(t, ag) - before; calls != 1 {
		t.Errorf("%d concurrent requests with one token made %v EKS Auth calls, want 1", n, calls)
	}
	again := ag.credentials(t, token)
	if calls := agentUpstreamCalls(t, ag) - before; calls != 1 {
		t.Errorf("a later request with the same token made an EKS Auth call (%v in all), want a cache hit", calls)
	}
	for i, r := range append(answers, again) {
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d: %d %s %q, want 200 application/json", i, r.status, r.header.Get("Content-Type"), r.body)
		}
		if string(r.body) != string(answers[0].body) {
			t.Errorf("answer %d differs from the first: %s vs %s", i, r.body, answers[0].body)
		}
	}
	var creds map[string]any
	if err := json.Unmarshal(answers[0].body, &creds); err != nil {
		t.Fatal(err)
	}
	exp, _ := creds["Expiration"].(string)
	if _, err := time.Parse(time.RFC3339, exp); err != nil {
		t.Errorf("Expiration = %#v, want an RFC 3339 string", creds["Expiration"])
	}
	for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token"} {
		if v, _ := creds[k].(string); v == "" {
			t.Errorf("%s missing from %s", k, answers[0].body)
		} else if k != "AccessKeyId" {
			secrets = append(secrets, v)
		}
	}
	if creds["AccountId"] != account {
		t.Errorf("AccountId = %#v, want %s", creds["AccountId"], account)
	}

	req, _ := http.NewRequest(http.MethodGet, ag.URL+"/v1/credentials", nil)
	req.Host = "metadata.evil.example"
	req.Header.Set("Authorization", token)
	if r := do(t, req, nil, "", nil); r.status != 403 || !strings.HasPrefix(string(r.body), "Access Denied. Called agent through invalid address") {
		t.Errorf("wrong Host: %d %q, want 403 Access Denied", r.status, r.body)
	}
	if r := ag.credentials(t, ""); r.status != 400 || string(r.body) != "Service account token cannot be empty\n" {
		t.Errorf("empty token: %d %q, want 400 Service account token cannot be empty", r.status, r.body)
	}
	return secrets
}

// agentUpstreamCalls reads the agent's count of successful EKS Auth calls
// from its /metrics.
func agentUpstreamCalls(t *testing.T, ag *agent) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ag.URL+"/metrics", nil)
	r := do(t, req, nil, "", nil)
	const name = `podid_agent_upstream_duration_seconds_count{outcome="ok"} `
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return f
		}
	}
	return 0 // not observed yet
}
