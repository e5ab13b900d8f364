package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// goalMoto is issue 11's goal for DescribeCluster and ListClusters: podid's
// throughput over moto's server's.
const goalMoto = 30.0

// motoResult is the DescribeCluster/ListClusters comparison.
type motoResult struct {
	bin   string
	setup time.Duration
	// rates[op][target] holds ops/s per round.
	rates map[string]map[string][]float64
}

// compareMoto starts moto's server, creates clusters in it through the SDK
// and compares DescribeCluster and ListClusters throughput with podid's.
//
// A canned server returning podid's own DescribeCluster and ListClusters
// response bytes runs in the same rounds: the most any server could reach
// with this client on this machine, so the ratio to moto can be read
// against the ratio the machine allows.
func (r *run) compareMoto(ctx context.Context, podURL string, podC *eks.Client, clusters []string) (*motoResult, error) {
	cfg := r.cfg
	desc, err := rawCall(ctx, "GET", podURL+"/clusters/"+url.PathEscape(clusters[0]), "")
	if err != nil {
		return nil, fmt.Errorf("capturing podid's DescribeCluster response: %w", err)
	}
	list, err := rawCall(ctx, "GET", podURL+"/clusters", "")
	if err != nil {
		return nil, fmt.Errorf("capturing podid's ListClusters response: %w", err)
	}
	canned, err := r.startCanned(ctx, []CannedResponse{
		{Pattern: "GET /clusters/{name}", Body: desc},
		{Pattern: "GET /clusters", Body: list},
	})
	if err != nil {
		return nil, err
	}
	defer r.stop(canned)

	bin, err := exec.LookPath(cfg.MotoBin)
	if err != nil {
		return nil, fmt.Errorf("moto's server: %w (install moto[server] or pass --no-moto)", err)
	}
	moto, err := startChild(ctx, "moto", cfg.WorkDir, bin, []string{"-H", "{host}", "-p", "{port}"}, "/moto-api/", 2*time.Minute)
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, moto)
	defer r.stop(moto)
	motoC := newEKS(moto.url, cfg.Concurrency)
	res := &motoResult{bin: bin, rates: map[string]map[string][]float64{"DescribeCluster": {}, "ListClusters": {}}}
	t0 := time.Now()
	if _, err := drive(ctx, phase{Count: len(clusters), Workers: cfg.Concurrency}, func(ctx context.Context, _, seq int) error {
		return createCluster(ctx, motoC, clusters[seq])
	}); err != nil {
		return nil, fmt.Errorf("moto: %w", err)
	}
	res.setup = time.Since(t0)
	r.logf("created %d clusters in moto in %v", len(clusters), res.setup.Round(time.Millisecond))

	targets := []target{{"podid", podC, 0}, {"moto", motoC, moto.cmd.Process.Pid}, {"canned", newEKS(canned.url, cfg.Concurrency), canned.cmd.Process.Pid}}
	ops := map[string]func(c *eks.Client) func(ctx context.Context, w, seq int) error{
		"DescribeCluster": func(c *eks.Client) func(ctx context.Context, w, seq int) error {
			return func(ctx context.Context, _, seq int) error {
				_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(clusters[seq%len(clusters)])})
				return err
			}
		},
		"ListClusters": func(c *eks.Client) func(ctx context.Context, w, seq int) error {
			return func(ctx context.Context, _, _ int) error {
				out, err := c.ListClusters(ctx, &eks.ListClustersInput{})
				if err == nil && len(out.Clusters) == 0 {
					err = fmt.Errorf("ListClusters returned no clusters")
				}
				return err
			}
		},
	}
	ph := phase{Warmup: cfg.Warmup, Duration: cfg.Duration, Count: cfg.Requests, Workers: cfg.Concurrency}
	for round := range cfg.Rounds {
		for _, op := range []string{"DescribeCluster", "ListClusters"} {
			order := targets
			if round%2 == 1 {
				order = []target{targets[2], targets[1], targets[0]}
			}
			for _, t := range order {
				o, err := drive(ctx, ph, ops[op](t.client))
				if err != nil {
					return nil, fmt.Errorf("%s against %s: %w", op, t.name, err)
				}
				res.rates[op][t.name] = append(res.rates[op][t.name], o.OpsPerSec())
				r.logf("round %d: %-15s %-5s %8.1f ops/s (%d ops in %v)", round+1, op, t.name, o.OpsPerSec(), o.Ops, o.Elapsed.Round(time.Millisecond))
			}
		}
	}
	return res, nil
}

// print writes the comparison's table.
func (m *motoResult) print(out io.Writer, clusters, rounds int) {
	fmt.Fprintf(out, "moto:     %s, the same %d clusters created in it through the SDK (in %v); phases as podid's, %d rounds alternating, median\n",
		m.bin, clusters, m.setup.Round(time.Millisecond), rounds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tpodid ops/s\tmoto ops/s\tpodid/moto\tgoal\tresult\tcanned ops/s\tcanned/moto (the most this machine allows)\t")
	for _, op := range []string{"DescribeCluster", "ListClusters"} {
		p, mo, c := median(m.rates[op]["podid"]), median(m.rates[op]["moto"]), median(m.rates[op]["canned"])
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t>= %.0f\t%s\t%.0f\t%.1f\t\n", op, p, mo, p/mo, goalMoto, passMiss(p/mo >= goalMoto), c, c/mo)
	}
	tw.Flush()
}
