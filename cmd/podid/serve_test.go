package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/proctest"
	"github.com/podid/podid/internal/sigv4"
)

func testServeOptions(t *testing.T) *serveOptions {
	return &serveOptions{
		listen:          "127.0.0.1:0",
		store:           "sqlite:" + filepath.Join(t.TempDir(), "podid.db"),
		dataDir:         filepath.Join(t.TempDir(), "data"),
		region:          "us-east-1",
		accountID:       "000000000000",
		auth:            "none",
		iam:             iamOff,
		maxBodyBytes:    1 << 20,
		logLevel:        "info",
		shutdownTimeout: 30 * time.Second,
		pollInterval:    time.Second,
		resyncInterval:  5 * time.Minute,
		console:         true,
	}
}

// TestServeGracefulShutdown: on cancellation (what SIGTERM does), a request
// in flight finishes with its response before serve returns, and serve
// returns nil.
func TestServeGracefulShutdown(t *testing.T) {
	t.Chdir(t.TempDir())
	entered, release := make(chan struct{}), make(chan struct{})
	o := testServeOptions(t)
	o.extraRoutes = map[string]http.Handler{"GET /test-slow": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})}

	stdout := proctest.NewSignalWriter("Health: curl ")
	stderr := proctest.NewSignalWriter("shutting down")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, o, stdout, stderr) }()
	proctest.WaitFor(t, stdout.Seen(), "the banner")
	url := regexp.MustCompile(`EKS API at (http://\S+)`).FindStringSubmatch(stdout.String())
	if url == nil {
		t.Fatalf("no URL in the banner:\n%s", stdout.String())
	}
	for _, want := range []string{"export AWS_ENDPOINT_URL_EKS=" + url[1], "aws eks list-clusters --endpoint-url " + url[1], "AWS_ACCESS_KEY_ID="} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stdout.String())
		}
	}
	resp, err := http.Get(url[1] + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(url[1] + "/test-slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	proctest.WaitFor(t, entered, "the slow request")
	cancel()
	proctest.WaitFor(t, stderr.Seen(), "shutdown to start")
	select {
	case err := <-done:
		t.Fatalf("serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	r := <-slow
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Errorf("request in flight during shutdown: %d %q %v, want 200 finished", r.status, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	// The batched request log lost nothing on the way out.
	for _, want := range []string{"msg=request method=GET path=/healthz", "msg=request method=GET path=/test-slow", "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestServeFlagsReportEveryProblem(t *testing.T) {
	o := testServeOptions(t)
	o.listen, o.store, o.region, o.accountID, o.auth = "no-port", "mysql://u:secret@h/db", "Mars", "123", "kerberos"
	o.maxBodyBytes, o.logLevel, o.publicURL = 0, "loud", "ftp://x"
	err := runServe(context.Background(), o, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"--listen", `unknown store type "mysql"`, "region", "account ID", "--auth", "--max-body-bytes", "--log-level", "public URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the DSN's password:\n%v", err)
	}
}

func TestServeStoreThatCannotOpen(t *testing.T) {
	o := testServeOptions(t)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := writeFile(blocker); err != nil {
		t.Fatal(err)
	}
	o.store = "sqlite:" + filepath.Join(blocker, "sub", "podid.db") // parent is a file
	err := runServe(context.Background(), o, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "opening store") {
		t.Errorf("runServe with an unopenable store: %v, want an opening store error", err)
	}
}

// TestServeDataDir: "sqlite:" keeps the database in --data-dir, and a data
// directory other users may read is refused with the command that fixes it.
func TestServeDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	o := testServeOptions(t)
	o.store, o.dataDir = "sqlite:", filepath.Join(t.TempDir(), "data")
	stdout := proctest.NewSignalWriter("Health: curl ")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, o, stdout, io.Discard) }()
	proctest.WaitFor(t, stdout.Seen(), "the banner")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.dataDir, "podid.db")); err != nil {
		t.Errorf("no database in --data-dir: %v", err)
	}
	if _, err := os.Stat("podid-data"); err == nil {
		t.Errorf("serve made ./podid-data although --data-dir says otherwise")
	}

	if err := os.Chmod(o.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	err := runServe(context.Background(), o, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+o.dataDir) {
		t.Errorf("serve with a 0755 data directory: %v, want a refusal saying chmod 700", err)
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("x"), 0o600) }

// TestServeConsole: with --auth sigv4 the console's files are served
// without a signature (every API call the page makes is signed), and
// --console=false takes them away.
func TestServeConsole(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("console=%v", on), func(t *testing.T) {
			t.Chdir(t.TempDir())
			o := testServeOptions(t)
			o.auth, o.dataDir, o.console = "sigv4", filepath.Join(t.TempDir(), "data"), on
			stdout := proctest.NewSignalWriter("Health: curl ")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- runServe(ctx, o, stdout, io.Discard) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			proctest.WaitFor(t, stdout.Seen(), "the banner")
			url := regexp.MustCompile(`EKS API at (http://\S+)`).FindStringSubmatch(stdout.String())[1]
			if got := strings.Contains(stdout.String(), "Console: "+url+"/console/"); got != on {
				t.Errorf("banner names the console: %v, want %v:\n%s", got, on, stdout.String())
			}
			resp, err := http.Get(url + "/console/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			served := resp.StatusCode == 200 && strings.Contains(string(body), "js/app.js")
			if served != on {
				t.Errorf("GET /console/ unsigned: %d %.80q; want served=%v", resp.StatusCode, body, on)
			}
			if resp, err := http.Get(url + "/clusters"); err != nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET /clusters unsigned: %v %v, want 403 (only the console is public)", resp, err)
			}
		})
	}
}

// TestServeBannerAdminKeys: the first start prints the admin keys once; a
// restart says where they are (and prints no secret).
func TestServeBannerAdminKeys(t *testing.T) {
	o := testServeOptions(t)
	o.auth, o.dataDir = sigv4.ModeSigV4, filepath.Join(t.TempDir(), "data")
	var first, second strings.Builder
	keys, err := adminIdentity(o, &first)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), keys.SecretAccessKey) {
		t.Errorf("first start:\n%s\nwant the keys", first.String())
	}
	if _, err := adminIdentity(o, &second); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.dataDir, sigv4.AdminFile)
	if !strings.Contains(second.String(), path) || !strings.Contains(second.String(), keys.AccessKeyID) || strings.Contains(second.String(), keys.SecretAccessKey) {
		t.Errorf("restart:\n%s\nwant where the keys are (%s), their ID, no secret", second.String(), path)
	}
}
