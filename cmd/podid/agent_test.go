package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/podid/podid/internal/agent"
	"github.com/podid/podid/internal/agent/agenttest"
)

// logWatcher collects log output and signals once both listeners are
// logged.
type logWatcher struct {
	mu    sync.Mutex
	buf   strings.Builder
	addrs map[string]string // serves → addr
	ready chan struct{}
}

var listeningRE = regexp.MustCompile(`msg="agent listening" serves=(\w+) addr=(\S+)`)

func (w *logWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, m := range listeningRE.FindAllStringSubmatch(string(p), -1) {
		w.addrs[m[1]] = m[2]
	}
	if len(w.addrs) == 2 && w.ready != nil {
		close(w.ready)
		w.ready = nil
	}
	return len(p), nil
}

func testAgentOptions() *agentOptions {
	return &agentOptions{
		cluster: "c1", region: agenttest.Region,
		listen: []string{"127.0.0.1:0"}, probeListen: "127.0.0.1:0",
		maxCacheSize: 10, maxServiceQPS: 3, retention: time.Hour, rateBurst: 100, logLevel: "info",
	}
}

func TestAgentCommand(t *testing.T) {
	fake := agenttest.NewFake(t)
	t.Setenv("AWS_ACCESS_KEY_ID", agenttest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", agenttest.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	o := testAgentOptions()
	o.server = fake.URL

	logs := &logWatcher{addrs: map[string]string{}, ready: make(chan struct{})}
	ready := logs.ready
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAgent(ctx, o, logs) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent exited: %v\n%s", err, logs.buf.String())
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not start")
	}
	logs.mu.Lock()
	credsAddr, probeAddr := logs.addrs["credentials"], logs.addrs["probes"]
	logs.mu.Unlock()

	token := "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE5MjQ5OTIwMDB9.c2lnbmF0dXJl" // exp 2031
	p := endpointcreds.New("http://"+credsAddr+agent.CredentialsPath, func(o *endpointcreds.Options) { o.AuthorizationToken = token })
	creds, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccountID != agenttest.AccountID || !creds.CanExpire || !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Errorf("credentials %+v", creds)
	}
	if err := fake.Log()[0].SignatureErr; err != nil {
		t.Errorf("EKS Auth request signature: %v", err)
	}
	resp, err := http.Get("http://" + probeAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz %d", resp.StatusCode)
	}

	cancel() // what SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runAgent: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop")
	}
	if strings.Contains(logs.buf.String(), token) {
		t.Error("the token reached the logs")
	}
}

func TestAgentFlagsReportEveryProblem(t *testing.T) {
	o := &agentOptions{maxCacheSize: 0, maxServiceQPS: 0, retention: time.Second, rateLimit: -1, logLevel: "loud"}
	err := o.validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--cluster", "--listen", "--max-cache-size", "--max-service-qps", "--retention", "--rate-limit", "--log-level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
