package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Goals of issue 10's pre-authentication attack.
const (
	goalAttackRSS     = 200 << 20
	goalAttackHealthz = 100 * time.Millisecond
)

// attackPhase is one shape of the attack: uploads bodies of bodyLen
// declared bytes, all but the last sent, from addrs client addresses
// (127.0.0.x, round robin).
type attackPhase struct {
	name    string
	bodyLen int
	addrs   int
}

// attackResult is what one phase measured.
type attackResult struct {
	phase     attackPhase
	before    memory  // the server's memory before the attack
	peak      int64   // VmHWM after it
	rssMax    int64   // the largest VmRSS sampled during it
	baseline  []probe // /healthz before the attack, same machine state
	healthz   []probe
	sentAt    time.Time // when every upload had connected and sent its bytes
	start     time.Time
	outcomes  map[string]int
	sentBytes int64
}

// preauthAttack is the --preauth-attack mode (issue 10): stalled uploads
// bearing a valid key ID, so podid reads their bodies to check their
// signatures, against a podid started for each phase with --auth sigv4;
// the server's memory from /proc and /healthz's latency, probed during
// the attack from an address of its own.
func (r *run) preauthAttack(ctx context.Context) error {
	cfg := r.cfg
	phases := []attackPhase{
		{"the attack of issue 10: one address, 1 MiB bodies (the former limit)", 1 << 20, 1},
		{"spread over 16 addresses, 256 KiB bodies (the default limit)", 256 << 10, 16},
	}
	var results []attackResult
	for i, p := range phases {
		r.logf("phase %d: %d uploads, %s", i+1, cfg.Uploads, p.name)
		res, err := r.attackPhase(ctx, i, p)
		if err != nil {
			return fmt.Errorf("phase %d: %w", i+1, err)
		}
		results = append(results, res)
	}

	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --preauth-attack: %d stalled uploads bearing a valid key ID, held %v (issue 10)\n", cfg.Uploads, cfg.Hold)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "server:   %s serve --auth sigv4 %s, a fresh process and SQLite store per phase\n", cfg.ServerBin, strings.Join(cfg.ServeArgs, " "))
	fmt.Fprintf(out, "uploads:  POST /clusters (CreateCluster) signed with the admin's access key ID and a wrong signature (podid reads\n"+
		"          the body to check it), the body declared in Content-Length and sent but for its last byte, then held\n")
	fmt.Fprintf(out, "healthz:  GET /healthz every %v from 127.0.0.254, a new connection each (as kubelet probes)\n", healthzEvery)
	for i, res := range results {
		fmt.Fprintf(out, "\nphase %d: %s\n", i+1, res.phase.name)
		fmt.Fprintf(out, "  uploads:  %s; %s sent\n", outcomeLine(res.outcomes), mib(res.sentBytes))
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure\tvalue\tgoal\tresult\t")
		fmt.Fprintf(tw, "server VmRSS before the attack\t%s\t\t\t\n", mib(res.before.RSS))
		fmt.Fprintf(tw, "server peak RSS (VmHWM)\t%s\t< %s\t%s\t\n", mib(res.peak), mib(goalAttackRSS), passMiss(res.peak < goalAttackRSS))
		fmt.Fprintf(tw, "largest VmRSS sampled during the attack\t%s\t\t\t\n", mib(res.rssMax))
		burst, held := splitProbes(res.healthz, res.sentAt)
		fails := 0
		for _, pr := range res.healthz {
			if pr.failed {
				fails++
			}
		}
		heldP99 := percentile(latencies(held), 0.99)
		fmt.Fprintf(tw, "healthz p50/p99 before the attack (%d probes, %v)\t%s\t\t\t\n", len(res.baseline), baselineFor, p50p99(latencies(res.baseline)))
		fmt.Fprintf(tw, "healthz p50/p99/slowest while the uploads connect and send (%d probes, %v)\t%s/%v\t\t\t\n",
			len(burst), res.sentAt.Sub(res.start).Round(time.Millisecond), p50p99(latencies(burst)), roundDur(percentile(latencies(burst), 1)))
		fmt.Fprintf(tw, "healthz p50/p99 while they are held (%d probes)\t%s\tp99 < %v\t%s\t\n", len(held), p50p99(latencies(held)), goalAttackHealthz, passMiss(len(held) > 0 && heldP99 < goalAttackHealthz))
		fmt.Fprintf(tw, "healthz slowest while they are held\t%v\t\t\t\n", roundDur(percentile(latencies(held), 1)))
		fmt.Fprintf(tw, "healthz failures (no 200 within 20s)\t%d\t0\t%s\t\n", fails, passMiss(fails == 0))
		tw.Flush()
	}
	return nil
}

// healthzEvery is the probing interval; baselineFor how long /healthz is
// probed before the attack.
const (
	healthzEvery = 50 * time.Millisecond
	baselineFor  = 3 * time.Second
)

// attackPhase starts a podid, attacks it for cfg.Hold and measures.
func (r *run) attackPhase(ctx context.Context, i int, p attackPhase) (attackResult, error) {
	res := attackResult{phase: p, outcomes: map[string]int{}}
	dir := filepath.Join(r.cfg.WorkDir, fmt.Sprintf("preauth-%d", i+1))
	args := append([]string{"serve", "--listen", "{addr}", "--auth", "sigv4", "--data-dir", dir,
		"--store", "sqlite:" + filepath.Join(dir, "podid.db"), "--log-level", "warn"}, r.cfg.ServeArgs...)
	pod, err := startChild(ctx, fmt.Sprintf("podid-preauth-%d", i+1), r.cfg.WorkDir, r.cfg.ServerBin, args, "/healthz", 2*time.Minute)
	if err != nil {
		return res, err
	}
	r.children = append(r.children, pod)
	defer r.stop(pod)
	keyID, err := adminKeyID(dir)
	if err != nil {
		return res, err
	}
	if res.before, err = pod.memory(); err != nil {
		return res, err
	}
	// The baseline: what /healthz takes on this machine now, unattacked.
	bctx, bcancel := context.WithTimeout(ctx, baselineFor)
	res.baseline = probeHealthz(bctx, pod.url)
	bcancel()

	ctx, cancel := context.WithTimeout(ctx, r.cfg.Hold)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	// Memory, sampled until the attack ends.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := pod.memory(); err == nil {
				mu.Lock()
				res.rssMax = max(res.rssMax, m.RSS)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	// /healthz, probed until the attack ends.
	wg.Add(1)
	go func() {
		defer wg.Done()
		probes := probeHealthz(ctx, pod.url)
		mu.Lock()
		res.healthz = probes
		mu.Unlock()
	}()
	// The uploads; sending tells when each has connected and sent.
	host := strings.TrimPrefix(pod.url, "http://")
	var sending sync.WaitGroup
	sending.Add(r.cfg.Uploads)
	res.start = time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		sending.Wait()
		mu.Lock()
		res.sentAt = time.Now()
		mu.Unlock()
	}()
	for u := range r.cfg.Uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("127.0.0.%d", 1+u%p.addrs)
			outcome, sent := stalledUpload(ctx, from, host, keyID, p.bodyLen, sending.Done)
			mu.Lock()
			res.outcomes[outcome]++
			res.sentBytes += sent
			mu.Unlock()
		}()
	}
	wg.Wait()
	m, err := pod.memory()
	if err != nil {
		return res, err
	}
	res.peak = m.HWM
	return res, nil
}

// adminKeyID reads the admin's access key ID podid serve wrote in dir.
func adminKeyID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "admin-credentials.json"))
	if err != nil {
		return "", fmt.Errorf("reading the admin's key ID: %w", err)
	}
	var keys struct {
		AccessKeyID string `json:"accessKeyId"`
	}
	if err := json.Unmarshal(b, &keys); err != nil || keys.AccessKeyID == "" {
		return "", fmt.Errorf("reading the admin's key ID from %s: no accessKeyId", dir)
	}
	return keys.AccessKeyID, nil
}

// stalledUpload connects from the local address from, sends a CreateCluster
// signed with keyID (and a wrong signature) that declares a body of n
// bytes, sends all of it but the last byte and waits until the server
// answers or ctx ends. It returns what became of it and the bytes sent.
func stalledUpload(ctx context.Context, from, host, keyID string, n int, sent func()) (string, int64) {
	once := sync.OnceFunc(sent)
	defer once()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "could not connect", 0
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	now := time.Now().UTC()
	head := fmt.Sprintf("POST /clusters HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/eks/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date, Signature=%s\r\n\r\n",
		host, n, now.Format("20060102T150405Z"), keyID, now.Format("20060102"), strings.Repeat("0", 64))
	var bytes int64
	w, err := c.Write([]byte(head))
	bytes += int64(w)
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for left := n - 1; err == nil && left > 0; {
		w, err = c.Write(chunk[:min(left, len(chunk))])
		bytes += int64(w)
		left -= w
	}
	once()
	resp, rerr := http.ReadResponse(bufio.NewReader(c), nil)
	switch {
	case rerr == nil:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return answer(resp.StatusCode, string(b)), bytes
	case ctx.Err() != nil:
		return "held to the end", bytes
	case errors.Is(rerr, net.ErrClosed), err != nil:
		return "closed unanswered", bytes
	}
	return "closed unanswered", bytes
}

// answer says what the server's answer to an upload means.
func answer(status int, body string) string {
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return "refused at once as too large (413)"
	case status == http.StatusServiceUnavailable && strings.Contains(body, "connections"):
		return "refused at connect, beyond the address's connection cap (503)"
	case status == http.StatusServiceUnavailable:
		return "refused at once, the body budget in use (503)"
	case status == http.StatusRequestTimeout:
		return "cut by the body read deadline (408)"
	}
	return "answered " + strconv.Itoa(status)
}

// probe is one GET /healthz: when it started, how long it took (to fail,
// if it failed).
type probe struct {
	at     time.Time
	lat    time.Duration
	failed bool
}

// probeHealthz gets /healthz every healthzEvery until ctx ends, each on a
// new connection from 127.0.0.254.
func probeHealthz(ctx context.Context, url string) []probe {
	tr := &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 254)}}).DialContext,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var probes []probe
	tick := time.NewTicker(healthzEvery)
	defer tick.Stop()
	for {
		t0 := time.Now()
		// Not bound to ctx: a probe running as the attack ends is
		// finished, not cut.
		req, _ := http.NewRequest(http.MethodGet, url+"/healthz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		probes = append(probes, probe{at: t0, lat: time.Since(t0), failed: err != nil})
		select {
		case <-ctx.Done():
			return probes
		case <-tick.C:
		}
	}
}

// splitProbes parts probes into those started before t and the others.
func splitProbes(probes []probe, t time.Time) (before, after []probe) {
	for _, p := range probes {
		if p.at.Before(t) {
			before = append(before, p)
		} else {
			after = append(after, p)
		}
	}
	return before, after
}

func latencies(probes []probe) []time.Duration {
	ds := make([]time.Duration, len(probes))
	for i, p := range probes {
		ds[i] = p.lat
	}
	return ds
}

// outcomeLine lists the outcomes, most frequent first.
func outcomeLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
