package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store/postgres/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	binDir    string
	buildErr  error
)

// podidBinary builds ./cmd/podid once for the package's tests.
func podidBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "podid-bench-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "podid")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/podid/podid/cmd/podid").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestDriveCountsExactly(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Bool, 1000)
	o, err := drive(t.Context(), phase{Count: 500, Workers: 7}, func(_ context.Context, _, seq int) error {
		calls.Add(1)
		if seen[seq].Swap(true) {
			t.Errorf("sequence number %d given twice", seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Ops != 500 || calls.Load() != 500 {
		t.Errorf("ops %d, calls %d; want 500 and 500", o.Ops, calls.Load())
	}
	for i := range 500 {
		if !seen[i].Load() {
			t.Errorf("sequence number %d never given", i)
		}
	}
	if o.OpsPerSec() <= 0 {
		t.Errorf("OpsPerSec() = %v, want > 0", o.OpsPerSec())
	}
}

func TestDriveDurationAndWarmup(t *testing.T) {
	var calls atomic.Int64
	o, err := drive(t.Context(), phase{Warmup: 50 * time.Millisecond, Duration: 100 * time.Millisecond, Workers: 3, Latencies: true},
		func(context.Context, int, int) error {
			calls.Add(1)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if o.Elapsed < 100*time.Millisecond {
		t.Errorf("elapsed %v, want >= 100ms", o.Elapsed)
	}
	if o.Ops == 0 || int64(o.Ops) >= calls.Load() {
		t.Errorf("measured %d of %d calls; want some, and fewer than all (warm-up is not measured)", o.Ops, calls.Load())
	}
	if len(o.Lat) != o.Ops {
		t.Errorf("%d latencies for %d measured ops", len(o.Lat), o.Ops)
	}
}

func TestDriveStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	_, err := drive(t.Context(), phase{Duration: time.Minute, Workers: 4}, func(_ context.Context, _, seq int) error {
		if seq == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("drive error = %v, want %v", err, boom)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	got := []time.Duration{percentile(ds, 0.5), percentile(ds, 0.95), percentile(ds, 0), percentile(nil, 0.5)}
	want := []time.Duration{5, 10, 1, 0}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("percentiles (-got +want):\n%s", diff)
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}

func TestReadMemoryOfSelf(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS < 1<<20 || m.HWM < m.RSS {
		t.Errorf("memory %+v: want RSS >= 1 MiB and HWM >= RSS", m)
	}
}

// TestCPUTimeResolvesShortPhases: CPU time reads in steps far finer than
// /proc's 10 ms ticks, so that a phase of a few milliseconds of CPU reads as
// that, not as 0 or a tick (the scale bench's Create chunks are that short
// in --test). The first change seen while spinning is the reading's step:
// with ticks it is 10 ms whatever the machine's load.
func TestCPUTimeResolvesShortPhases(t *testing.T) {
	if _, ok := threadsRunTime(os.Getpid()); !ok {
		t.Skip("this kernel has no /proc/<pid>/task/*/schedstat")
	}
	ticks, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	c0, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := uint64(1)
	var step time.Duration
	for deadline := time.Now().Add(5 * time.Second); step == 0 && time.Now().Before(deadline); {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		// A running thread's run time is brought up to date when it
		// leaves the CPU (else only at the scheduler's tick): sleep.
		time.Sleep(100 * time.Microsecond)
		c1, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		step = c1 - c0
	}
	if step <= 0 || step >= 5*time.Millisecond {
		t.Errorf("first change of CPU time while spinning = %v (x %d), want above 0 and under 5 ms", step, x)
	}
	// The nanosecond sum agrees with the process's tick count.
	utime, _ := strconv.ParseInt(ticks[11], 10, 64)
	stime, _ := strconv.ParseInt(ticks[12], 10, 64)
	fromTicks := time.Duration(utime+stime) * time.Second / clockTicks
	if diff := (c0 - fromTicks).Abs(); diff > 100*time.Millisecond+c0/10 {
		t.Errorf("schedstat sum %v vs /proc/self/stat %v", c0, fromTicks)
	}
}

func TestNewAssociationID(t *testing.T) {
	re := regexp.MustCompile(`^a-[a-z0-9]{17}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newAssociationID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("ID %q: malformed or repeated", id)
		}
		seen[id] = true
	}
}

// TestCannedServerChild starts the canned server the way the bench does
// (a child of the podid binary) and reads it through the Go SDK.
func TestCannedServerChild(t *testing.T) {
	bin := podidBinary(t)
	body := []byte(`{"association":{"clusterName":"c1","namespace":"ns","serviceAccount":"sa",` +
		`"roleArn":"arn:aws:iam::000000000000:role/r","associationArn":"arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/a-abcdefghijklmnopq",` +
		`"associationId":"a-abcdefghijklmnopq","tags":{},"createdAt":1700862734.922,"modifiedAt":1700862734.922,"disableSessionTags":false}}`)
	r := &run{cfg: Config{ServerBin: bin, WorkDir: t.TempDir(), Out: &bytes.Buffer{}}}
	t.Cleanup(r.stopAll)
	c, err := r.startCanned(t.Context(), []CannedResponse{
		{Pattern: "GET /clusters/{name}/pod-identity-associations/{id}", Body: body},
		{Pattern: "POST /clusters/{name}/pod-identity-associations/{id}", Body: body},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := newEKS(c.url, 4)
	o, err := drive(t.Context(), phase{Count: 200, Workers: 4}, func(ctx context.Context, w, _ int) error {
		out, err := client.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String("c1"), AssociationId: aws.String("a-abcdefghijklmnopq"), RoleArn: aws.String(roleB),
		})
		if err == nil && aws.ToString(out.Association.AssociationId) != "a-abcdefghijklmnopq" {
			t.Errorf("association ID %q", aws.ToString(out.Association.AssociationId))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Ops != 200 {
		t.Errorf("ops = %d, want 200", o.Ops)
	}
	if _, err := c.memory(); err != nil {
		t.Error(err)
	}
	if err := r.stop(c); err != nil {
		t.Errorf("stopping the canned server: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"concurrency", Config{ServerBin: "x", Concurrency: -1}, "concurrency -1"},
		{"per-cluster over the limit", Config{ServerBin: "x", PerCluster: 5001}, "per-cluster 5001"},
		{"store", Config{ServerBin: "x", Store: "mysql://x"}, `store "mysql://x"`},
		{"propagation on sqlite", Config{ServerBin: "x", Propagation: true}, "--propagation needs PostgreSQL"},
		{"two modes", Config{ServerBin: "x", Scale: true, Propagation: true, Store: "postgres://x"}, "different modes"},
		{"compare and scale", Config{ServerBin: "x", Scale: true, Compare: "y"}, "different modes"},
		{"compare env", Config{ServerBin: "x", CompareEnv: []string{"GOGC"}}, `environment "GOGC": want KEY=VALUE`},
		{"serve env", Config{ServerBin: "x", ServeEnv: []string{"=1"}}, `environment "=1"`},
		{"cycles", Config{ServerBin: "x", Compare: "y", Cycles: -1}, "cycles -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.setDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("setDefaults() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRunTiny runs both modes end to end at a tiny scale against the real
// podid binary, so the harness cannot rot.
func TestRunTiny(t *testing.T) {
	// 25 Creates' CPU is a few milliseconds: without the threads' run
	// times in nanoseconds, /proc's 10 ms ticks may read it as 0.
	cpuFigure := `[1-9]\d*`
	if _, ok := threadsRunTime(os.Getpid()); !ok {
		cpuFigure = `\d+`
	}
	bin := podidBinary(t)
	_, err := exec.LookPath("moto_server")
	haveMoto := err == nil
	tests := []struct {
		name string
		cfg  Config
		want []*regexp.Regexp
	}{
		{
			name: "standard",
			cfg:  Config{Associations: 200, NoMoto: true},
			want: []*regexp.Regexp{
				regexp.MustCompile(`(?m)^\s*Describe\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.9\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^\s*EKS Auth\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.5\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^\s*agent cache hit\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.9\s+(PASS|MISS)\s`),
				// podid may finish no Update in a 200 ms slice on a loaded
				// machine (each waits for an fsync): only the shape is checked.
				regexp.MustCompile(`(?m)^\s*Update\s+\d+\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.5\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^Update server CPU: \d+ us/op .*goal <= 300 us: (PASS|MISS)$`),
				regexp.MustCompile(`(?m)^group commit: podid's Update phases committed \d+ writes .* in [1-9]\d* transactions, \d+\.\d per fsync$`),
				regexp.MustCompile(`(?m)^write path: mean per write \(podid's writer\): waiting for the writer \d+ us, in its transaction before COMMIT \d+ us \(waiting for the last commit's sync \d+ us, for more writes \d+ us\), COMMIT \d+ us, COMMIT to durable and answered \d+ us \(the fdatasync \d+ us\), answer to caller \d+ us$`),
				regexp.MustCompile(`(?m)^\s*after loading 200 associations\s+\d+\.\d MiB\s+< 150\.0 MiB\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^\s*after restart and reading all 200\s+\d+\.\d MiB`),
				regexp.MustCompile(`(?m)^command:  podid bench --test$`),
			},
		},
		{
			name: "reads",
			cfg:  Config{Reads: true, NoMoto: !haveMoto},
			want: readsWant(haveMoto),
		},
		{
			name: "scale",
			cfg:  Config{Scale: true, Clusters: 2, PerCluster: 50, NoMoto: true},
			want: []*regexp.Regexp{
				regexp.MustCompile(`(?m)^podid bench --scale: 2 clusters x 50 associations = 100$`),
				regexp.MustCompile(`(?m)^\s*List page median \(25 vs 100 associations\)\s+\S+\s+\S+\s+\d+\.\d\d\s+<= 1\.2\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^\s*Create ops/s \(first 25 vs last 25\), median of chunks\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.8\s+(PASS|MISS)\s`),
				regexp.MustCompile(`(?m)^\s*podid process CPU per Create \(all chunks; .*\)\s+` + cpuFigure + ` µs\s+` + cpuFigure + ` µs\s+\d+\.\d\d\s*$`),
				regexp.MustCompile(`(?m)^\s*start-up with 75 associations: exec to healthz 200\s+\d+(\.\d+)?m?s\s+<= 3s\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)^\s*start-up with 75 associations: exec to a Describe answered\s+\d+(\.\d+)?m?s\s+<= 3s\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)^\s*start-up: exec to the association cache loaded .*\s+\d+(\.\d+)?m?s\s*$`),
				regexp.MustCompile(`(?m)^\s*VmRSS after start-up \(cache loaded\)\s+\d+\.\d MiB\s+<= 350\.0 MiB\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)^\s*bytes per association: .*\s+-?\d+ B\s+<= -?\d+ B\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)^\s*VmRSS at the end \(100 associations\)\s+\d+\.\d MiB\s+<= 400\.0 MiB\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)75 associations seeded directly through the store`),
				regexp.MustCompile(`(?m)^moto: .*skipped`),
			},
		},
		{
			name: "soak",
			cfg:  Config{Soak: 6 * time.Second, SoakRate: 50},
			want: []*regexp.Regexp{
				regexp.MustCompile(`(?m)^podid bench --soak 6s: mixed load against one server$`),
				regexp.MustCompile(`(?m)^ops:\s+[1-9]\d* in \d+s .* credentials [1-9]\d*$`),
				regexp.MustCompile(`(?m)^\s*server VmRSS \([1-9]s, 6s\)\s+\d+\.\d MiB\s+\d+\.\d MiB \(\d+\.\d\dx\)\s+<= 1\.10x\s+(PASS|MISS)\s*$`),
				regexp.MustCompile(`(?m)^\s*server goroutines\s+[1-9]\d*\s+[1-9]\d*\s+<= \+20\s+(PASS|MISS)\s*$`),
				// Errors are a failure of podid, not noise.
				regexp.MustCompile(`(?m)^\s*errors\s+0\s+0\s+PASS\s*$`),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runTiny(t, bin, tc.cfg, tc.want) })
	}
	t.Run("preauth-attack", func(t *testing.T) {
		runTiny(t, bin, Config{PreauthAttack: true, Uploads: 40, Hold: time.Second}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^podid bench --preauth-attack: 40 stalled uploads bearing a valid key ID, held 1s`),
			regexp.MustCompile(`(?m)^phase 1: .*\n  uploads:  \d+ .*; \d+\.\d MiB sent$`),
			regexp.MustCompile(`(?m)^\s*server peak RSS \(VmHWM\)\s+\d+\.\d MiB\s+< 200\.0 MiB\s+(PASS|MISS)\s`),
			regexp.MustCompile(`(?m)^\s*healthz p50/p99 before the attack \([1-9]\d* probes, 3s\)\s+\S+/\S+\s`),
			regexp.MustCompile(`(?m)^\s*healthz p50/p99 while they are held \(\d+ probes\)\s+\S+/\S+\s+p99 < 100ms\s+(PASS|MISS)\s`),
			regexp.MustCompile(`(?m)^phase 2: spread over 16 addresses`),
		})
	})
	// The same on PostgreSQL, in a schema of its own, when a server is
	// named.
	if os.Getenv(pgtest.EnvDSN) == "" {
		return
	}
	for _, tc := range tests {
		t.Run(tc.name+"/postgres", func(t *testing.T) {
			cfg := tc.cfg
			cfg.Store = pgtest.Schema(t, pgtest.DSN(t))
			runTiny(t, bin, cfg, pgWants(tc.want))
		})
	}
	t.Run("propagation/postgres", func(t *testing.T) {
		runTiny(t, bin, Config{Propagation: true, Trials: 10, Store: pgtest.Schema(t, pgtest.DSN(t))}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^podid bench --propagation: 10 trials, two replicas on one PostgreSQL database$`),
			regexp.MustCompile(`(?m)^\s*client: A acknowledged -> B's metrics show it applied(\s+\d+(\.\d+)?(µs|ms|s)){3}\s+<= 100ms\s+(PASS|MISS)\s*$`),
			regexp.MustCompile(`(?m)^\s*B's own measure: commit \(modifiedAt\) -> applied(\s+\d+(\.\d+)?(µs|ms|s)){3}\s+<= 100ms\s+(PASS|MISS)\s*$`),
		})
	})
}

// readsWant is what the --reads report shows, with the moto table when
// moto's server is installed.
func readsWant(moto bool) []*regexp.Regexp {
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^podid bench --reads: `),
		regexp.MustCompile(`(?m)^\s*Describe\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.9\s+(PASS|MISS)\s+\d+\.\d\d-\d+\.\d\d\s`),
		regexp.MustCompile(`(?m)^\s*EKS Auth\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.5\s+(PASS|MISS)\s`),
		regexp.MustCompile(`(?m)^\s*agent cache hit\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.9\s+(PASS|MISS)\s`),
	}
	if !moto {
		return append(want, regexp.MustCompile(`(?m)^moto: .*skipped`))
	}
	return append(want,
		// moto may answer nothing in a tiny phase on a loaded machine:
		// the ratio is then +Inf.
		regexp.MustCompile(`(?m)^\s*DescribeCluster\s+[1-9]\d*\s+\d+\.\d\s+(\d+\.\d|\+Inf)\s+>= 30\s+(PASS|MISS)\s`),
		regexp.MustCompile(`(?m)^\s*ListClusters\s+[1-9]\d*\s+\d+\.\d\s+(\d+\.\d|\+Inf)\s+>= 30\s+(PASS|MISS)\s`))
}

// pgWants is want for a run on PostgreSQL: the Update goal is PostgreSQL's
// and the SQLite-only lines are absent.
func pgWants(want []*regexp.Regexp) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, re := range want {
		s := re.String()
		switch {
		case strings.Contains(s, "server CPU") || strings.Contains(s, "group commit") || strings.Contains(s, "write path"):
		case strings.Contains(s, `Update\s+`):
			out = append(out, regexp.MustCompile(strings.Replace(s, `>= 0\.5`, `>= 0\.3`, 1)))
		default:
			out = append(out, re)
		}
	}
	return out
}

// TestRunStartsPostgres: --store postgres starts a PostgreSQL server of
// the bench's own (from the Debian packages, as ci/postgres.sh does),
// measures Update on it against PostgreSQL's goal, and removes it.
func TestRunStartsPostgres(t *testing.T) {
	if _, err := findPGBin(); err != nil {
		t.Skip(err)
	}
	bin := podidBinary(t)
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "podid-bench-pg-*"))
	runTiny(t, bin, Config{Store: StartPostgres, Ops: []string{"Update"}, Associations: 50}, []*regexp.Regexp{
		regexp.MustCompile(`(?m)^store:    postgres://podid:xxxxx@127\.0\.0\.1:\d+/podid\?sslmode=disable `),
		regexp.MustCompile(`(?m)^postgres: started by the bench from /usr/lib/postgresql/\d+/bin `),
		regexp.MustCompile(`(?m)^\s*Update\s+[1-9]\d*\s+[1-9]\d*\s+\d+\.\d\d\s+>= 0\.3\s+(PASS|MISS)\s`),
		regexp.MustCompile(`(?m)^fsync:    `),
		regexp.MustCompile(`(?m)^postgres CPU: \d+ us per Update \(the bench's server`),
	})
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "podid-bench-pg-*"))
	if len(after) > len(before) {
		t.Errorf("the bench's PostgreSQL directory is left behind: %v (before: %v)", after, before)
	}
}

// runTiny runs cfg with tiny phases and checks the report against want.
// runTiny runs cfg at a tiny scale, checks its report against want and
// returns the run's work directory (the servers' logs).
func runTiny(t *testing.T, bin string, cfg Config, want []*regexp.Regexp) (workDir string) {
	t.Helper()
	var out bytes.Buffer
	cfg.ServerBin = bin
	cfg.WorkDir = t.TempDir()
	cfg.Out = &out
	cfg.CommandLine = "podid bench --test"
	cfg.Duration, cfg.Warmup, cfg.Rounds, cfg.Concurrency = 200*time.Millisecond, 50*time.Millisecond, 1, 4
	cfg.Timeout = 2 * time.Minute
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	for _, re := range want {
		if !re.MatchString(out.String()) {
			t.Errorf("output lacks %v\noutput:\n%s", re, out.String())
		}
	}
	return cfg.WorkDir
}

// TestRunCompare: the compare mode drives two servers, A with --serve-env
// and B with --compare-env (B the same binary when --compare is not
// given), each on its own store, and reports B/A per cycle.
func TestRunCompare(t *testing.T) {
	bin := podidBinary(t)
	run := func(t *testing.T, store string) {
		cfg := Config{
			Store: store, Cycles: 3, Ops: []string{"Update", "Describe"},
			// inittrace makes the Go runtime print a line per package
			// initialised to the server's stderr, its log: the mark of the
			// environment each side got.
			ServeEnv: []string{"PODID_BENCH_SIDE=a"}, CompareEnv: []string{"GODEBUG=inittrace=1"},
		}
		dir := runTiny(t, bin, cfg, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^podid bench --compare: Update and Describe throughput of two podid servers, A and B, in 3 cycles of one phase each`),
			regexp.MustCompile(`(?m)^A:        ` + regexp.QuoteMeta(bin) + ` with PODID_BENCH_SIDE=a \(podid serve --auth none --store \S+\)$`),
			regexp.MustCompile(`(?m)^B:        ` + regexp.QuoteMeta(bin) + ` with GODEBUG=inittrace=1 \(podid serve --auth none --store \S+\)$`),
			// podid may finish no Update in a 200 ms phase on a loaded
			// machine: only the shape is checked.
			regexp.MustCompile(`(?m)^\s*Update(\s+\d+){4}(\s+(\d+\.\d{3}|NaN|\+Inf)){3}\s+[0-3] of 3\s+\S+\s*$`),
			regexp.MustCompile(`(?m)^\s*Describe(\s+[1-9]\d*){2}(\s+\d+){2}(\s+\d+\.\d{3}){3}\s+[0-3] of 3\s+(1|0\.\d+)\s*$`),
			regexp.MustCompile(`(?m)^# cycle 3: Update A \d+, B \d+ ops/s`),
		})
		a, err := os.ReadFile(filepath.Join(dir, "podid-A.log"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "podid-B.log"))
		if err != nil {
			t.Fatal(err)
		}
		if init := regexp.MustCompile(`(?m)^init \S+ @`); !init.Match(b) || init.Match(a) {
			t.Errorf("B's log should show the runtime's init trace and A's not:\nA:\n%.2000s\nB:\n%.2000s", a, b)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "") })
	if os.Getenv(pgtest.EnvDSN) != "" {
		t.Run("postgres", func(t *testing.T) { run(t, pgtest.Schema(t, pgtest.DSN(t))) })
	}
}

func TestRunCompareStartsB(t *testing.T) {
	var out bytes.Buffer
	err := Run(t.Context(), Config{ServerBin: podidBinary(t), Compare: filepath.Join(t.TempDir(), "no-such-podid"),
		WorkDir: t.TempDir(), Out: &out, Cycles: 1, Duration: 100 * time.Millisecond, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "starting B") {
		t.Errorf("Run with a missing --compare binary = %v, want an error starting B", err)
	}
}
