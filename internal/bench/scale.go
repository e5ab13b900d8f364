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

// Goals of issue 4 (the List page ratio: issue 11's).
const (
	goalListRatio   = 1.2
	goalCreateRatio = 0.8
)

// Goals of issue 11 at scale.
const (
	goalStartup  = 3 * time.Second
	goalRSSStart = 350 << 20
	goalRSSEnd   = 400 << 20
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

	// The large store: clusters through the API, then every association
	// but the last edgeN seeded through the store with podid stopped.
	pod, err := r.startPodid(ctx, r.storeDSN())
	if err != nil {
		return err
	}
	podC := newEKS(pod.url, cfg.Concurrency)
	if err := r.createClusters(ctx, podC, l.clusters); err != nil {
		return err
	}
	if err := r.stop(pod); err != nil {
		return fmt.Errorf("stopping podid: %w", err)
	}
	seeded, seedTime, err := r.seed(ctx, l, 0, total-edgeN)
	if err != nil {
		return err
	}

	// Start-up with the seeded data set: until /healthz is 200 and a
	// Describe of a seeded association succeeds.
	pod, err = r.startPodid(ctx, r.storeDSN(), r.profileArgs("")...)
	if err != nil {
		return fmt.Errorf("restarting podid: %w", err)
	}
	podC = newEKS(pod.url, cfg.Concurrency)
	if err := describeOne(ctx, podC, l.cluster(total-edgeN-1)); err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	startup := time.Since(pod.started)
	// podid answers while its association cache loads: RSS "after start"
	// is taken once the load is done.
	loadedAt, err := pod.waitCacheLoaded(ctx, cfg.Timeout)
	if err != nil {
		return err
	}
	loaded := loadedAt.Sub(pod.started)
	memStart, err := pod.memory()
	if err != nil {
		return err
	}
	r.logf("restarted with %d associations: ready and answering in %v, cache loaded in %v, RSS %s",
		total-edgeN, startup.Round(time.Millisecond), loaded.Round(time.Millisecond), mib(memStart.RSS))

	// The small store: a second podid, empty but for the clusters that
	// will hold the first edgeN associations.
	smallDSN, dropSmall, err := r.secondStoreDSN(ctx, "small")
	if err != nil {
		return err
	}
	defer dropSmall()
	small, err := r.startPodid(ctx, smallDSN, r.profileArgs(".small")...)
	if err != nil {
		return fmt.Errorf("starting the small podid: %w", err)
	}
	smallC := newEKS(small.url, cfg.Concurrency)
	memEmpty, err := small.memory()
	if err != nil {
		return err
	}
	if err := r.createClusters(ctx, smallC, l.clustersHolding(edgeN)); err != nil {
		return err
	}

	// Create at the start (small: 0 -> edgeN) against at the end (large:
	// total-edgeN -> total), in alternating chunks.
	starts, ends, cpu, err := r.compareCreates(ctx, l, edgeN, side{small, smallC}, side{pod, podC})
	if err != nil {
		return err
	}
	// List pages at edgeN (small) against at total (large), alternating.
	pagesSmall, pagesLarge, err := r.comparePages(ctx, smallC, l.clustersHolding(edgeN), podC, l.clusters)
	if err != nil {
		return err
	}
	r.logf("List pages at %d: median %v p95 %v; at %d: median %v p95 %v", edgeN,
		roundDur(percentile(pagesSmall, 0.5)), roundDur(percentile(pagesSmall, 0.95)),
		total, roundDur(percentile(pagesLarge, 0.5)), roundDur(percentile(pagesLarge, 0.95)))
	if err := r.stop(small); err != nil {
		return fmt.Errorf("stopping the small podid: %w", err)
	}
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
		if moto, err = r.compareMoto(ctx, pod.url, podC, l.clusters); err != nil {
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
	fmt.Fprintf(out, "method:   clusters created through the API; %d associations seeded directly through the store (%s) with podid stopped,\n", seeded, seedMethod(cfg.Store))
	fmt.Fprintf(out, "          %d writers, in %v (%.0f/s); podid restarted (start-up timed); the last %d created through the API (Create at end),\n",
		seedWorkers, seedTime.Round(time.Millisecond), float64(seeded)/seedTime.Seconds(), edgeN)
	fmt.Fprintf(out, "          alternating in %d chunks with a second podid on an empty store (%s) creating its first %d (Create at start);\n",
		createChunks, redactDSN(smallDSN), edgeN)
	fmt.Fprintf(out, "          both running at once so that both sides see the same machine; then podid lists all %d\n", count)
	fmt.Fprintf(out, "List:     pages of maxResults=100, walks of up to %d pages from the start of a cluster's listing, alternating between the\n", pagesPerWalk)
	fmt.Fprintf(out, "          %d-association and the %d-association server, %d pages timed on each, one client\n", edgeN, total, pageSamples)
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tat start\tat scale\tratio\tgoal\tresult\t")
	ms, ml := roundDur(percentile(pagesSmall, 0.5)), roundDur(percentile(pagesLarge, 0.5))
	ps, pl := roundDur(percentile(pagesSmall, 0.95)), roundDur(percentile(pagesLarge, 0.95))
	fmt.Fprintf(tw, "List page median (%d vs %d associations)\t%s\t%s\t%.2f\t<= %.1f\t%s\t\n", edgeN, total, ms, ml, ratio(ml, ms), goalListRatio, passMiss(ratio(ml, ms) <= goalListRatio))
	fmt.Fprintf(tw, "List page p95\t%s\t%s\t%.2f\t<= %.1f\t%s\t\n", ps, pl, ratio(pl, ps), goalListRatio, passMiss(ratio(pl, ps) <= goalListRatio))
	cs, ce := median(starts), median(ends)
	fmt.Fprintf(tw, "Create ops/s (first %d vs last %d), median of chunks\t%.0f\t%.0f\t%.2f\t>= %.1f\t%s\t\n", edgeN, edgeN, cs, ce, ce/cs, goalCreateRatio, passMiss(ce/cs >= goalCreateRatio))
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(edgeN) }
	fmt.Fprintf(tw, "  podid process CPU per Create (all chunks; less noisy on a shared machine)\t%.0f µs\t%.0f µs\t%.2f\t\t\t\n",
		us(cpu[0]), us(cpu[1]), ratio(cpu[1], cpu[0]))
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "podid at scale\tvalue\tgoal\tresult\t")
	healthz := pod.ready.Sub(pod.started)
	perAssoc := float64(memStart.RSS-memEmpty.RSS) / float64(total-edgeN)
	goalPerAssoc := float64(goalRSSStart-memEmpty.RSS) / float64(total-edgeN)
	fmt.Fprintf(tw, "start-up with %d associations: exec to healthz 200\t%v\t<= %v\t%s\t\n", total-edgeN, healthz.Round(time.Millisecond), goalStartup, passMiss(healthz <= goalStartup))
	fmt.Fprintf(tw, "start-up with %d associations: exec to a Describe answered\t%v\t<= %v\t%s\t\n", total-edgeN, startup.Round(time.Millisecond), goalStartup, passMiss(startup <= goalStartup))
	fmt.Fprintf(tw, "start-up: exec to the association cache loaded (credentials read through until then)\t%v\t\t\t\n", loaded.Round(time.Millisecond))
	fmt.Fprintf(tw, "VmRSS after start-up (cache loaded)\t%s\t<= %s\t%s\t\n", mib(memStart.RSS), mib(goalRSSStart), passMiss(memStart.RSS <= goalRSSStart))
	fmt.Fprintf(tw, "VmRSS at the end (%d associations)\t%s\t<= %s\t%s\t\n", total, mib(memEnd.RSS), mib(goalRSSEnd), passMiss(memEnd.RSS <= goalRSSEnd))
	fmt.Fprintf(tw, "bytes per association: (VmRSS after start - VmRSS of an empty podid %s) / %d\t%.0f B\t<= %.0f B\t%s\t\n",
		mib(memEmpty.RSS), total-edgeN, perAssoc, goalPerAssoc, passMiss(perAssoc <= goalPerAssoc))
	fmt.Fprintf(tw, "  of which anonymous / file-backed\t%s / %s\t\n", mib(memEnd.Anon), mib(memEnd.File))
	fmt.Fprintf(tw, "VmHWM (peak) of that process\t%s\t\n", mib(memEnd.HWM))
	if alloc, inuse, ok := pod.goHeap(ctx); ok {
		fmt.Fprintf(tw, "Go heap at the end (live objects / in use, from GET /metrics)\t%s / %s\t\n", mib(alloc), mib(inuse))
	}
	tw.Flush()
	if moto != nil {
		fmt.Fprintln(out)
		moto.print(out, len(l.clusters), cfg.Rounds)
	} else {
		fmt.Fprintln(out, "\nmoto:     comparison skipped (--no-moto)")
	}
	return nil
}

// profileArgs are podid serve's arguments for a CPU profile written to
// ServeCPUProfile plus suffix, if one was asked for: in scale mode the
// restarted podid holding the data set writes it (start-up, Creates, List
// pages, the count; go tool pprof -focus=listAssociations picks the List
// pages out), and the small podid writes it with suffix ".small".
func (r *run) profileArgs(suffix string) []string {
	if r.cfg.ServeCPUProfile == "" {
		return nil
	}
	return []string{"--cpu-profile", r.cfg.ServeCPUProfile + suffix}
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

// createChunks is how many alternating chunks the Create comparison runs.
const createChunks = 6

// createClusters creates clusters through the API with the configured
// workers.
func (r *run) createClusters(ctx context.Context, c *eks.Client, clusters []string) error {
	t0 := time.Now()
	if _, err := drive(ctx, phase{Count: len(clusters), Workers: r.cfg.Concurrency}, func(ctx context.Context, _, seq int) error {
		return createCluster(ctx, c, clusters[seq])
	}); err != nil {
		return err
	}
	r.logf("created %d clusters through the API in %v", len(clusters), time.Since(t0).Round(time.Millisecond))
	return nil
}

// describeOne finds an association of cluster and describes it.
func describeOne(ctx context.Context, c *eks.Client, cluster string) error {
	probe, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(cluster), MaxResults: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", cluster, err)
	}
	if len(probe.Associations) == 0 {
		return fmt.Errorf("cluster %s has no associations", cluster)
	}
	if _, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: probe.Associations[0].ClusterName, AssociationId: probe.Associations[0].AssociationId,
	}); err != nil {
		return fmt.Errorf("describing an association of %s: %w", cluster, err)
	}
	return nil
}

// side is a podid and its client.
type side struct {
	pod *child
	c   *eks.Client
}

// compareCreates creates associations [0, n) through small and [total-n,
// total) through large, in createChunks alternating chunks, and returns
// each chunk's ops/s and each podid's CPU time over its chunks (small's,
// then large's).
func (r *run) compareCreates(ctx context.Context, l layout, n int, small, large side) (starts, ends []float64, cpu [2]time.Duration, err error) {
	total := l.total()
	for i := range createChunks {
		from, to := i*n/createChunks, (i+1)*n/createChunks
		if to == from {
			continue
		}
		sides := []struct {
			name string
			side
			offset int
			rates  *[]float64
			cpu    *time.Duration
		}{{"start", small, 0, &starts, &cpu[0]}, {"end", large, total - n, &ends, &cpu[1]}}
		if i%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, sd := range sides {
			cpu0, err := sd.pod.cpuTime()
			if err != nil {
				return nil, nil, cpu, err
			}
			o, err := drive(ctx, phase{Count: to - from, Workers: r.cfg.Concurrency}, func(ctx context.Context, _, seq int) error {
				k := sd.offset + from + seq
				_, err := createAssociationSA(ctx, sd.c, l.cluster(k), l.serviceAccount(k))
				return err
			})
			if err != nil {
				return nil, nil, cpu, fmt.Errorf("Create at the %s: %w", sd.name, err)
			}
			cpu1, err := sd.pod.cpuTime()
			if err != nil {
				return nil, nil, cpu, err
			}
			*sd.cpu += cpu1 - cpu0
			*sd.rates = append(*sd.rates, o.OpsPerSec())
			r.logf("Create at the %-5s chunk %d: %d in %v (%.0f/s)", sd.name, i+1, o.Ops, o.Elapsed.Round(time.Millisecond), o.OpsPerSec())
		}
	}
	return starts, ends, cpu, nil
}

// comparePages times List pages on two servers, alternating walks.
func (r *run) comparePages(ctx context.Context, smallC *eks.Client, smallClusters []string, largeC *eks.Client, largeClusters []string) (small, large []time.Duration, err error) {
	for walk := 0; len(small) < pageSamples || len(large) < pageSamples; walk++ {
		if walk > 4*pageSamples {
			return nil, nil, fmt.Errorf("listing: too few pages in %d walks", walk)
		}
		if walk%2 == 0 && len(small) < pageSamples {
			if small, err = r.walkPages(ctx, smallC, smallClusters[(walk/2)%len(smallClusters)], small); err != nil {
				return nil, nil, err
			}
		}
		if walk%2 == 1 && len(large) < pageSamples {
			if large, err = r.walkPages(ctx, largeC, largeClusters[(walk/2)%len(largeClusters)], large); err != nil {
				return nil, nil, err
			}
		}
	}
	return small, large, nil
}

// walkPages reads up to pagesPerWalk List pages of cluster, appending each
// page's time to lats (up to pageSamples).
func (r *run) walkPages(ctx context.Context, c *eks.Client, cluster string, lats []time.Duration) ([]time.Duration, error) {
	p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(cluster),
		MaxResults:  aws.Int32(100),
	})
	for page := 0; page < pagesPerWalk && p.HasMorePages() && len(lats) < pageSamples; page++ {
		t0 := time.Now()
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", cluster, err)
		}
		lats = append(lats, time.Since(t0))
		if len(out.Associations) == 0 {
			break
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
			Region:         benchRegion, // the clusters were made through the API, signed for it
			ID:             newAssociationID(),
			ClusterName:    l.cluster(k),
			Namespace:      scaleNamespace,
			ServiceAccount: l.serviceAccount(k),
			RoleARN:        roleA,
			Tags:           map[string]string{},
			CreatedAt:      now,
			ModifiedAt:     now,
		}, store.WriteOptions{MaxPerCluster: maxPerCluster})
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
