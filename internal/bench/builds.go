package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// compareBuilds is the compare mode: the throughput of two podid builds
// (or one build under two environments), A (ServerBin, ServeEnv) and B
// (Compare, CompareEnv), each on a store of its own, through the same
// client settings, in Cycles cycles of one short phase each, A and B in
// turn (the order alternating). A single run of the default mode cannot
// tell a change of a few percent from the machine's drift between runs
// (often 20% on a shared VM); within a cycle both see the same machine, so
// B/A per cycle carries the change, and how often B wins says whether it
// is more than noise.
func (r *run) compareBuilds(ctx context.Context) error {
	cfg := r.cfg
	type side struct {
		name, bin string
		env       []string
		c         *child
		client    *eks.Client
		set       *throughputSet
		rates     map[string][]float64
		cpus      map[string][]float64
	}
	dsnB, drop, err := r.secondStoreDSN(ctx, "b")
	if err != nil {
		return err
	}
	defer drop()
	sides := []*side{
		{name: "A", bin: cfg.ServerBin, env: cfg.ServeEnv},
		{name: "B", bin: cfg.Compare, env: cfg.CompareEnv},
	}
	for i, s := range sides {
		dsn := r.storeDSN()
		if i == 1 {
			dsn = dsnB
		}
		if s.c, err = r.startPodidOf(ctx, "podid-"+s.name, s.bin, s.env, dsn); err != nil {
			return fmt.Errorf("starting %s: %w", s.name, err)
		}
		s.client = newEKS(s.c.url, cfg.Concurrency)
		if s.set, err = r.prepareThroughput(ctx, s.client); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.rates, s.cpus = map[string][]float64{}, map[string][]float64{}
	}
	ph := phase{Warmup: cfg.Warmup, Duration: cfg.Duration, Count: cfg.Requests, Workers: cfg.Concurrency}
	for cycle := range cfg.Cycles {
		for _, op := range cfg.Ops {
			order := sides
			if cycle%2 == 1 {
				order = []*side{sides[1], sides[0]}
			}
			for _, s := range order {
				f := describeOp(s.client, s.set)
				if op == "Update" {
					f = updateOp(s.client, s.set, true)
				}
				cpu0, err := s.c.cpuTime()
				if err != nil {
					return err
				}
				o, err := drive(ctx, ph, f)
				if err != nil {
					return fmt.Errorf("%s against %s: %w", op, s.name, err)
				}
				cpu1, err := s.c.cpuTime()
				if err != nil {
					return err
				}
				s.rates[op] = append(s.rates[op], o.OpsPerSec())
				s.cpus[op] = append(s.cpus[op], float64((cpu1-cpu0).Microseconds())/float64(max(o.All, 1)))
			}
		}
		r.logf("cycle %d: %s", cycle+1, cycleLine(cfg.Ops, sides[0].rates, sides[1].rates))
	}

	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --compare: %s throughput of two podid servers, A and B, in %d cycles of one phase each (A and B in turn, the order alternating)\n",
		strings.Join(cfg.Ops, " and "), cfg.Cycles)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	for i, s := range sides {
		dsn := r.storeDSN()
		if i == 1 {
			dsn = dsnB
		}
		fmt.Fprintf(out, "%s:        %s%s (podid serve --auth none --store %s)\n", s.name, s.bin, envSuffix(s.env), redactDSN(dsn))
	}
	fmt.Fprintf(out, "client:   aws-sdk-go-v2 service/eks, %d workers sharing one client per server, keep-alive, no retries\n", cfg.Concurrency)
	fmt.Fprintf(out, "phases:   %s\n\n", phaseLine(ph))
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tA ops/s\tB ops/s\tA CPU us/op\tB CPU us/op\tB/A per cycle: median\tq25\tq75\tB faster\tsign test p\t")
	for _, op := range cfg.Ops {
		a, b := sides[0], sides[1]
		ratios := make([]float64, len(a.rates[op]))
		wins := 0
		for i := range ratios {
			ratios[i] = b.rates[op][i] / a.rates[op][i]
			if ratios[i] > 1 {
				wins++
			}
		}
		slices.Sort(ratios)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%d of %d\t%.2g\t\n", op,
			median(a.rates[op]), median(b.rates[op]), median(a.cpus[op]), median(b.cpus[op]),
			median(ratios), quantile(ratios, 0.25), quantile(ratios, 0.75), wins, len(ratios), signTest(wins, len(ratios)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nB faster: cycles in which B's phase did more operations per second than A's. sign test p: the chance of a split")
	fmt.Fprintln(out, "at least this uneven (either way) were A and B the same build: below 0.05, the difference is more than the noise.")
	return nil
}

// cycleLine is a progress line: each operation's A and B ops/s of the
// last cycle.
func cycleLine(ops []string, a, b map[string][]float64) string {
	var parts []string
	for _, op := range ops {
		n := len(a[op]) - 1
		parts = append(parts, fmt.Sprintf("%s A %.0f, B %.0f ops/s (B/A %.3f)", op, a[op][n], b[op][n], b[op][n]/a[op][n]))
	}
	return strings.Join(parts, "; ")
}

// envSuffix shows a server's extra environment after its binary.
func envSuffix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return " with " + strings.Join(env, " ")
}

// phaseLine describes one phase.
func phaseLine(ph phase) string {
	if ph.Count > 0 {
		return fmt.Sprintf("%d requests each", ph.Count)
	}
	return fmt.Sprintf("%v each after %v warm-up", ph.Duration, ph.Warmup)
}

// quantile returns the q-quantile (0..1) of sorted xs by nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// signTest is the two-sided sign test's p-value for wins of n cycles:
// the chance, under Binomial(n, 1/2), of a split at least as uneven.
func signTest(wins, n int) float64 {
	if n == 0 {
		return 1
	}
	k := max(wins, n-wins)
	// P(X >= k) for X ~ Binomial(n, 1/2), summed in log space.
	var tail float64
	for i := k; i <= n; i++ {
		lg := lgamma(n+1) - lgamma(i+1) - lgamma(n-i+1) - float64(n)*math.Ln2
		tail += math.Exp(lg)
	}
	return min(1, 2*tail)
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}
