// Package bench measures podid against the goals its issues set, in one
// run, and prints a plain table of figures, ratios, goals and PASS/MISS.
//
// The default mode compares Describe and Update throughput through the Go
// SDK against podid (started as a child process of the podid binary, so its
// memory can be read from /proc) and against a canned-response server (the
// same binary's hidden "bench canned-server", same HTTP stack and response
// bytes, no work): the limit on this machine. It then loads associations
// and reports the server's resident memory.
//
// The scale mode (Config.Scale) seeds a million associations and compares
// List page time and Create throughput at one million against one thousand,
// reports memory and start-up time, and compares DescribeCluster and
// ListClusters throughput against moto's server.
//
// Missed goals are printed as MISS; Run returns an error only when the
// bench itself cannot measure (a server fails to start, a request fails).
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/sqlite"
)

// Config configures a run. Zero values take the documented defaults.
type Config struct {
	// ServeArgs are extra arguments for podid serve (e.g. --log-level
	// warn).
	ServeArgs []string
	// ServerBin is the podid binary to start ("podid serve", and "podid
	// bench canned-server" for the baseline). Default: this executable.
	ServerBin string
	// Store is "sqlite" (a fresh SQLite store in the work directory),
	// "postgres" (StartPostgres: a PostgreSQL server the bench starts and
	// removes, as ci/postgres.sh starts the tests' one) or a DSN passed to
	// serve --store as is (postgres://...). Default "sqlite".
	Store string
	// Concurrency is the number of client workers. Default 8.
	Concurrency int
	// Duration is the measured time of each throughput phase, after
	// Warmup. Defaults 3s and 500ms.
	Duration, Warmup time.Duration
	// Requests, if > 0, measures a fixed number of requests per phase
	// instead of Duration.
	Requests int
	// Rounds repeats each throughput comparison, alternating the order of
	// the targets; the table shows the median. Default 5.
	Rounds int
	// Associations is how many associations the default mode loads before
	// reading the server's memory. Default 100,000.
	Associations int

	// Scale selects the scale mode (issue 4).
	Scale bool
	// Reads runs only the read comparisons of the default mode: Describe,
	// EKS Auth, the agent's cache hits and, unless NoMoto, DescribeCluster
	// and ListClusters against moto's server.
	Reads bool
	// Clusters and PerCluster shape the scale mode's data set. Defaults
	// 200 and 5,000.
	Clusters, PerCluster int
	// MotoBin is moto's server ("moto_server" by default); NoMoto skips
	// the moto comparison.
	MotoBin string
	NoMoto  bool

	// Propagation selects the replica propagation mode (issue 11): two
	// replicas on the PostgreSQL database Store names, Trials updates.
	// Default 200 trials.
	Propagation bool
	Trials      int

	// PreauthAttack selects the pre-authentication attack mode (issue
	// 10): Uploads stalled uploads (default 1,000) held for Hold
	// (default 15s) in each of its phases.
	PreauthAttack bool
	Uploads       int
	Hold          time.Duration

	// Soak, if > 0, selects the soak mode (issue 11): this long of mixed
	// load against one server at SoakRate operations per second (default
	// 200).
	Soak     time.Duration
	SoakRate int

	// Compare selects the compare mode: Update (and/or Describe, Ops)
	// throughput of ServerBin's podid (A) against Compare's (B), each on
	// a fresh store of its own, in Cycles cycles of short phases that
	// alternate between them, so that the machine's own drift (often
	// 20% between runs) falls on both alike. CompareEnv is B's extra
	// environment and ServeEnv A's (KEY=VALUE each); with CompareEnv
	// alone, B is ServerBin too (one build under two settings).
	Compare    string
	CompareEnv []string
	ServeEnv   []string
	// Cycles is the compare mode's number of cycles. Default 30.
	Cycles int
	// Timeout bounds the whole run. Default 15m (default mode) or 60m
	// (scale mode).
	Timeout time.Duration
	// WorkDir holds the store and server logs. Default: a new temporary
	// directory, removed at the end unless Keep.
	WorkDir string
	Keep    bool
	// Ops are the operations the default mode's throughput phases
	// compare: "Describe" (with the other read comparisons), "Update" or
	// both (the default).
	Ops []string
	// ServeCPUProfile, if set, is where a podid serve writes a Go CPU
	// profile (the hidden --cpu-profile of every command) of its run: in
	// the default mode the first one (the throughput phases and the load,
	// not the restart after them); in scale mode the restarted one holding
	// the data set (its List pages among the rest), and the small one to
	// ServeCPUProfile+".small".
	ServeCPUProfile string
	// CommandLine is printed in the report.
	CommandLine string
	// Out receives the report and progress lines. Default os.Stdout.
	Out io.Writer
}

func (c *Config) setDefaults() error {
	if c.ServerBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the podid executable: %w", err)
		}
		c.ServerBin = exe
	}
	if c.Compare == "" && len(c.CompareEnv) > 0 {
		c.Compare = c.ServerBin
	}
	if c.Compare != "" {
		// Short phases, so that each cycle's pair sees the same machine.
		c.Duration = cmp.Or(c.Duration, time.Second)
		c.Warmup = cmp.Or(c.Warmup, 200*time.Millisecond)
		if len(c.Ops) == 0 {
			c.Ops = []string{"Update"}
		}
	}
	c.Cycles = cmp.Or(c.Cycles, 30)
	c.Store = cmp.Or(c.Store, "sqlite")
	c.Concurrency = cmp.Or(c.Concurrency, 8)
	c.Duration = cmp.Or(c.Duration, 3*time.Second)
	c.Warmup = cmp.Or(c.Warmup, 500*time.Millisecond)
	c.Rounds = cmp.Or(c.Rounds, 5)
	c.Associations = cmp.Or(c.Associations, 100_000)
	c.Clusters = cmp.Or(c.Clusters, 200)
	c.PerCluster = cmp.Or(c.PerCluster, 5000)
	c.MotoBin = cmp.Or(c.MotoBin, "moto_server")
	c.Trials = cmp.Or(c.Trials, 200)
	c.Uploads = cmp.Or(c.Uploads, 1000)
	c.Hold = cmp.Or(c.Hold, 15*time.Second)
	c.SoakRate = cmp.Or(c.SoakRate, 200)
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Minute
		if c.Scale {
			c.Timeout = 60 * time.Minute
		}
		c.Timeout = max(c.Timeout, c.Soak+5*time.Minute)
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if len(c.Ops) == 0 {
		c.Ops = []string{"Describe", "Update"}
	}
	var errs []error
	for _, op := range c.Ops {
		if op != "Describe" && op != "Update" {
			errs = append(errs, fmt.Errorf("operation %q: want Describe or Update", op))
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1-1024", c.Concurrency))
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Requests < 0 || c.Rounds < 1 {
		errs = append(errs, errors.New("duration, warmup, requests and rounds must not be negative (rounds >= 1)"))
	}
	if c.Associations < 1 || c.Associations > 10_000_000 {
		errs = append(errs, fmt.Errorf("associations %d: want 1-10,000,000", c.Associations))
	}
	if c.Trials < 1 || c.Trials > 100_000 {
		errs = append(errs, fmt.Errorf("trials %d: want 1-100,000", c.Trials))
	}
	if c.Clusters < 1 || c.Clusters > 10_000 {
		errs = append(errs, fmt.Errorf("clusters %d: want 1-10,000", c.Clusters))
	}
	if c.PerCluster < 1 || c.PerCluster > maxPerCluster {
		errs = append(errs, fmt.Errorf("per-cluster %d: want 1-%d (the association limit)", c.PerCluster, maxPerCluster))
	}
	modes := 0
	for _, on := range []bool{c.Scale, c.Reads, c.Propagation, c.PreauthAttack, c.Soak != 0, c.Compare != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		errs = append(errs, errors.New("--scale, --reads, --propagation, --preauth-attack, --soak and --compare are different modes: pick one"))
	}
	if c.Cycles < 1 || c.Cycles > 10_000 {
		errs = append(errs, fmt.Errorf("cycles %d: want 1-10,000", c.Cycles))
	}
	for _, kv := range slices.Concat(c.ServeEnv, c.CompareEnv) {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("environment %q: want KEY=VALUE", kv))
		}
	}
	if c.Soak < 0 || c.Soak > 0 && c.Soak < 5*time.Second {
		errs = append(errs, fmt.Errorf("soak %v: want at least 5s", c.Soak))
	}
	if c.SoakRate < 1 || c.SoakRate > 100_000 {
		errs = append(errs, fmt.Errorf("soak rate %d: want 1-100,000 operations per second", c.SoakRate))
	}
	if c.Propagation && c.Store == "sqlite" {
		errs = append(errs, errors.New(`--propagation needs PostgreSQL, which the replicas share: pass --store postgres (the bench starts one) `+
			`or --store postgres://... (e.g. eval "$(bash ci/postgres.sh)"; podid bench --propagation --store "$TEST_POSTGRES_DSN")`))
	}
	if c.Uploads < 1 || c.Uploads > 20_000 || c.Hold < time.Second {
		errs = append(errs, fmt.Errorf("uploads %d, hold %v: want 1-20,000 uploads held at least 1s", c.Uploads, c.Hold))
	}
	if c.Store != "sqlite" && c.Store != StartPostgres && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		errs = append(errs, fmt.Errorf("store %q: want sqlite, postgres (started by the bench) or a postgres:// DSN", c.Store))
	}
	return errors.Join(errs...)
}

// maxPerCluster is podid's association limit per cluster.
const maxPerCluster = 5000

// Run runs the benchmark that cfg selects and prints its report.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "podid-bench-")
		if err != nil {
			return err
		}
		cfg.WorkDir = dir
		if !cfg.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	r := &run{cfg: cfg, id: runID(), loadStart: loadAverage()}
	if cfg.Store == StartPostgres {
		pg, err := startPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.stop() // after the children stop (deferred below)
		r.pg = pg
		r.cfg.Store = pg.dsn
	}
	defer r.stopAll()
	var err error
	switch {
	case cfg.Scale:
		err = r.scale(ctx)
	case cfg.Reads:
		err = r.reads(ctx)
	case cfg.Propagation:
		err = r.propagation(ctx)
	case cfg.PreauthAttack:
		err = r.preauthAttack(ctx)
	case cfg.Soak > 0:
		err = r.soak(ctx)
	case cfg.Compare != "":
		err = r.compareBuilds(ctx)
	default:
		err = r.standard(ctx)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (the run is bounded by --timeout %v)", err, cfg.Timeout)
	}
	return err
}

// run is the state of one benchmark run.
type run struct {
	cfg      Config
	id       string // keeps cluster names unique in a shared store
	children []*child
	serves   int // podid serve processes started
	// loadStart is the 1-minute load average when the run began: the
	// figures are only as good as the machine is quiet.
	loadStart string
	// pg is the PostgreSQL server the bench started (--store postgres).
	pg *pgServer
}

// runID returns 6 random [a-z0-9] characters.
func runID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Out, "# "+format+"\n", args...)
}

// sqlitePath is the SQLite database file of a sqlite run.
func (r *run) sqlitePath() string { return filepath.Join(r.cfg.WorkDir, "podid-data", "podid.db") }

// storeDSN is what serve --store gets.
func (r *run) storeDSN() string {
	if r.cfg.Store == "sqlite" {
		return "sqlite:" + r.sqlitePath()
	}
	return r.cfg.Store
}

// fsyncDir is a directory on the store's file system, for the fsync floor;
// "" when the store is a server the bench did not start.
func (r *run) fsyncDir() string {
	switch {
	case r.cfg.Store == "sqlite":
		return r.cfg.WorkDir
	case r.pg != nil:
		return r.pg.dir
	}
	return ""
}

// openStore opens the run's store directly (for seeding).
func (r *run) openStore(ctx context.Context) (store.Store, error) {
	if r.cfg.Store == "sqlite" {
		return sqlite.Open(ctx, r.sqlitePath())
	}
	return postgres.Open(ctx, r.cfg.Store)
}

// seedMethod names how seed writes.
func seedMethod(storeFlag string) string {
	if storeFlag == "sqlite" {
		return "sqlite.Open + store.CreateAssociation, group-committed"
	}
	return "postgres.Open + store.CreateAssociation"
}

// startPodid starts podid serve on the store dsn names, with extra
// arguments after the configured ones. Each gets a --data-dir of its own
// in the work directory (for its admin credentials file), never
// ./podid-data wherever the bench was started.
func (r *run) startPodid(ctx context.Context, dsn string, extra ...string) (*child, error) {
	return r.startPodidOf(ctx, "podid", r.cfg.ServerBin, r.cfg.ServeEnv, dsn, extra...)
}

// startPodidOf is startPodid for the podid binary bin, with env added to
// the bench's environment and its log in name.log.
func (r *run) startPodidOf(ctx context.Context, name, bin string, env []string, dsn string, extra ...string) (*child, error) {
	r.serves++
	dataDir := filepath.Join(r.cfg.WorkDir, fmt.Sprintf("serve-%d", r.serves))
	args := append([]string{"serve", "--listen", "{addr}", "--store", dsn, "--auth", "none", "--data-dir", dataDir}, r.cfg.ServeArgs...)
	args = append(args, extra...)
	c, err := startChildEnv(ctx, name, r.cfg.WorkDir, bin, args, env, "/healthz", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, c)
	return c, nil
}

// secondStoreDSN returns a second, empty store of the run's kind (a
// SQLite file in the work directory's subdirectory name, or a PostgreSQL
// schema of its own), and a function that drops it.
func (r *run) secondStoreDSN(ctx context.Context, name string) (string, func(), error) {
	if r.cfg.Store == "sqlite" {
		return "sqlite:" + filepath.Join(r.cfg.WorkDir, name, "podid.db"), func() {}, nil
	}
	schema := "podid_bench_" + r.id
	conn, err := pgx.Connect(ctx, r.cfg.Store)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, r.cfg.Store); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(ctx)
		}
	}
	u, err := url.Parse(r.cfg.Store)
	if err != nil {
		drop()
		return "", nil, errors.New("parsing the store DSN: not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// startCanned starts the canned-response server with rs.
func (r *run) startCanned(ctx context.Context, rs []CannedResponse) (*child, error) {
	path := filepath.Join(r.cfg.WorkDir, "canned.json")
	if err := writeCannedFile(path, rs); err != nil {
		return nil, err
	}
	c, err := startChild(ctx, "canned", r.cfg.WorkDir, r.cfg.ServerBin,
		[]string{"bench", "canned-server", "--listen", "{addr}", "--responses", path},
		"/healthz", time.Minute)
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, c)
	return c, nil
}

// stop stops c and forgets it.
func (r *run) stop(c *child) error {
	for i, x := range r.children {
		if x == c {
			r.children = append(r.children[:i], r.children[i+1:]...)
			break
		}
	}
	return c.stop()
}

func (r *run) stopAll() {
	for _, c := range r.children {
		_ = c.stop()
	}
	r.children = nil
}

// machine describes where the figures come from.
func (r *run) machine() string {
	env := os.Getenv("GOMAXPROCS")
	if env == "" {
		env = "unset"
	}
	return fmt.Sprintf("%d CPUs; GOMAXPROCS %d in the bench client, servers inherit the environment (GOMAXPROCS=%s); %s %s/%s\n"+
		"loadavg:  1-minute load average %s at the start, %s at the end (other processes share the CPUs)",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), env, runtime.Version(), runtime.GOOS, runtime.GOARCH, r.loadStart, loadAverage())
}

// loadAverage returns the 1-minute load average, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// serveCommand describes how podid serve was started.
func (r *run) serveCommand() string {
	return strings.Join(append([]string{"podid serve --auth none"}, r.cfg.ServeArgs...), " ")
}
