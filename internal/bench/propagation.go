package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// Goal of issue 11: replica propagation.
const (
	goalPropagationP99 = 100 * time.Millisecond
	// propagationTimeout bounds one trial: past it the change is counted
	// as not propagated and the run fails.
	propagationTimeout = 10 * time.Second
	// propagationPoll is how often the second replica's metrics are read
	// while a trial waits.
	propagationPoll = 2 * time.Millisecond
)

// Metrics of the association cache that a propagation trial reads.
const (
	metricPropCount = "podid_assoccache_propagation_seconds_count"
	metricPropSum   = "podid_assoccache_propagation_seconds_sum"
)

// propagation is the replica propagation mode: two podid replicas on one
// PostgreSQL database; each trial updates an association through the
// first and times until the second's association cache has applied it.
//
// The second replica is watched through its /metrics (its propagation
// histogram's count and sum), never through the admin API's wait, which
// would prompt it to read the change feed at once: the trial measures
// how the replica learns of the change by itself (LISTEN/NOTIFY, else its
// poll).
func (r *run) propagation(ctx context.Context) error {
	cfg := r.cfg
	dsn, drop, err := r.secondStoreDSN(ctx, "replicas")
	if err != nil {
		return err
	}
	defer drop()
	a, err := r.startPodid(ctx, dsn)
	if err != nil {
		return fmt.Errorf("starting replica A: %w", err)
	}
	b, err := r.startPodid(ctx, dsn)
	if err != nil {
		return fmt.Errorf("starting replica B: %w", err)
	}
	if _, err := b.waitCacheLoaded(ctx, time.Minute); err != nil {
		return err
	}
	ac := newEKS(a.url, 1)
	cluster := "prop-" + r.id
	if err := createCluster(ctx, ac, cluster); err != nil {
		return err
	}
	id, err := createAssociationSA(ctx, ac, cluster, "prop")
	if err != nil {
		return err
	}

	var client, server []time.Duration
	for i := range cfg.Trials {
		c, s, err := r.propagationTrial(ctx, ac, b, cluster, id, []string{roleB, roleA}[i%2])
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		client, server = append(client, c), append(server, s)
		// A pause of 0-20 ms, so trials do not fall into step with the
		// replica's own timers.
		if err := sleepCtx(ctx, rand.N(20*time.Millisecond)); err != nil {
			return err
		}
	}

	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --propagation: %d trials, two replicas on one PostgreSQL database\n", cfg.Trials)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "store:    %s (%s, two child processes, A and B)\n", redactDSN(dsn), r.serveCommand())
	fmt.Fprintf(out, "method:   each trial updates one association's role through A (aws-sdk-go-v2 UpdatePodIdentityAssociation)\n")
	fmt.Fprintf(out, "          and reads B's GET /metrics every %v until B's association cache has applied it (its propagation\n", propagationPoll)
	fmt.Fprintf(out, "          histogram's count moves); B is never asked to wait, so it learns of the change on its own\n")
	fmt.Fprintf(out, "          (LISTEN/NOTIFY, else its poll); 0-20 ms between trials\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "propagation A -> B\tp50\tp99\tmax\tgoal (p99)\tresult\t")
	fmt.Fprintf(tw, "client: A acknowledged -> B's metrics show it applied\t%v\t%v\t%v\t<= %v\t%s\t\n",
		roundDur(percentile(client, 0.5)), roundDur(percentile(client, 0.99)), roundDur(slices.Max(client)),
		goalPropagationP99, passMiss(percentile(client, 0.99) <= goalPropagationP99))
	fmt.Fprintf(tw, "B's own measure: commit (modifiedAt) -> applied\t%v\t%v\t%v\t<= %v\t%s\t\n",
		roundDur(percentile(server, 0.5)), roundDur(percentile(server, 0.99)), roundDur(slices.Max(server)),
		goalPropagationP99, passMiss(percentile(server, 0.99) <= goalPropagationP99))
	tw.Flush()
	return nil
}

// propagationTrial sets the association's role through ac (replica A)
// and returns how long after A's answer replica B had applied it (seen
// from here), and B's own measure of it (commit to applied).
func (r *run) propagationTrial(ctx context.Context, ac *eks.Client, b *child, cluster, id, role string) (client, server time.Duration, err error) {
	before, err := b.metrics(ctx, metricPropCount, metricPropSum)
	if err != nil {
		return 0, 0, err
	}
	if _, err := ac.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), AssociationId: aws.String(id), RoleArn: aws.String(role),
	}); err != nil {
		return 0, 0, fmt.Errorf("updating through A: %w", err)
	}
	acked := time.Now()
	deadline := acked.Add(propagationTimeout)
	for {
		now, err := b.metrics(ctx, metricPropCount, metricPropSum)
		if err != nil {
			return 0, 0, err
		}
		if now[metricPropCount] > before[metricPropCount] {
			client = time.Since(acked)
			server = time.Duration((now[metricPropSum] - before[metricPropSum]) / (now[metricPropCount] - before[metricPropCount]) * float64(time.Second))
			return client, server, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("B has not applied the update %v after A acknowledged it", propagationTimeout)
		}
		if err := sleepCtx(ctx, propagationPoll); err != nil {
			return 0, 0, err
		}
	}
}

// metrics reads the named unlabelled metrics a child exports on GET
// /metrics; a name it does not export is an error.
func (c *child) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	body, err := rawCall(ctx, "GET", c.url+"/metrics", "")
	if err != nil {
		return nil, fmt.Errorf("%s: reading metrics: %w", c.name, err)
	}
	got := make(map[string]float64, len(names))
	for line := range strings.SplitSeq(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			got[name] = f
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%s: GET /metrics has no %s", c.name, n)
		}
	}
	return got, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
