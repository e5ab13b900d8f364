// Package proctest starts the podid binary as processes for tests: it
// builds the binary once (from TestMain), starts podid serve and podid
// agent on free loopback ports, reads a server's address from its banner,
// waits for /healthz with a deadline, reads the admin keys the server wrote
// to its data directory, and hands out AWS SDK clients for it. Every
// process's output is kept, shown when the test fails, and the process is
// stopped when the test ends (t.Cleanup).
//
// A TestMain builds the binary once:
//
//	func TestMain(m *testing.M) {
//		bins, remove, err := proctest.Build(proctest.PodidPackage)
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		podid = bins[0]
//		code := m.Run()
//		remove()
//		os.Exit(code)
//	}
//
// and a test starts a server and talks to it with the AWS SDK:
//
//	srv := proctest.StartServer(t, podid, proctest.Auth("none"))
//	out, err := srv.EKS(aws.AnonymousCredentials{}).ListClusters(ctx, &eks.ListClustersInput{})
//
// The end-to-end tests (internal/e2e) and the durability tests
// (internal/durability) use it.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PodidPackage is the import path of the podid binary's main package.
const PodidPackage = "github.com/podid/podid/cmd/podid"

// Build builds the main packages pkgs (import paths; PodidPackage for
// podid) into a new temporary directory with go build, for a TestMain: it
// returns the binaries' paths in pkgs' order and a func that removes the
// directory. The build may take up to three minutes.
func Build(pkgs ...string) (bins []string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "podid-proctest-")
	if err != nil {
		return nil, nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		remove()
		return nil, nil, fmt.Errorf("building %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	for _, p := range pkgs {
		bins = append(bins, filepath.Join(dir, path.Base(p)))
	}
	return bins, remove, nil
}

// CleanEnv is this process's environment without AWS or podid settings,
// with HOME (and so ~/.aws) in dir, AWS config and credentials files that
// do not exist, and the instance metadata service off: nothing but extra
// reaches a child's credential chain.
func CleanEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "PODID_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true")
	return append(env, extra...)
}

// FreePort returns a loopback port that was free a moment ago (for a
// process that cannot report the port it bound, or one restarted on the
// same address).
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lineLog collects a process's output lines and lets a test wait for one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced on each write
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// find returns the submatches of the first line matching re, or a channel
// closed on the next write.
func (l *lineLog) find(re *regexp.Regexp) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if m := re.FindStringSubmatch(line); m != nil {
			return m, nil
		}
	}
	return nil, l.changed
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + string(l.partial)
}

// Proc is a started process, its stdout and stderr in one log.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  *lineLog
	done chan struct{} // closed when the process has exited
}

// Start starts bin with args and env (nil: this process's) in a process
// group of its own, killed if the test binary dies first. When the test
// ends it is stopped (Stop, its error ignored) and, if the test failed,
// its output is logged under name.
func Start(tb testing.TB, name string, env []string, bin string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{name: name, log: &lineLog{changed: make(chan struct{})}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop(StopGrace)
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, p.log)
		}
	})
	return p
}

// Name is the name the process was started with.
func (p *Proc) Name() string { return p.name }

// Log returns the process's output so far.
func (p *Proc) Log() string { return p.log.String() }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// State is the exited process's state; nil while it runs.
func (p *Proc) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// StopGrace is how long Stop gives a process after SIGTERM when a test's
// cleanup stops it.
const StopGrace = 20 * time.Second

// Stop sends SIGTERM to the process group and waits for the process to
// exit; after grace it sends SIGKILL. Its error says the process did not
// exit in time or exited unsuccessfully. A process that had exited already
// is left as it is (nil error).
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		if st := p.cmd.ProcessState; !st.Success() {
			return fmt.Errorf("%s exited with %v after SIGTERM", p.name, st)
		}
		return nil
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.name, grace)
	}
}

// Kill sends SIGKILL to the process group and waits for the process to be
// gone.
func (p *Proc) Kill(tb testing.TB) {
	tb.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		tb.Fatalf("killing %s: %v", p.name, err)
	}
	<-p.done
}

// WaitLine waits for an output line matching re and returns its
// submatches; it fails the test if the process exits or timeout passes
// first.
func (p *Proc) WaitLine(tb testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		m, changed := p.log.find(re)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.done:
			if m, _ := p.log.find(re); m != nil {
				return m
			}
			tb.Fatalf("%s exited (%v) before printing a line matching %q:\n%s", p.name, p.cmd.ProcessState, re, p.log)
		case <-deadline:
			tb.Fatalf("%s printed no line matching %q within %s:\n%s", p.name, re, timeout, p.log)
		}
	}
}

// WaitHTTP is PollHTTP that fails the test on error.
func (p *Proc) WaitHTTP(tb testing.TB, url string, timeout time.Duration) {
	tb.Helper()
	if err := p.PollHTTP(url, timeout); err != nil {
		tb.Fatalf("%s: %v:\n%s", p.name, err, p.log)
	}
}

// PollHTTP GETs url until it answers 200; it fails if the process exits or
// timeout passes first.
func (p *Proc) PollHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		cancel()
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v) before %s answered", p.cmd.ProcessState, url)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s (last: %v)", url, timeout, last)
}
