package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/store"
)

// Goals of issue 4.
const (
	goalListRatio   = 1.5
	goalCreateRatio = 0.8
	goalMoto        = 20.0
)

const (
	// scaleNamespace holds every association of the scale data set.
	scaleNamespace = "scale"
	// pagesPerWalk is how many List pages (of 100) one walk reads.
	pagesPerWalk = 10
	// pageSamples is how many List pages are timed at each size.
	pageSamples = 300
	// seedWorkers write to the store at once while seeding; the SQLite
	// store groups concurrent writes into one commit.
	seedWorkers = 512
)

// layout places association k of the data set: cluster k/per, service
// account sa-(k%per), all in scaleNamespace.
type layout struct {
	clusters []string
	per      int
}

func (l layout) total() int                  { return len(l.clusters) * l.per }
func (l layout) cluster(k int) string        { return l.clusters[k/l.per] }
func (l layout) serviceAccount(k int) string { return fmt.Sprintf("sa-%d", k%l.per) }
func (l layout) clustersHolding(n int) []string {
	return l.clusters[:min(len(l.clusters), (n+l.per-1)/l.per)]
}

// scale is the scale mode (issue 4).
func (r *run) scale(ctx context.Context) error {
	cfg := r.cfg
	l := layout{per: cfg.PerCluster}
	for i := range cfg.Clusters {
		l.clusters = append(l.clusters, fmt.Sprintf("scale-%s-%03d", r.id, i))
	}
	total := l.total()
	// The first edgeN associations are created through the API at the
	// start, the last edgeN at the end; the rest are seeded.
	edgeN := min(1000, total/4)
	if edgeN < 1 {
		return fmt.Errorf("data set of %d associations is too small", total)
	}

	pod, err := r.startPodid(ctx)
	if err != nil {
		return err
	}
	podC := newEKS(pod.url, cfg.Concurrency)
	t0 := time.Now()
	for _, name := range l.clusters {
		if err := createCluster(ctx, podC, name); err != nil {
			return err
		}
	}
	r.logf("created %d clusters through the API in %v", len(l.clusters), time.Since(t0).Round(time.Millisecond))

	create := func(ctx context.Context, _, seq int) error {
		_, err := createAssociationSA(ctx, podC, l.cluster(seq), l.serviceAccount(seq))
		return err
	}
	createStart, err := drive(ctx, phase{Count: edgeN, Workers: cfg.Concurrency}, create)
	if err != nil {
		return fmt.Errorf("creating the first %d associations: %w", edgeN, err)
	}
	r.logf("Create at the start: %d in %v (%.0f/s)", edgeN, createStart.Elapsed.Round(time.Millisecond), createStart.OpsPerSec())

	pagesSmall, err := r.timePages(ctx, podC, l.clustersHolding(edgeN))
	if err != nil {
		return err
	}
	r.logf("List pages at %d: median %v p95 %v", edgeN, percentile(pagesSmall, 0.5), percentile(pagesSmall, 0.95))

	// Seed the middle through the store, with the server stopped.
	if err := r.stop(pod); err != nil {
		return fmt.Errorf("stopping podid: %w", err)
	}
	seeded, seedTime, err := r.seed(ctx, l, edgeN, total-edgeN)
	if err != nil {
		return err
	}

	// Start-up with the full data set: until /healthz is 200 and a
	// Describe of a seeded association succeeds.
	pod, err = r.startPodid(ctx)
	if err != nil {
		return fmt.Errorf("restarting podid: %w", err)
	}
	podC = newEKS(pod.url, cfg.Concurrency)
	probe, err := podC.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(l.cluster(edgeN)), MaxResults: aws.Int32(1),
	})
	if err != nil || len(probe.Associations) == 0 {
		return fmt.Errorf("finding a seeded association after restart: %v (%d found)", err, lenOrZero(probe))
	}
	if _, err := podC.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: probe.Associations[0].ClusterName, AssociationId: probe.Associations[0].AssociationId,
	}); err != nil {
		return fmt.Errorf("describing a seeded association after restart: %w", err)
	}
	startup := time.Since(pod.started)
	memStart, err := pod.memory()
	if err != nil {
		return err
	}
	r.logf("restarted with %d associations: ready and answering in %v, RSS %s", total-edgeN, startup.Round(time.Millisecond), mib(memStart.RSS))

	pagesLarge, err := r.timePages(ctx, podC, l.clusters)
	if err != nil {
		return err
	}
	r.logf("List pages at %d: median %v p95 %v", total-edgeN, percentile(pagesLarge, 0.5), percentile(pagesLarge, 0.95))

	createEnd, err := drive(ctx, phase{Count: edgeN, Workers: cfg.Concurrency}, func(ctx context.Context, w, seq int) error {
		return create(ctx, w, total-edgeN+seq)
	})
	if err != nil {
		return fmt.Errorf("creating the last %d associations: %w", edgeN, err)
	}
	r.logf("Create at the end: %d in %v (%.0f/s)", edgeN, createEnd.Elapsed.Round(time.Millisecond), createEnd.OpsPerSec())
	count, err := r.countAll(ctx, podC, l.clusters)
	if err != nil {
		return err
	}
	if count != total {
		return fmt.Errorf("podid counts %d associations, want %d", count, total)
	}
	memEnd, err := pod.memory()
	if err != nil {
		return err
	}

	var moto *motoResult
	if !cfg.NoMoto {
		if moto, err = r.compareMoto(ctx, podC, l.clusters); err != nil {
			return err
		}
		if memEnd, err = pod.memory(); err != nil {
			return err
		}
	}

	// Report.
	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --scale: %d clusters x %d associations = %d\n", len(l.clusters), l.per, total)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "store:    %s (%s, child process)\n", redactDSN(r.storeDSN()), r.serveCommand())
	fmt.Fprintf(out, "client:   aws-sdk-go-v2 service/eks, static credentials (SigV4-signed), no retries, keep-alive; %d workers for throughput\n", cfg.Concurrency)
	fmt.Fprintf(out, "method:   clusters created through the API; the first %d associations created through the API (Create at start);\n", edgeN)
	fmt.Fprintf(out, "          %d seeded directly through the store (%s) with podid stopped, %d writers, in %v (%.0f/s);\n",
		seeded, seedMethod(cfg.Store), seedWorkers, seedTime.Round(time.Millisecond), float64(seeded)/seedTime.Seconds())
	fmt.Fprintf(out, "          podid restarted; the last %d created through the API (Create at end); podid then lists all %d\n", edgeN, count)
	fmt.Fprintf(out, "List:     pages of maxResults=100, walks of up to %d pages from the start of a cluster's listing, %d pages timed at each size,\n", pagesPerWalk, pageSamples)
	fmt.Fprintf(out, "          one client; at %d the clusters holding the first associations, at %d every cluster in turn\n", edgeN, total-edgeN)
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tat start\tat scale\tratio\tgoal\tresult\t")
	ms, ml := percentile(pagesSmall, 0.5), percentile(pagesLarge, 0.5)
	ps, pl := percentile(pagesSmall, 0.95), percentile(pagesLarge, 0.95)
	fmt.Fprintf(tw, "List page median (%d vs %d associations)\t%s\t%s\t%.2f\t<= %.1f\t%s\t\n", edgeN, total-edgeN, ms, ml, ratio(ml, ms), goalListRatio, passMiss(ratio(ml, ms) <= goalListRatio))
	fmt.Fprintf(tw, "List page p95\t%s\t%s\t%.2f\t<= %.1f\t%s\t\n", ps, pl, ratio(pl, ps), goalListRatio, passMiss(ratio(pl, ps) <= goalListRatio))
	cr := createEnd.OpsPerSec() / createStart.OpsPerSec()
	fmt.Fprintf(tw, "Create ops/s (first %d vs last %d)\t%.0f\t%.0f\t%.2f\t>= %.1f\t%s\t\n", edgeN, edgeN, createStart.OpsPerSec(), createEnd.OpsPerSec(), cr, goalCreateRatio, passMiss(cr >= goalCreateRatio))
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "podid at scale\tvalue\t")
	fmt.Fprintf(tw, "start-up with %d associations (exec to healthz 200 + a Describe)\t%v\t\n", total-edgeN, startup.Round(time.Millisecond))
	fmt.Fprintf(tw, "VmRSS right after start-up\t%s\t\n", mib(memStart.RSS))
	fmt.Fprintf(tw, "VmRSS at the end (%d associations)\t%s\t\n", total, mib(memEnd.RSS))
	fmt.Fprintf(tw, "VmHWM (peak) of that process\t%s\t\n", mib(memEnd.HWM))
	tw.Flush()
	if moto != nil {
		fmt.Fprintln(out)
		fmt.Fprintf(out, "moto:     %s, the same %d clusters created in it through the SDK (in %v); phases as podid's, %d rounds alternating, median\n",
			moto.bin, len(l.clusters), moto.setup.Round(time.Millisecond), cfg.Rounds)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\tpodid ops/s\tmoto ops/s\tpodid/moto\tgoal\tresult\t")
		for _, op := range []string{"DescribeCluster", "ListClusters"} {
			p, m := median(moto.rates[op]["podid"]), median(moto.rates[op]["moto"])
			fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t>= %.0f\t%s\t\n", op, p, m, p/m, goalMoto, passMiss(p/m >= goalMoto))
		}
		tw.Flush()
	} else {
		fmt.Fprintln(out, "\nmoto:     comparison skipped (--no-moto)")
	}
	return nil
}

func lenOrZero(o *eks.ListPodIdentityAssociationsOutput) int {
	if o == nil {
		return 0
	}
	return len(o.Associations)
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// createAssociationSA creates scaleNamespace/sa in cluster.
func createAssociationSA(ctx context.Context, c *eks.Client, cluster, sa string) (string, error) {
	out, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String(cluster),
		Namespace:      aws.String(scaleNamespace),
		ServiceAccount: aws.String(sa),
		RoleArn:        aws.String(roleA),
	})
	if err != nil {
		return "", fmt.Errorf("creating association %s/%s/%s: %w", cluster, scaleNamespace, sa, err)
	}
	return aws.ToString(out.Association.AssociationId), nil
}

// timePages times pageSamples List pages (maxResults=100) from one client,
// in walks of up to pagesPerWalk pages over clusters in turn.
func (r *run) timePages(ctx context.Context, c *eks.Client, clusters []string) ([]time.Duration, error) {
	var lats []time.Duration
	for walk := 0; len(lats) < pageSamples; walk++ {
		if walk > pageSamples {
			return nil, fmt.Errorf("listing: no pages in %d walks", walk)
		}
		name := clusters[walk%len(clusters)]
		p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{
			ClusterName: aws.String(name),
			MaxResults:  aws.Int32(100),
		})
		for page := 0; page < pagesPerWalk && p.HasMorePages() && len(lats) < pageSamples; page++ {
			t0 := time.Now()
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", name, err)
			}
			lats = append(lats, time.Since(t0))
			if len(out.Associations) == 0 {
				break
			}
		}
	}
	return lats, nil
}

// countAll counts every association of clusters through the API.
func (r *run) countAll(ctx context.Context, c *eks.Client, clusters []string) (int, error) {
	return r.readAll(ctx, c, clusters)
}

// seed creates associations [from, to) of l directly in the store, with
// podid stopped.
func (r *run) seed(ctx context.Context, l layout, from, to int) (int, time.Duration, error) {
	st, err := r.openStore(ctx)
	if err != nil {
		return 0, 0, err
	}
	n := to - from
	var done atomic.Int64
	t0 := time.Now()
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err = drive(ctx, phase{Count: n, Workers: seedWorkers}, func(ctx context.Context, _, seq int) error {
		k := from + seq
		_, err := st.CreateAssociation(ctx, store.Association{
			ID:             newAssociationID(),
			ClusterName:    l.cluster(k),
			Namespace:      scaleNamespace,
			ServiceAccount: l.serviceAccount(k),
			RoleARN:        roleA,
			Tags:           map[string]string{},
			CreatedAt:      now,
			ModifiedAt:     now,
		}, store.CreateAssociationOptions{MaxPerCluster: maxPerCluster})
		if d := done.Add(1); d%100_000 == 0 {
			r.logf("seeded %d/%d associations (%.0f/s)", d, n, float64(d)/time.Since(t0).Seconds())
		}
		return err
	})
	elapsed := time.Since(t0)
	cerr := st.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("seeding the store: %w", err)
	}
	if cerr != nil {
		return 0, 0, fmt.Errorf("closing the seeded store: %w", cerr)
	}
	return n, elapsed, nil
}

// newAssociationID returns "a-" and 17 characters of [a-z0-9].
func newAssociationID() string {
	return "a-" + strings.ToLower(rand.Text()[:17])
}
