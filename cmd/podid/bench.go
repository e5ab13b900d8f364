package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var cfg bench.Config
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure podid against its goals: throughput vs a canned server, memory, (--scale) a million associations, (--preauth-attack) stalled uploads",
		Long: `bench starts podid serve as a child process of this binary and measures it
through the Go SDK, printing a table of figures, ratios, goals and PASS/MISS.

Default mode: Describe and Update throughput against podid and against a
canned-response server (same HTTP stack and response bytes, no work); EKS
Auth's AssumeRoleForPodIdentity (no agent cache) and podid agent's cache hits,
each against a canned server answering the same bytes; DescribeCluster and
ListClusters against moto's server (--no-moto skips it); then the server's
memory with --associations associations loaded through the API.

--reads: the read comparisons alone (no Update, no memory): a quick run.

--preauth-attack: --uploads stalled uploads (1,000) bearing a valid key ID
(podid reads a body before it can check its signature), held --hold (15s),
in two phases (from one address with 1 MiB bodies, as issue 10 found it, and
from 16 addresses with 256 KiB bodies), each against a fresh podid serve
--auth sigv4: its peak RSS and /healthz latency during the attack.

--scale: --clusters x --per-cluster associations (a million by default): List
page time and Create throughput at the start against at scale, start-up time
and memory with the full data set, and DescribeCluster/ListClusters throughput
against moto's server.

--propagation: two podid replicas on the PostgreSQL database --store names;
--trials updates through one, each timed until the other's association cache
has applied it (p50/p99, goal p99 <= 100 ms).

--soak 10m: that long of mixed load (creates, updates, deletes, describes,
lists, credential requests through podid agent) against one server: its
VmRSS at the end within 10% of after the first minute, goroutines flat, no
errors.

--compare BIN: Update (--ops) throughput of this podid (A) against the podid
binary BIN (B), each on a fresh store of its own, in --cycles cycles (30) of
one --duration (1s) phase each, A and B in turn: B/A per cycle (median and
quartiles), how often B was faster, and a sign test of that split. For a
change of a few percent, which one run of the default mode cannot tell from
the machine's drift. --compare-env KEY=VALUE (repeatable) sets B's
environment (with it alone B is this binary too), --serve-env A's.

The exit code is 0 when the run completes, whether or not goals are met.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.CommandLine = strings.Join(os.Args, " ")
			cfg.Out = cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bench.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", 0, "measured time of each throughput phase (default 3s; 1s in compare mode)")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured warm-up before each phase (default 500ms; 200ms in compare mode)")
	f.IntVar(&cfg.Requests, "requests", 0, "measure this many requests per phase instead of --duration")
	f.IntVar(&cfg.Rounds, "rounds", 0, "rounds of each comparison, targets alternating; the median is reported (default 5)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "concurrent client workers (default 8)")
	f.IntVar(&cfg.Associations, "associations", 0, "associations to load before reading the server's memory (default 100000)")
	f.StringVar(&cfg.Store, "store", "", `store for the podid under test: "sqlite" (a fresh file in the work directory), "postgres" (a PostgreSQL server the bench starts from Debian's packages, as ci/postgres.sh does, and removes) or a postgres:// DSN (default sqlite)`)
	f.StringArrayVar(&cfg.ServeArgs, "serve-arg", nil, "extra argument for podid serve, repeatable (e.g. --serve-arg=--log-level=warn)")
	f.StringVar(&cfg.ServerBin, "server-bin", "", "podid binary to start (default: this executable)")
	f.BoolVar(&cfg.Scale, "scale", false, "run the scale benchmark instead")
	f.BoolVar(&cfg.Reads, "reads", false, "run only the read comparisons (Describe, EKS Auth, agent cache hits, DescribeCluster/ListClusters against moto): no Update, no memory")
	f.BoolVar(&cfg.PreauthAttack, "preauth-attack", false, "run the pre-authentication attack instead (issue 10)")
	f.IntVar(&cfg.Uploads, "uploads", 0, "preauth-attack mode: stalled uploads per phase (default 1000)")
	f.DurationVar(&cfg.Hold, "hold", 0, "preauth-attack mode: how long each phase holds its uploads (default 15s)")
	f.IntVar(&cfg.Clusters, "clusters", 0, "scale mode: clusters (default 200)")
	f.IntVar(&cfg.PerCluster, "per-cluster", 0, "scale mode: associations per cluster (default 5000)")
	f.BoolVar(&cfg.Propagation, "propagation", false, "run the replica propagation benchmark instead: two podid replicas on the PostgreSQL database --store names")
	f.IntVar(&cfg.Trials, "trials", 0, "propagation mode: updates timed (default 200)")
	f.DurationVar(&cfg.Soak, "soak", 0, "run the soak benchmark for this long instead (e.g. 10m): mixed load against one server, its memory and goroutines watched")
	f.IntVar(&cfg.SoakRate, "soak-rate", 0, "soak mode: operations per second, all workers together (default 200)")
	f.StringVar(&cfg.Compare, "compare", "", "run the compare mode instead: this podid (A, --server-bin) against the podid binary BIN (B), phases alternating")
	f.StringArrayVar(&cfg.CompareEnv, "compare-env", nil, "compare mode: KEY=VALUE in B's environment, repeatable (alone, B is the same binary as A)")
	f.StringArrayVar(&cfg.ServeEnv, "serve-env", nil, "KEY=VALUE in the environment of the podid serve under test (A in compare mode), repeatable")
	f.IntVar(&cfg.Cycles, "cycles", 0, "compare mode: cycles of one phase against A and one against B (default 30)")
	f.StringVar(&cfg.MotoBin, "moto-bin", "", "moto's server executable (default moto_server)")
	f.BoolVar(&cfg.NoMoto, "no-moto", false, "skip the DescribeCluster/ListClusters comparison with moto")
	f.DurationVar(&cfg.Timeout, "timeout", 0, "bound on the whole run (default 15m, 60m with --scale, --soak plus 5m with --soak)")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the store and server logs (default: a temporary directory, removed afterwards)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the temporary work directory")
	f.StringSliceVar(&cfg.Ops, "ops", nil, "default mode: the operations to compare, Describe (with EKS Auth, the agent and moto) and/or Update (default both); compare mode: Describe and/or Update (default Update)")
	f.StringVar(&cfg.ServeCPUProfile, "serve-cpu-profile", "", "write a Go CPU profile of a podid serve to this file, for go tool pprof: default mode, the first one (the throughput phases and the load); scale mode, the restarted one holding the data set (and the small one's to FILE.small)")

	var listen, responses string
	canned := &cobra.Command{
		Use:    "canned-server",
		Short:  "Serve fixed responses (the bench's baseline; started by podid bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := bench.ReadCannedFile(responses)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bench.ServeCanned(ctx, listen, rs)
		},
	}
	canned.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on")
	canned.Flags().StringVar(&responses, "responses", "", "JSON file of {pattern, body} routes")
	_ = canned.MarkFlagRequired("responses")
	cmd.AddCommand(canned)
	return cmd
}
