package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// Goals of issue 11: the soak.
const (
	// goalSoakRSS: RSS at the end at most 10% above RSS after the first
	// minute.
	goalSoakRSS = 1.10
	// goalSoakGoroutines: goroutines at the end at most this many above
	// the count after the first minute (both read under the same load:
	// a leak of one per request would be thousands).
	goalSoakGoroutines = 20
)

const (
	// soakPods is how many associations the credential requests use, one
	// pod token each.
	soakPods = 20
	// soakChurn bounds the associations each worker keeps: past it, a
	// create deletes the worker's oldest first, so the store's size stays
	// flat and so should the server's memory.
	soakChurn = 100
	// soakMaxErrors bounds the errors kept for the report.
	soakMaxErrors = 5
)

// soakOps are the soak's operations and their weights out of 100.
var soakOps = []struct {
	name   string
	weight int
}{
	{"create", 15}, {"update", 15}, {"delete", 10}, {"describe", 25}, {"list", 15}, {"credentials", 20},
}

// soakSample is one reading of the server during the soak.
type soakSample struct {
	at         time.Duration // since the load started
	rss        int64
	goroutines float64
	heapInuse  float64 // the Go heap's spans in use, bytes
	agentRSS   int64
}

// soak is the soak mode: Config.Soak of mixed load against one server
// through the Go SDK and podid agent, watching the server's memory and
// goroutines.
func (r *run) soak(ctx context.Context) error {
	cfg := r.cfg
	warm := min(time.Minute, cfg.Soak/5)
	every := min(10*time.Second, max(cfg.Soak/30, time.Second))

	pod, err := r.startPodid(ctx, r.storeDSN())
	if err != nil {
		return err
	}
	c := newEKS(pod.url, cfg.Concurrency)
	cluster := "soak-" + r.id
	if err := createCluster(ctx, c, cluster); err != nil {
		return err
	}
	set := &throughputSet{cluster: cluster}
	for i := range soakPods {
		id, err := createAssociation(ctx, c, cluster, "bench", i)
		if err != nil {
			return err
		}
		set.ids = append(set.ids, id)
	}
	tokens, err := r.podTokens(ctx, pod.url, set)
	if err != nil {
		return err
	}
	ag, err := r.startAgent(ctx, pod.url, cluster)
	if err != nil {
		return err
	}
	hc := newHTTPClient(cfg.Concurrency)

	counts := make([]atomic.Int64, len(soakOps))
	var (
		errs    atomic.Int64
		errMu   sync.Mutex
		samples []string
	)
	fail := func(op string, err error) {
		if errs.Add(1) <= soakMaxErrors {
			errMu.Lock()
			samples = append(samples, fmt.Sprintf("%s: %v", op, err))
			errMu.Unlock()
		}
	}
	// Each worker paces itself to its share of --soak-rate.
	interval := time.Duration(float64(time.Second) * float64(cfg.Concurrency) / float64(cfg.SoakRate))
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			sw := &soakWorker{c: c, cluster: cluster, w: w, rng: rand.New(rand.NewPCG(uint64(w), 11))}
			next := time.Now()
			for loadCtx.Err() == nil {
				op := sw.pick()
				var err error
				if soakOps[op].name == "credentials" {
					_, err = getCredentials(loadCtx, hc, ag.url, tokens[sw.rng.IntN(len(tokens))])
				} else {
					err = sw.do(loadCtx, soakOps[op].name)
				}
				if err != nil && loadCtx.Err() == nil {
					fail(soakOps[op].name, err)
				}
				counts[op].Add(1)
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					_ = sleepCtx(loadCtx, d)
				} else {
					next = time.Now() // behind: do not burst to catch up
				}
			}
		})
	}

	start := time.Now()
	r.logf("soak: %v of mixed load at %d ops/s from %d workers; samples every %v, the first at %v",
		cfg.Soak, cfg.SoakRate, cfg.Concurrency, every, warm)
	var series []soakSample
	take := func() error {
		m, err := pod.memory()
		if err != nil {
			return err
		}
		g, err := pod.metrics(ctx, "go_goroutines", "go_memstats_heap_inuse_bytes")
		if err != nil {
			return err
		}
		am, err := ag.memory()
		if err != nil {
			return err
		}
		s := soakSample{at: time.Since(start), rss: m.RSS, goroutines: g["go_goroutines"],
			heapInuse: g["go_memstats_heap_inuse_bytes"], agentRSS: am.RSS}
		series = append(series, s)
		r.logf("soak %v: VmRSS %s (Go heap in use %s), goroutines %.0f, agent VmRSS %s, errors %d",
			s.at.Round(time.Second), mib(s.rss), mib(int64(s.heapInuse)), s.goroutines, mib(s.agentRSS), errs.Load())
		return nil
	}
	var first soakSample
	for at := warm; ; at += every {
		at = min(at, cfg.Soak)
		if err := sleepCtx(ctx, time.Until(start.Add(at))); err != nil {
			return err
		}
		if err := take(); err != nil {
			return err
		}
		if len(series) == 1 {
			first = series[0]
		}
		if at >= cfg.Soak {
			break
		}
	}
	last := series[len(series)-1]
	stopLoad()
	wg.Wait()
	elapsed := time.Since(start)

	var total int64
	for i := range counts {
		total += counts[i].Load()
	}
	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --soak %v: mixed load against one server\n", cfg.Soak)
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "store:    %s (%s, child process)\n", redactDSN(r.storeDSN()), r.serveCommand())
	fmt.Fprintf(out, "method:   %d workers (aws-sdk-go-v2 service/eks, keep-alive, no retries) paced to %d ops/s in all; each op drawn at random:\n", cfg.Concurrency, cfg.SoakRate)
	fmt.Fprintf(out, "          ")
	for i, op := range soakOps {
		fmt.Fprintf(out, "%s %d%%", op.name, op.weight)
		if i < len(soakOps)-1 {
			fmt.Fprint(out, ", ")
		}
	}
	fmt.Fprintf(out, "\n          (creates past %d live per worker delete the oldest first; credentials: GET /v1/credentials from podid agent,\n", soakChurn)
	fmt.Fprintf(out, "          %d pods' tokens); server VmRSS and go_goroutines (GET /metrics) read every %v, the first after %v\n", soakPods, every, warm)
	fmt.Fprintf(out, "ops:      %d in %v (%.0f/s):", total, elapsed.Round(time.Second), float64(total)/elapsed.Seconds())
	for i, op := range soakOps {
		fmt.Fprintf(out, " %s %d", op.name, counts[i].Load())
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "soak\tafter first\tat the end\tgoal\tresult\t")
	rssRatio := float64(last.rss) / float64(first.rss)
	fmt.Fprintf(tw, "server VmRSS (%v, %v)\t%s\t%s (%.2fx)\t<= %.2fx\t%s\t\n", first.at.Round(time.Second), last.at.Round(time.Second),
		mib(first.rss), mib(last.rss), rssRatio, goalSoakRSS, passMiss(rssRatio <= goalSoakRSS))
	fmt.Fprintf(tw, "  of which the Go heap in use\t%s\t%s\t\t\t\n", mib(int64(first.heapInuse)), mib(int64(last.heapInuse)))
	fmt.Fprintf(tw, "server goroutines\t%.0f\t%.0f\t<= +%d\t%s\t\n", first.goroutines, last.goroutines, goalSoakGoroutines,
		passMiss(last.goroutines-first.goroutines <= goalSoakGoroutines))
	fmt.Fprintf(tw, "errors\t\t%d\t0\t%s\t\n", errs.Load(), passMiss(errs.Load() == 0))
	fmt.Fprintf(tw, "agent VmRSS\t%s\t%s\t\t\t\n", mib(first.agentRSS), mib(last.agentRSS))
	var maxRSS int64
	var maxG float64
	for _, s := range series {
		maxRSS, maxG = max(maxRSS, s.rss), max(maxG, s.goroutines)
	}
	fmt.Fprintf(tw, "server peak of the samples: VmRSS, goroutines\t\t%s, %.0f\t\t\t\n", mib(maxRSS), maxG)
	tw.Flush()
	for _, s := range samples {
		fmt.Fprintf(out, "error:    %s\n", s)
	}
	return nil
}

// soakWorker is one worker's state: the associations it made and still
// has, oldest first.
type soakWorker struct {
	c       *eks.Client
	cluster string
	w       int
	rng     *rand.Rand
	live    []soakAssoc
	seq     int
}

// soakAssoc is an association a soak worker made, with its current role.
type soakAssoc struct {
	id, role string
}

// pick draws an operation by weight.
func (sw *soakWorker) pick() int {
	n := sw.rng.IntN(100)
	for i, op := range soakOps {
		if n < op.weight {
			return i
		}
		n -= op.weight
	}
	return 0
}

func (sw *soakWorker) do(ctx context.Context, op string) error {
	if len(sw.live) == 0 && op != "list" {
		op = "create"
	}
	switch op {
	case "create":
		if len(sw.live) >= soakChurn {
			if err := sw.delete(ctx, 0); err != nil {
				return err
			}
		}
		sw.seq++
		out, err := sw.c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName:    aws.String(sw.cluster),
			Namespace:      aws.String(fmt.Sprintf("soak-%d", sw.w)),
			ServiceAccount: aws.String(fmt.Sprintf("sa-%d", sw.seq)),
			RoleArn:        aws.String(roleA),
			Tags:           map[string]string{"soak": "yes"},
		})
		if err != nil {
			return err
		}
		sw.live = append(sw.live, soakAssoc{aws.ToString(out.Association.AssociationId), roleA})
		return nil
	case "update": // flips the role: an update must change something
		a := &sw.live[sw.rng.IntN(len(sw.live))]
		role := roleB
		if a.role == roleB {
			role = roleA
		}
		if _, err := sw.c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String(sw.cluster), AssociationId: aws.String(a.id), RoleArn: aws.String(role),
		}); err != nil {
			return err
		}
		a.role = role
		return nil
	case "delete":
		return sw.delete(ctx, sw.rng.IntN(len(sw.live)))
	case "describe":
		_, err := sw.c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
			ClusterName: aws.String(sw.cluster), AssociationId: aws.String(sw.live[sw.rng.IntN(len(sw.live))].id),
		})
		return err
	case "list":
		_, err := sw.c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
			ClusterName: aws.String(sw.cluster), Namespace: aws.String(fmt.Sprintf("soak-%d", sw.w)), MaxResults: aws.Int32(50),
		})
		return err
	}
	return fmt.Errorf("unknown soak operation %q", op)
}

// delete deletes the worker's i-th association.
func (sw *soakWorker) delete(ctx context.Context, i int) error {
	id := sw.live[i].id
	sw.live = append(sw.live[:i], sw.live[i+1:]...)
	_, err := sw.c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
		ClusterName: aws.String(sw.cluster), AssociationId: aws.String(id),
	})
	return err
}
