package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a server the bench started as a child process.
type child struct {
	name    string
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:port
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
	started time.Time
	ready   time.Time // when the health check first answered 200
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// startChild starts bin with args (in which "{addr}" is replaced by a free
// loopback address) and waits until healthPath answers 200, or the child
// exits, or timeout passes. Its output goes to a log file in logDir.
func startChild(ctx context.Context, name, logDir, bin string, args []string, healthPath string, timeout time.Duration) (*child, error) {
	return startChildEnv(ctx, name, logDir, bin, args, nil, healthPath, timeout)
}

// startChildEnv is startChild with env added to the bench's environment.
func startChildEnv(ctx context.Context, name, logDir, bin string, args, env []string, healthPath string, timeout time.Duration) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	full := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "{addr}", addr)
		a = strings.ReplaceAll(a, "{host}", host)
		a = strings.ReplaceAll(a, "{port}", port)
		full[i] = a
	}
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	cmd := exec.Command(bin, full...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so a Ctrl-C on the bench reaches the bench,
	// which then stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c := &child{name: name, cmd: cmd, url: "http://" + addr, logPath: logPath, done: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	if err := c.waitHealthy(ctx, healthPath, timeout); err != nil {
		c.kill()
		return nil, err
	}
	c.ready = time.Now()
	return c, nil
}

// waitHealthy polls url+path until it answers 200.
func (c *child) waitHealthy(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+path, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", c.name, c.waitErr, c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s%s after %v; log %s:\n%s", c.name, c.url, path, timeout, c.logPath, c.logTail())
		case <-tick.C:
		}
	}
}

// logTail returns the end of the child's log.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop sends SIGTERM and waits for the exit (SIGKILL after a grace period).
func (c *child) stop() error {
	select {
	case <-c.done:
		return c.exitErr()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.exitErr()
	case <-time.After(15 * time.Second):
		c.kill()
		return fmt.Errorf("%s did not stop within 15s of SIGTERM; killed", c.name)
	}
}

func (c *child) exitErr() error {
	var ee *exec.ExitError
	if errors.As(c.waitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
		// Ended by our SIGTERM without handling it: not an error here.
		return nil
	}
	if c.waitErr != nil {
		return fmt.Errorf("%s: %w; log %s:\n%s", c.name, c.waitErr, c.logPath, c.logTail())
	}
	return nil
}

// kill ends the child at once and waits for it.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// memory is a process's resident set size now and at its peak.
type memory struct {
	RSS, HWM int64 // bytes
	// Anon and File split RSS: anonymous memory (Go heap, SQLite's page
	// caches, stacks) and mapped files (the executable).
	Anon, File int64
}

// readMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		default:
			continue
		}
		f := strings.Fields(val) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return memory{}, fmt.Errorf("parsing %s of pid %d: %q", key, pid, val)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("parsing %s of pid %d: %w", key, pid, err)
		}
		*dst = kb * 1024
	}
	if m.RSS == 0 {
		return memory{}, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return m, nil
}

func (c *child) memory() (memory, error) { return readMemory(c.cmd.Process.Pid) }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// cpuTime returns the user+system CPU time pid has used.
func cpuTime(pid int) (time.Duration, error) { return procCPU(pid, false) }

// procStat returns the fields of /proc/pid/stat from field 3 (state) on.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// parentPID returns pid's parent's.
func parentPID(pid int) (int, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1]) // field 4
}

// procCPU returns pid's user+system CPU time, with its waited-for
// children's when children is set.
//
// /proc/<pid>/stat counts in clock ticks of 10 ms, too coarse for a short
// phase (25 Creates of 400 µs each can read as 0 or 10 ms). The process's
// own time is therefore the sum of its threads' run times in nanoseconds,
// from /proc/<pid>/task/*/schedstat, when the kernel provides it. A thread
// that exits takes its time with it there; Go servers and PostgreSQL
// backends do not end threads while they serve. The reaped children's
// time exists only in ticks.
func procCPU(pid int, children bool) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15,
	// cutime and cstime 16 and 17.
	var fields []string
	own, ok := threadsRunTime(pid)
	if !ok {
		fields = append(fields, f[11:13]...)
	}
	if children {
		fields = append(fields, f[13:15]...)
	}
	var ticks int64
	for _, s := range fields {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return own + time.Duration(ticks)*time.Second/clockTicks, nil
}

// threadsRunTime sums the time pid's threads have run on a CPU, the first
// field of each /proc/<pid>/task/<tid>/schedstat, in nanoseconds. ok is
// false when the kernel does not provide it (no CONFIG_SCHED_INFO) or pid
// is gone.
func threadsRunTime(pid int) (time.Duration, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tids, err := os.ReadDir(dir)
	if err != nil || len(tids) == 0 {
		return 0, false
	}
	var total int64
	read := 0
	for _, t := range tids {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir + "/" + t.Name()); serr == nil {
				return 0, false // the thread is there, its schedstat is not
			}
			continue // the thread ended meanwhile
		}
		if err != nil {
			return 0, false
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		n, err := strconv.ParseInt(first, 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		total += n
		read++
	}
	// A live process has run: all zeros is a kernel (or sandbox) that
	// shows the file without keeping it.
	return time.Duration(total), read > 0 && total > 0
}

func (c *child) cpuTime() (time.Duration, error) { return cpuTime(c.cmd.Process.Pid) }

// fsyncLatency times n small write+fsync cycles in dir and returns the
// median: the floor under a durable commit's latency on that file system.
func fsyncLatency(dir string, n int) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lats := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i)*4096); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		lats = append(lats, time.Since(t0))
	}
	return percentile(lats, 0.5), nil
}

// goHeap reads the Go heap figures a child exports on GET /metrics
// (Prometheus' Go collector): bytes in use by live objects and the heap
// the runtime holds. ok is false when the child has no such metrics.
func (c *child) goHeap(ctx context.Context) (alloc, inuse int64, ok bool) {
	b, err := rawCall(ctx, "GET", c.url+"/metrics", "")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, found := strings.Cut(line, " ")
		if !found {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_alloc_bytes":
			alloc = int64(f)
		case "go_memstats_heap_inuse_bytes":
			inuse = int64(f)
		}
	}
	return alloc, inuse, alloc > 0
}

// metric reads one unlabelled metric a child exports on GET /metrics.
func (c *child) metric(ctx context.Context, name string) (float64, bool) {
	b, err := rawCall(ctx, "GET", c.url+"/metrics", "")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if n, val, found := strings.Cut(line, " "); found && n == name {
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// waitCacheLoaded waits until podid's association cache reports its first
// load done (podid_assoccache_loaded 1) and returns when it saw that.
func (c *child) waitCacheLoaded(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if v, ok := c.metric(ctx, "podid_assoccache_loaded"); ok && v == 1 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: association cache not loaded %v after start", c.name, timeout)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}
