package proctest_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/proctest"
)

func TestProcWaitLineAndStop(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "sh", nil, "/bin/sh", "-c", `trap 'exit 0' TERM; echo starting; echo "listening on port 4242"; while :; do sleep 0.05; done`)
	m := p.WaitLine(t, regexp.MustCompile(`listening on port (\d+)`), 10*time.Second)
	if got, want := m[1], "4242"; got != want {
		t.Errorf("WaitLine submatch = %q, want %q", got, want)
	}
	if st := p.State(); st != nil {
		t.Fatalf("State of a running process = %v, want nil", st)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Errorf("Stop of a process that exits 0 on SIGTERM: %v", err)
	}
	if st := p.State(); st == nil || !st.Success() {
		t.Errorf("State after Stop = %v, want exit status 0", st)
	}
	if got, want := p.Log(), "starting\nlistening on port 4242"; !strings.HasPrefix(got, want) {
		t.Errorf("Log() = %q, want it to start with %q", got, want)
	}
}

func TestProcStopReportsFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script string
		grace        time.Duration
		want         string
	}{
		{"non-zero exit", `trap 'exit 3' TERM; echo up; while :; do sleep 0.05; done`, 10 * time.Second, "exit status 3"},
		{"ignores SIGTERM", `trap '' TERM; echo up; while :; do sleep 0.05; done`, 200 * time.Millisecond, "did not stop within 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := proctest.Start(t, "sh", nil, "/bin/sh", "-c", tt.script)
			p.WaitLine(t, regexp.MustCompile(`^up$`), 10*time.Second)
			err := p.Stop(tt.grace)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Stop: %v, want an error containing %q", err, tt.want)
			}
			select {
			case <-p.Done():
			default:
				t.Error("the process still runs after Stop")
			}
		})
	}
}

func TestProcKill(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "sh", nil, "/bin/sh", "-c", `trap '' TERM; echo up; while :; do sleep 0.05; done`)
	p.WaitLine(t, regexp.MustCompile(`^up$`), 10*time.Second)
	p.Kill(t)
	if st := p.State(); st == nil || st.Success() {
		t.Errorf("State after Kill = %v, want killed", st)
	}
	p.Kill(t) // gone already: no failure
}

func TestPollHTTP(t *testing.T) {
	t.Parallel()
	port := proctest.FreePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	p := proctest.Start(t, "sh", nil, "/bin/sh", "-c", `sleep 60`)
	if err := p.PollHTTP(url, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not answer 200") {
		t.Errorf("PollHTTP of a closed port: %v, want a timeout", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { l.Close() })
	if err := p.PollHTTP(url, 10*time.Second); err != nil {
		t.Errorf("PollHTTP of a server answering 200: %v", err)
	}
	p.Kill(t)
	if err := p.PollHTTP(url+"/missing", 10*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("PollHTTP after the process exited: %v, want its exit reported", err)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("PODID_ENDPOINT", "http://example.invalid")
	t.Setenv("HOME", "/root")
	env := proctest.CleanEnv("/tmp/home", "AWS_REGION=us-west-2")
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") || strings.HasPrefix(kv, "PODID_") || kv == "HOME=/root" {
			t.Errorf("CleanEnv kept %q", kv)
		}
	}
	for _, want := range []string{"HOME=/tmp/home", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/tmp/home/no-aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/tmp/home/no-aws-credentials", "AWS_REGION=us-west-2"} {
		if !slices.Contains(env, want) {
			t.Errorf("CleanEnv lacks %q", want)
		}
	}
}

// fakeTB is a testing.TB whose cleanups, failures and logs a test can
// run and read.
type fakeTB struct {
	testing.TB // the real test, for TempDir and Helper
	cleanups   []func()
	failed     bool
	errors     []string
	logs       []string
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Error(args ...any) {
	f.failed = true
	f.errors = append(f.errors, fmt.Sprint(args...))
}
func (f *fakeTB) Errorf(format string, args ...any) { f.Error(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

// runCleanups runs the cleanups last first, as testing does.
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestCleanupShowsOutputOnFailure(t *testing.T) {
	t.Parallel()
	for _, failed := range []bool{false, true} {
		f := &fakeTB{TB: t, failed: failed}
		p := proctest.Start(f, "talker", nil, "/bin/sh", "-c", `trap 'exit 0' TERM; echo "hello from talker"; while :; do sleep 0.05; done`)
		p.WaitLine(t, regexp.MustCompile(`^hello`), 10*time.Second)
		f.runCleanups()
		if p.State() == nil {
			t.Errorf("failed=%t: the process runs after the test's cleanup", failed)
		}
		shown := strings.Contains(strings.Join(f.logs, "\n"), "talker output:\nhello from talker")
		if shown != failed {
			t.Errorf("failed=%t: output shown %t, want %t (logs %q)", failed, shown, failed, f.logs)
		}
	}
}

// TestServerCleanupChecksExit: a server that does not exit successfully on
// SIGTERM fails the test at its cleanup, and its output is shown.
func TestServerCleanupChecksExit(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "fake-podid")
	script := "#!/bin/sh\ntrap 'exit 3' TERM\necho \"args: $*\"\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fakeTB{TB: t}
	s := proctest.LaunchServer(f, bin, proctest.Name("replica Z"), proctest.Auth("none"), proctest.Store("postgres://db"), proctest.Args("--x", "y"))
	m := s.Proc.WaitLine(t, regexp.MustCompile(`^args: (.*)$`), 10*time.Second)
	want := "serve --listen 127.0.0.1:0 --auth none --data-dir " + s.DataDir + " --store postgres://db --iam off --account-id 000000000000 --region us-east-1 --log-level warn --x y"
	if m[1] != want {
		t.Errorf("podid serve's arguments:\n got %s\nwant %s", m[1], want)
	}
	f.runCleanups()
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "replica Z exited with exit status 3 after SIGTERM") {
		t.Errorf("errors of the cleanup: %q, want one saying replica Z exited with status 3", f.errors)
	}
	if !strings.Contains(strings.Join(f.logs, "\n"), "replica Z output:\nargs: serve") {
		t.Errorf("logs of the cleanup: %q, want the server's output", f.logs)
	}
}
