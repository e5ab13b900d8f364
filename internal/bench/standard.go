package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// Goals of issues 2 and 11.
const (
	goalDescribe = 0.9
	goalRSS      = 150 << 20
	// Update on SQLite (durable: an fsync before the answer) and on
	// PostgreSQL (a server the bench started, durable defaults).
	goalUpdate   = 0.5
	goalUpdatePG = 0.3
	// goalUpdateCPU bounds podid's CPU time per Update on SQLite.
	goalUpdateCPU = 300 // µs
)

// target is a server a throughput phase runs against.
type target struct {
	name   string
	client *eks.Client
	pid    int // the server process, for its CPU time; 0: unknown
}

// throughputSet is what the Describe/Update comparison works on: a cluster
// and one association per worker.
type throughputSet struct {
	cluster string
	ids     []string
	// roles[w] is worker w's association's current role; each update
	// flips it, so every update changes something.
	roles []string
}

// describeOp describes set's associations in turn through c.
func describeOp(c *eks.Client, set *throughputSet) func(ctx context.Context, w, seq int) error {
	return func(ctx context.Context, w, seq int) error {
		_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
			ClusterName:   aws.String(set.cluster),
			AssociationId: aws.String(set.ids[seq%len(set.ids)]),
		})
		return err
	}
}

// updateOp flips worker w's association's role through c, so that every
// update changes something. stores says the server keeps what it is sent
// (podid; the canned server does not), so set.roles follows it.
func updateOp(c *eks.Client, set *throughputSet, stores bool) func(ctx context.Context, w, seq int) error {
	return func(ctx context.Context, w, seq int) error {
		next := roleA
		if set.roles[w] == roleA {
			next = roleB
		}
		_, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
			ClusterName:   aws.String(set.cluster),
			AssociationId: aws.String(set.ids[w]),
			RoleArn:       aws.String(next),
		})
		if err == nil && stores {
			set.roles[w] = next
		}
		return err
	}
}

// standard is the default mode (issue 2).
func (r *run) standard(ctx context.Context) error {
	cfg := r.cfg
	pod, err := r.startPodid(ctx, r.storeDSN(), r.profileArgs("")...)
	if err != nil {
		return err
	}
	podC := newEKS(pod.url, cfg.Concurrency)
	set, err := r.prepareThroughput(ctx, podC)
	if err != nil {
		return err
	}
	canned, err := r.captureCanned(ctx, pod.url, set)
	if err != nil {
		return err
	}
	cannedSrv, err := r.startCanned(ctx, canned)
	if err != nil {
		return err
	}
	targets := []target{
		{"podid", podC, pod.cmd.Process.Pid},
		{"canned", newEKS(cannedSrv.url, cfg.Concurrency), cannedSrv.cmd.Process.Pid},
	}
	// fsyncs holds the fsync floor measured before each Update round.
	var fsyncs []time.Duration
	// counts sums podid's store counters (storeCounts: transactions,
	// writes, the time writes spent in each stage) over its Update phases
	// (SQLite's group commit).
	counts := map[string]float64{}

	ph := phase{Warmup: cfg.Warmup, Duration: cfg.Duration, Count: cfg.Requests, Workers: cfg.Concurrency, Latencies: true}
	lats := map[string]map[string][]time.Duration{"Describe": {}, "Update": {}}
	rates := map[string]map[string][]float64{"Describe": {}, "Update": {}}
	cpus := map[string]map[string][]float64{"Describe": {}, "Update": {}} // server CPU µs per op
	var pgCPUs []float64                                                  // PostgreSQL's CPU µs per podid Update
	for round := range cfg.Rounds {
		for _, op := range cfg.Ops {
			order := targets
			if round%2 == 1 {
				order = []target{targets[1], targets[0]}
			}
			if dir := r.fsyncDir(); op == "Update" && dir != "" {
				fs, err := fsyncLatency(dir, 20)
				if err != nil {
					return fmt.Errorf("timing fsync: %w", err)
				}
				fsyncs = append(fsyncs, fs)
			}
			for _, t := range order {
				f := describeOp(t.client, set)
				if op == "Update" {
					f = updateOp(t.client, set, t.name == "podid")
				}
				cpu0, err := cpuTime(t.pid)
				if err != nil {
					return err
				}
				pgCPU := r.pg != nil && op == "Update" && t.name == "podid"
				var pg0 time.Duration
				if pgCPU {
					if pg0, err = r.pg.cpuTime(); err != nil {
						return fmt.Errorf("reading PostgreSQL's CPU time: %w", err)
					}
				}
				counts0 := storeCounts(ctx, pod, op, t)
				o, err := drive(ctx, ph, f)
				if err != nil {
					return fmt.Errorf("%s against %s: %w", op, t.name, err)
				}
				cpu1, err := cpuTime(t.pid)
				if err != nil {
					return err
				}
				if pgCPU {
					pg1, err := r.pg.cpuTime()
					if err != nil {
						return fmt.Errorf("reading PostgreSQL's CPU time: %w", err)
					}
					pgCPUs = append(pgCPUs, float64((pg1-pg0).Microseconds())/float64(max(o.All, 1)))
				}
				for name, v := range storeCounts(ctx, pod, op, t) {
					counts[name] += v - counts0[name]
				}
				perOp := float64((cpu1 - cpu0).Microseconds()) / float64(max(o.All, 1))
				rates[op][t.name] = append(rates[op][t.name], o.OpsPerSec())
				cpus[op][t.name] = append(cpus[op][t.name], perOp)
				lats[op][t.name] = append(lats[op][t.name], o.Lat...)
				r.logf("round %d: %-8s %-6s %8.0f ops/s (%d ops in %v), server CPU %.0f us/op",
					round+1, op, t.name, o.OpsPerSec(), o.Ops, o.Elapsed.Round(time.Millisecond), perOp)
			}
		}
	}
	if err := r.stop(cannedSrv); err != nil {
		return err
	}
	// The other read comparisons come with Describe's.
	var reads *readResults
	if slices.Contains(cfg.Ops, "Describe") {
		if reads, err = r.readPhases(ctx, pod, podC, set); err != nil {
			return err
		}
	}
	podMemBefore, err := pod.memory()
	if err != nil {
		return err
	}

	// Memory with cfg.Associations associations.
	load, err := r.loadAssociations(ctx, podC, cfg.Associations)
	if err != nil {
		return err
	}
	memLoaded, err := pod.memory()
	if err != nil {
		return err
	}
	if err := r.stop(pod); err != nil {
		return fmt.Errorf("stopping podid: %w", err)
	}
	t0 := time.Now()
	pod, err = r.startPodid(ctx, r.storeDSN())
	if err != nil {
		return fmt.Errorf("restarting podid: %w", err)
	}
	startup := time.Since(t0)
	podC = newEKS(pod.url, cfg.Concurrency)
	listed, err := r.readAll(ctx, podC, load.clusters)
	if err != nil {
		return err
	}
	if listed != cfg.Associations {
		return fmt.Errorf("after restart podid lists %d of the %d associations loaded", listed, cfg.Associations)
	}
	memRead, err := pod.memory()
	if err != nil {
		return err
	}

	// Report.
	out := r.cfg.Out
	fmt.Fprintf(out, "\npodid bench: Describe and Update throughput against a canned-response server; memory at %d associations\n", cfg.Associations)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "store:    %s (%s, child process pid %d)\n", redactDSN(r.storeDSN()), r.serveCommand(), pod.cmd.Process.Pid)
	if r.pg != nil {
		fmt.Fprintf(out, "postgres: started by the bench from %s (initdb, pg_ctl; loopback; fsync and synchronous_commit on, as ci/postgres.sh's)\n", r.pg.bin)
	}
	fmt.Fprintf(out, "client:   aws-sdk-go-v2 service/eks, %d workers sharing one client, static credentials (SigV4-signed), no retries, keep-alive\n", cfg.Concurrency)
	if cfg.Requests > 0 {
		fmt.Fprintf(out, "phases:   %d requests each after %v warm-up; %d rounds, targets alternating; median of rounds\n", cfg.Requests, cfg.Warmup, cfg.Rounds)
	} else {
		fmt.Fprintf(out, "phases:   %v each after %v warm-up; %d rounds, targets alternating; median of rounds\n", cfg.Duration, cfg.Warmup, cfg.Rounds)
	}
	fmt.Fprintf(out, "baseline: podid bench canned-server, a net/http server on loopback returning podid's own Describe (%d B) and Update (%d B) response bytes with a fresh X-Amzn-RequestId\n",
		len(canned[0].Body), len(canned[1].Body))
	fmt.Fprintln(out, "Update:   each call flips the worker's own association's roleArn; podid commits it durably (its store's setting)")
	if len(fsyncs) > 0 {
		fmt.Fprintf(out, "fsync:    a 4 KiB write+fsync on the store's file system took %v (median of 20, before each Update round: %v): a durable commit cannot be faster\n",
			percentile(fsyncs, 0.5).Round(10*time.Microsecond), roundAll(fsyncs, 10*time.Microsecond))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tpodid ops/s\tcanned ops/s\tpodid/canned\tgoal\tresult\tpodid CPU us/op\tcanned CPU us/op\tpodid p50/p99\tcanned p50/p99\t")
	for _, op := range []struct {
		name string
		goal float64
	}{{"Describe", goalDescribe}, {"Update", r.updateGoal()}} {
		if len(rates[op.name]["podid"]) == 0 {
			continue
		}
		p, c := median(rates[op.name]["podid"]), median(rates[op.name]["canned"])
		ratio := p / c
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t>= %.1f\t%s\t%.0f\t%.0f\t%s\t%s\t\n", op.name, p, c, ratio, op.goal, passMiss(ratio >= op.goal),
			median(cpus[op.name]["podid"]), median(cpus[op.name]["canned"]), p50p99(lats[op.name]["podid"]), p50p99(lats[op.name]["canned"]))
	}
	tw.Flush()
	if cpu := median(cpus["Update"]["podid"]); len(cpus["Update"]["podid"]) > 0 && r.cfg.Store == "sqlite" {
		fmt.Fprintf(out, "Update server CPU: %.0f us/op (podid process, user+system, median of rounds), goal <= %d us: %s\n",
			cpu, goalUpdateCPU, passMiss(cpu <= goalUpdateCPU))
	}
	if len(pgCPUs) > 0 {
		fmt.Fprintf(out, "postgres CPU: %.0f us per Update (the bench's server: postmaster and backends, user+system, median of rounds), on the same CPUs as podid and the client\n",
			median(pgCPUs))
	}
	printStoreCounts(out, counts)
	fmt.Fprintln(out)
	if reads != nil {
		reads.print(out, cfg)
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "load:     %d associations created through the API in %d clusters by %d workers in %v (%.0f creates/s)\n",
		cfg.Associations, len(load.clusters), cfg.Concurrency, load.elapsed.Round(time.Millisecond), float64(cfg.Associations)/load.elapsed.Seconds())
	fmt.Fprintf(out, "restart:  podid restarted on the same store, ready (healthz 200) in %v; then every association listed (%d, pages of 100)\n",
		startup.Round(time.Millisecond), listed)
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "podid memory\tVmRSS\tgoal\tresult\t")
	fmt.Fprintf(tw, "after the throughput phases (%d associations)\t%s\t\t\t\n", len(set.ids), mib(podMemBefore.RSS))
	fmt.Fprintf(tw, "after loading %d associations\t%s\t< %s\t%s\t\n", cfg.Associations, mib(memLoaded.RSS), mib(goalRSS), passMiss(memLoaded.RSS < goalRSS))
	fmt.Fprintf(tw, "after restart and reading all %d\t%s\t< %s\t%s\t\n", cfg.Associations, mib(memRead.RSS), mib(goalRSS), passMiss(memRead.RSS < goalRSS))
	fmt.Fprintf(tw, "  of which anonymous / file-backed\t%s / %s\t\t\t\n", mib(memRead.Anon), mib(memRead.File))
	fmt.Fprintf(tw, "peak (VmHWM) of the first process\t%s\t\t\t\n", mib(memLoaded.HWM))
	fmt.Fprintf(tw, "peak (VmHWM) of the restarted process\t%s\t\t\t\n", mib(memRead.HWM))
	if alloc, inuse, ok := pod.goHeap(ctx); ok {
		fmt.Fprintf(tw, "Go heap of the restarted process (live / in use, GET /metrics)\t%s / %s\t\t\t\n", mib(alloc), mib(inuse))
	}
	tw.Flush()
	return nil
}

// updateGoal is the Update ratio's goal for the run's store.
func (r *run) updateGoal() float64 {
	if r.cfg.Store == "sqlite" {
		return goalUpdate
	}
	return goalUpdatePG
}

// writeStages are the stages of podid's SQLite write path that
// podid_store_write_stage_seconds_total times, with how the bench names
// them.
var writeStages = []struct{ stage, what string }{
	{"queued", "waiting for the writer"},
	{"batched", "in its transaction before COMMIT"},
	{"committing", "COMMIT"},
	{"syncing", "COMMIT to durable and answered"},
	{"returning", "answer to caller"},
}

func stageCounter(stage string) string {
	return fmt.Sprintf(`podid_store_write_stage_seconds_total{stage=%q}`, stage)
}

// stageParts are podid_store_write_stage_part_seconds_total's parts, after
// the stage (index in writeStages) each is part of.
var stageParts = []struct {
	stage      int
	part, what string
}{
	{1, "sync_wait", "waiting for the last commit's sync"},
	{1, "gather_wait", "for more writes"},
	{3, "fdatasync", "the fdatasync"},
}

func partCounter(part string) string {
	return fmt.Sprintf(`podid_store_write_stage_part_seconds_total{part=%q}`, part)
}

// storeCounts reads podid's store counters (SQLite only; none otherwise)
// when t is podid and op writes.
func storeCounts(ctx context.Context, pod *child, op string, t target) map[string]float64 {
	if op != "Update" || t.name != "podid" {
		return nil
	}
	names := []string{"podid_store_commits_total", "podid_store_writes_total", "podid_store_timed_writes_total"}
	for _, s := range writeStages {
		names = append(names, stageCounter(s.stage))
	}
	m, _ := pod.metrics(ctx, names...)
	var parts []string
	for _, p := range stageParts {
		parts = append(parts, partCounter(p.part))
	}
	// Read apart: a podid from before the parts (--server-bin) has none.
	if pm, err := pod.metrics(ctx, parts...); err == nil && m != nil {
		maps.Copy(m, pm)
	}
	return m
}

// printStoreCounts prints the group commit's figures and the mean time of
// each stage of a write, from the counters summed over the Update phases.
func printStoreCounts(out io.Writer, c map[string]float64) {
	commits, writes := c["podid_store_commits_total"], c["podid_store_writes_total"]
	if commits <= 0 {
		return
	}
	fmt.Fprintf(out, "group commit: podid's Update phases committed %.0f writes (the audit trail's appends not counted) in %.0f transactions, %.1f per fsync\n",
		writes, commits, writes/commits)
	timed := c["podid_store_timed_writes_total"]
	if timed <= 0 {
		return
	}
	fmt.Fprint(out, "write path: mean per write (podid's writer)")
	for i, s := range writeStages {
		sep := ","
		if i == 0 {
			sep = ":"
		}
		fmt.Fprintf(out, "%s %s %.0f us", sep, s.what, c[stageCounter(s.stage)]/timed*1e6)
		var parts []string
		for _, p := range stageParts {
			if v, ok := c[partCounter(p.part)]; ok && p.stage == i {
				parts = append(parts, fmt.Sprintf("%s %.0f us", p.what, v/timed*1e6))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(out, " (%s)", strings.Join(parts, ", "))
		}
	}
	fmt.Fprintln(out)
}

// prepareThroughput creates the cluster and one association per worker.
func (r *run) prepareThroughput(ctx context.Context, c *eks.Client) (*throughputSet, error) {
	set := &throughputSet{cluster: "bench-" + r.id}
	if err := createCluster(ctx, c, set.cluster); err != nil {
		return nil, err
	}
	for i := range r.cfg.Concurrency {
		id, err := createAssociation(ctx, c, set.cluster, "bench", i)
		if err != nil {
			return nil, err
		}
		set.ids = append(set.ids, id)
		set.roles = append(set.roles, roleA)
	}
	return set, nil
}

// captureCanned records podid's exact Describe and Update response bodies
// for the canned server. The update flips the first association's role
// and the bench's record of it.
func (r *run) captureCanned(ctx context.Context, podURL string, set *throughputSet) ([]CannedResponse, error) {
	path := podURL + "/clusters/" + url.PathEscape(set.cluster) + "/pod-identity-associations/" + url.PathEscape(set.ids[0])
	desc, err := rawCall(ctx, "GET", path, "")
	if err != nil {
		return nil, fmt.Errorf("capturing podid's Describe response: %w", err)
	}
	upd, err := rawCall(ctx, "POST", path, `{"roleArn":"`+roleB+`"}`)
	if err != nil {
		return nil, fmt.Errorf("capturing podid's Update response: %w", err)
	}
	set.roles[0] = roleB
	return []CannedResponse{
		{Pattern: "GET /clusters/{name}/pod-identity-associations/{id}", Body: desc},
		{Pattern: "POST /clusters/{name}/pod-identity-associations/{id}", Body: upd},
	}, nil
}

// loaded is what loadAssociations created.
type loaded struct {
	clusters []string
	elapsed  time.Duration
}

// loadAssociations creates n associations through the API, in clusters of
// up to the per-cluster limit, with the configured workers.
func (r *run) loadAssociations(ctx context.Context, c *eks.Client, n int) (loaded, error) {
	var l loaded
	for i := 0; i*maxPerCluster < n; i++ {
		name := fmt.Sprintf("load-%s-%03d", r.id, i)
		if err := createCluster(ctx, c, name); err != nil {
			return l, err
		}
		l.clusters = append(l.clusters, name)
	}
	var done atomic.Int64
	t0 := time.Now()
	_, err := drive(ctx, phase{Count: n, Workers: r.cfg.Concurrency}, func(ctx context.Context, _, seq int) error {
		_, err := createAssociation(ctx, c, l.clusters[seq/maxPerCluster], "load", seq%maxPerCluster)
		if d := done.Add(1); d%20000 == 0 {
			r.logf("loaded %d/%d associations (%.0f/s)", d, n, float64(d)/time.Since(t0).Seconds())
		}
		return err
	})
	l.elapsed = time.Since(t0)
	return l, err
}

// readAll lists every association of clusters and returns the count.
func (r *run) readAll(ctx context.Context, c *eks.Client, clusters []string) (int, error) {
	total := 0
	for _, name := range clusters {
		p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{
			ClusterName: aws.String(name),
			MaxResults:  aws.Int32(100),
		})
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > maxPerCluster {
				return 0, fmt.Errorf("listing %s: more than %d pages", name, maxPerCluster)
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("listing %s: %w", name, err)
			}
			total += len(out.Associations)
		}
	}
	return total, nil
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// redactDSN hides a password in a DSN.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// p50p99 formats two latency percentiles.
func p50p99(ds []time.Duration) string {
	return fmt.Sprintf("%v/%v", roundDur(percentile(ds, 0.5)), roundDur(percentile(ds, 0.99)))
}

// roundDur keeps about three significant digits.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func roundAll(ds []time.Duration, to time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(to)
	}
	return out
}
