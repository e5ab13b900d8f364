package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/uuid"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
)

// Goals of issue 11 for the read paths.
const (
	goalEKSAuth  = 0.5
	goalAgentHit = 0.9
)

// readClusters is how many clusters the default and --reads modes compare
// DescribeCluster and ListClusters on (the scale mode uses all of its own).
const readClusters = 20

// benchKeyID and benchSecret sign every request of the bench (podid runs
// with --auth none: they are not checked, only the signing is measured).
const (
	benchKeyID  = "AKIDPODIDBENCH"
	benchSecret = "podid-bench-secret"
)

// opTarget is one side of a comparison: a server process and the
// operation sent to it.
type opTarget struct {
	name string
	pid  int // the serving process, for its CPU time
	do   func(ctx context.Context, w, seq int) error
}

// comparison is one operation measured on two targets in alternating
// rounds: podid's side first, the baseline second.
type comparison struct {
	op    string
	goal  float64
	names [2]string
	rates [2][]float64
	cpus  [2][]float64 // server CPU µs per operation, per round
	lats  [2][]time.Duration
}

// ratio is the median throughput of the first side over the second's.
func (c *comparison) ratio() float64 {
	b := median(c.rates[1])
	if b == 0 {
		return 0
	}
	return median(c.rates[0]) / b
}

// spread is the lowest and highest per-round ratio (rounds pair up in
// order).
func (c *comparison) spread() (lo, hi float64) {
	for i := range min(len(c.rates[0]), len(c.rates[1])) {
		if c.rates[1][i] == 0 {
			continue
		}
		x := c.rates[0][i] / c.rates[1][i]
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}

// slicesPerRound is how many alternating slices a round of compare cuts
// each side's measured time into: load from other processes changes over
// seconds, so sides taking turns every few hundred milliseconds see the
// same machine, and a round's ratio varies far less than with one phase
// per side.
const slicesPerRound = 6

// compare runs op against both targets for cfg.Rounds rounds. A round
// warms both up, then measures them in slicesPerRound alternating slices
// (the order flipping every slice) of Duration/slicesPerRound each (or
// Requests/slicesPerRound operations), and records each side's throughput
// over its slices, its server CPU per operation and its latencies.
func (r *run) compare(ctx context.Context, op string, goal float64, targets [2]opTarget) (*comparison, error) {
	cfg := r.cfg
	c := &comparison{op: op, goal: goal, names: [2]string{targets[0].name, targets[1].name}}
	slice := phase{Duration: cfg.Duration / slicesPerRound, Workers: cfg.Concurrency, Latencies: true}
	if cfg.Requests > 0 {
		slice.Count = max(1, cfg.Requests/slicesPerRound)
	}
	for round := range cfg.Rounds {
		var ops, all [2]int
		var elapsed, cpu [2]time.Duration
		for _, t := range targets {
			if _, err := drive(ctx, phase{Duration: cfg.Warmup, Workers: cfg.Concurrency}, t.do); err != nil {
				return nil, fmt.Errorf("%s against %s (warm-up): %w", op, t.name, err)
			}
		}
		for sl := range slicesPerRound {
			order := []int{0, 1}
			if (round+sl)%2 == 1 {
				order = []int{1, 0}
			}
			for _, i := range order {
				t := targets[i]
				cpu0, err := cpuTime(t.pid)
				if err != nil {
					return nil, err
				}
				o, err := drive(ctx, slice, t.do)
				if err != nil {
					return nil, fmt.Errorf("%s against %s: %w", op, t.name, err)
				}
				cpu1, err := cpuTime(t.pid)
				if err != nil {
					return nil, err
				}
				ops[i] += o.Ops
				all[i] += o.All
				elapsed[i] += o.Elapsed
				cpu[i] += cpu1 - cpu0
				c.lats[i] = append(c.lats[i], o.Lat...)
			}
		}
		for i, t := range targets {
			rate := float64(ops[i]) / max(elapsed[i].Seconds(), 1e-9)
			perOp := float64(cpu[i].Microseconds()) / float64(max(all[i], 1))
			c.rates[i] = append(c.rates[i], rate)
			c.cpus[i] = append(c.cpus[i], perOp)
			r.logf("round %d: %-15s %-6s %8.0f ops/s (%d ops in %v, %d slices), server CPU %.0f us/op",
				round+1, op, t.name, rate, ops[i], elapsed[i].Round(time.Millisecond), slicesPerRound, perOp)
		}
	}
	return c, nil
}

// printComparisons writes one table row per comparison.
func printComparisons(out io.Writer, cs []*comparison) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tpodid ops/s\tbaseline ops/s\tratio\tgoal\tresult\tratio range\tpodid CPU us/op\tbaseline CPU us/op\tpodid p50/p99\tbaseline p50/p99\t")
	for _, c := range cs {
		lo, hi := c.spread()
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t>= %.1f\t%s\t%.2f-%.2f\t%.0f\t%.0f\t%s\t%s\t\n", c.op,
			median(c.rates[0]), median(c.rates[1]), c.ratio(), c.goal, passMiss(c.ratio() >= c.goal), lo, hi,
			median(c.cpus[0]), median(c.cpus[1]), p50p99(c.lats[0]), p50p99(c.lats[1]))
	}
	tw.Flush()
}

// readResults are the credential-path comparisons and the moto
// comparison of the default and --reads modes.
type readResults struct {
	comparisons []*comparison
	eksAuthSize int // bytes of the EKS Auth response
	agentSize   int // bytes of the agent's credentials response
	moto        *motoResult
	clusters    int
}

// readPhases measures the credential path on set's associations (EKS
// Auth without the agent, then the agent's cache hits), each against a
// canned server answering the same bytes, then DescribeCluster and
// ListClusters against moto's server (unless --no-moto).
func (r *run) readPhases(ctx context.Context, pod *child, podC *eks.Client, set *throughputSet) (*readResults, error) {
	res := &readResults{}
	tokens, err := r.podTokens(ctx, pod.url, set)
	if err != nil {
		return nil, err
	}
	ea, err := r.compareEKSAuth(ctx, pod, set.cluster, tokens, res)
	if err != nil {
		return nil, err
	}
	ag, err := r.compareAgent(ctx, pod, set.cluster, tokens, res)
	if err != nil {
		return nil, err
	}
	res.comparisons = []*comparison{ea, ag}
	if !r.cfg.NoMoto {
		clusters := []string{set.cluster}
		for i := 1; i < readClusters; i++ {
			clusters = append(clusters, fmt.Sprintf("%s-%02d", set.cluster, i))
		}
		if err := r.createClusters(ctx, podC, clusters[1:]); err != nil {
			return nil, err
		}
		if res.moto, err = r.compareMoto(ctx, pod.url, podC, clusters); err != nil {
			return nil, err
		}
		res.clusters = len(clusters)
	}
	return res, nil
}

// print writes the read phases' part of the report.
func (res *readResults) print(out io.Writer, cfg Config, extra ...*comparison) {
	fmt.Fprintf(out, "EKS Auth: AssumeRoleForPodIdentity through the node agent's EKS Auth client (SigV4-signed), %d workers, one pod token each,\n", cfg.Concurrency)
	fmt.Fprintf(out, "          no agent cache: podid verifies the token and seals a session every call (IAM as serve's default); baseline: the\n")
	fmt.Fprintf(out, "          canned server answering podid's own response bytes (%d B)\n", res.eksAuthSize)
	fmt.Fprintf(out, "agent:    GET /v1/credentials over HTTP (net/http client, keep-alive) to podid agent with every token cached; baseline: the\n")
	fmt.Fprintf(out, "          canned server answering the agent's own response bytes (%d B) with the agent's headers\n", res.agentSize)
	fmt.Fprintf(out, "rounds:   each warms both sides up, then alternates them in %d slices of the phase time / %d (the order flipping each\n", slicesPerRound, slicesPerRound)
	fmt.Fprintf(out, "          slice), so both see the same machine; a side's rate is its operations over its slices; median of %d rounds;\n", cfg.Rounds)
	fmt.Fprintf(out, "          ratio range: the lowest and highest round\n")
	fmt.Fprintln(out)
	printComparisons(out, append(extra, res.comparisons...))
	if res.moto != nil {
		fmt.Fprintln(out)
		res.moto.print(out, res.clusters, cfg.Rounds)
	} else {
		fmt.Fprintln(out, "\nmoto:     comparison skipped (--no-moto)")
	}
}

// podTokens lets the roles of set's associations be assumed (IAM roles
// with EKS Pod Identity's trust policy, for serve's default --iam
// enforce) and mints one pod token per association through podid's
// admin API.
func (r *run) podTokens(ctx context.Context, podURL string, set *throughputSet) ([]string, error) {
	ic := iam.New(iam.Options{
		Region:       benchRegion,
		BaseEndpoint: aws.String(podURL),
		Credentials:  credentials.NewStaticCredentialsProvider(benchKeyID, benchSecret, ""),
		Retryer:      aws.NopRetryer{},
	})
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` +
		`"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	for _, name := range []string{"bench-a", "bench-b"} {
		_, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		var exists *iamtypes.EntityAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return nil, fmt.Errorf("creating IAM role %s: %w", name, err)
		}
	}
	ac := &admin.Client{Endpoint: podURL, Region: benchRegion}
	var tokens []string
	for i := range set.ids {
		out, err := ac.MintToken(ctx, set.cluster, admin.MintTokenInput{
			Namespace: "bench", ServiceAccount: fmt.Sprintf("sa-%d", i),
			PodName: fmt.Sprintf("bench-%d", i), PodUID: uuid.NewString(),
		})
		if err != nil {
			return nil, fmt.Errorf("minting a pod token: %w", err)
		}
		tokens = append(tokens, out.Token)
	}
	return tokens, nil
}

// startAgent starts podid agent for cluster against the server at
// podURL, signing with the bench's keys, its probes on its listen address.
func (r *run) startAgent(ctx context.Context, podURL, cluster string) (*child, error) {
	dir := r.cfg.WorkDir
	ag, err := startChildEnv(ctx, "agent", dir, r.cfg.ServerBin,
		[]string{"agent", "--server", podURL, "--cluster", cluster, "--region", benchRegion,
			"--listen", "{addr}", "--probe-listen", "", "--log-level", "warn"},
		[]string{
			"AWS_ACCESS_KEY_ID=" + benchKeyID, "AWS_SECRET_ACCESS_KEY=" + benchSecret, "AWS_SESSION_TOKEN=",
			"AWS_PROFILE=", "AWS_REGION=" + benchRegion, "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-aws-credentials"),
		},
		"/healthz", time.Minute)
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, ag)
	return ag, nil
}

// getCredentials asks the agent at base for a pod's credentials, as an
// SDK's container credentials provider does.
func getCredentials(ctx context.Context, hc *http.Client, base, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/credentials", nil)
	if err != nil {
		return nil, err
	}
	req.Header["Authorization"] = []string{token}
	return doOK(hc, req)
}

// newEKSAuth returns the node agent's EKS Auth client for url, one attempt
// per call.
func newEKSAuth(url string, workers int) (*eksauthclient.Client, error) {
	return eksauthclient.New(eksauthclient.Config{
		Endpoint:    url,
		Region:      benchRegion,
		Credentials: credentials.NewStaticCredentialsProvider(benchKeyID, benchSecret, ""),
		HTTPClient:  newHTTPClient(workers),
		MaxAttempts: 1,
		UserAgent:   "podid-bench",
	})
}

// newHTTPClient keeps an idle connection for every worker.
func newHTTPClient(workers int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns:        2 * workers,
		MaxIdleConnsPerHost: 2 * workers,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// compareEKSAuth compares AssumeRoleForPodIdentity on podid with a canned
// server answering podid's response bytes.
func (r *run) compareEKSAuth(ctx context.Context, pod *child, cluster string, tokens []string, res *readResults) (*comparison, error) {
	body, err := json.Marshal(map[string]string{"token": tokens[0]})
	if err != nil {
		return nil, err
	}
	resp, err := rawCall(ctx, "POST", pod.url+"/clusters/"+url.PathEscape(cluster)+"/assume-role-for-pod-identity", string(body))
	if err != nil {
		return nil, fmt.Errorf("capturing podid's AssumeRoleForPodIdentity response: %w", err)
	}
	res.eksAuthSize = len(resp)
	canned, err := r.startCanned(ctx, []CannedResponse{{Pattern: "POST /clusters/{name}/assume-role-for-pod-identity", Body: resp}})
	if err != nil {
		return nil, err
	}
	defer r.stop(canned)
	op := func(url string) (func(ctx context.Context, w, seq int) error, error) {
		c, err := newEKSAuth(url, r.cfg.Concurrency)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, w, _ int) error {
			_, err := c.AssumeRoleForPodIdentity(ctx, cluster, tokens[w%len(tokens)])
			return err
		}, nil
	}
	podOp, err := op(pod.url)
	if err != nil {
		return nil, err
	}
	cannedOp, err := op(canned.url)
	if err != nil {
		return nil, err
	}
	return r.compare(ctx, "EKS Auth", goalEKSAuth, [2]opTarget{
		{"podid", pod.cmd.Process.Pid, podOp},
		{"canned", canned.cmd.Process.Pid, cannedOp},
	})
}

// compareAgent starts podid agent against podid, caches every token's
// credentials, and compares its cache hits with a canned server answering
// the same bytes.
func (r *run) compareAgent(ctx context.Context, pod *child, cluster string, tokens []string, res *readResults) (*comparison, error) {
	ag, err := r.startAgent(ctx, pod.url, cluster)
	if err != nil {
		return nil, err
	}
	defer r.stop(ag)
	hc := newHTTPClient(r.cfg.Concurrency)
	get := func(ctx context.Context, base, token string) ([]byte, error) {
		return getCredentials(ctx, hc, base, token)
	}
	var first []byte
	for i, tok := range tokens { // every token's credentials cached
		b, err := get(ctx, ag.url, tok)
		if err != nil {
			return nil, fmt.Errorf("warming the agent's cache: %w", err)
		}
		if i == 0 {
			first = b
		}
	}
	res.agentSize = len(first)
	canned, err := r.startCanned(ctx, []CannedResponse{{Pattern: "GET /v1/credentials", Body: first, Plain: true}})
	if err != nil {
		return nil, err
	}
	defer r.stop(canned)
	op := func(base string) func(ctx context.Context, w, seq int) error {
		return func(ctx context.Context, w, _ int) error {
			_, err := get(ctx, base, tokens[w%len(tokens)])
			return err
		}
	}
	return r.compare(ctx, "agent cache hit", goalAgentHit, [2]opTarget{
		{"agent", ag.cmd.Process.Pid, op(ag.url)},
		{"canned", canned.cmd.Process.Pid, op(canned.url)},
	})
}

// reads is the --reads mode: the default mode's read comparisons alone.
func (r *run) reads(ctx context.Context) error {
	cfg := r.cfg
	pod, err := r.startPodid(ctx, r.storeDSN())
	if err != nil {
		return err
	}
	podC := newEKS(pod.url, cfg.Concurrency)
	set, err := r.prepareThroughput(ctx, podC)
	if err != nil {
		return err
	}
	path := pod.url + "/clusters/" + url.PathEscape(set.cluster) + "/pod-identity-associations/" + url.PathEscape(set.ids[0])
	desc, err := rawCall(ctx, "GET", path, "")
	if err != nil {
		return fmt.Errorf("capturing podid's Describe response: %w", err)
	}
	canned, err := r.startCanned(ctx, []CannedResponse{{Pattern: "GET /clusters/{name}/pod-identity-associations/{id}", Body: desc}})
	if err != nil {
		return err
	}
	describe := func(c *eks.Client) func(ctx context.Context, w, seq int) error {
		return func(ctx context.Context, _, seq int) error {
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String(set.cluster), AssociationId: aws.String(set.ids[seq%len(set.ids)]),
			})
			return err
		}
	}
	dc, err := r.compare(ctx, "Describe", goalDescribe, [2]opTarget{
		{"podid", pod.cmd.Process.Pid, describe(podC)},
		{"canned", canned.cmd.Process.Pid, describe(newEKS(canned.url, cfg.Concurrency))},
	})
	if err != nil {
		return err
	}
	if err := r.stop(canned); err != nil {
		return err
	}
	res, err := r.readPhases(ctx, pod, podC, set)
	if err != nil {
		return err
	}
	out := cfg.Out
	fmt.Fprintf(out, "\npodid bench --reads: the read paths against canned servers answering the same bytes, and against moto\n")
	fmt.Fprintf(out, "command:  %s\n", cfg.CommandLine)
	fmt.Fprintf(out, "machine:  %s\n", r.machine())
	fmt.Fprintf(out, "store:    %s (%s, child process pid %d)\n", redactDSN(r.storeDSN()), r.serveCommand(), pod.cmd.Process.Pid)
	fmt.Fprintf(out, "Describe: aws-sdk-go-v2 service/eks, %d workers sharing one client, static credentials (SigV4-signed), no retries, keep-alive;\n", cfg.Concurrency)
	fmt.Fprintf(out, "          baseline: podid bench canned-server returning podid's own Describe bytes (%d B) with a fresh X-Amzn-RequestId\n", len(desc))
	if cfg.Requests > 0 {
		fmt.Fprintf(out, "phases:   %d requests per side and round after %v warm-up\n", cfg.Requests, cfg.Warmup)
	} else {
		fmt.Fprintf(out, "phases:   %v per side and round after %v warm-up\n", cfg.Duration, cfg.Warmup)
	}
	res.print(out, cfg, dc)
	return nil
}
