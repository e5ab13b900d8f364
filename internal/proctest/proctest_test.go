package proctest_test

import (
	"net"
	"net/http"
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
