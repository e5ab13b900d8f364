package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/audit"
)

// auditOptions are podid audit's flags.
type auditOptions struct {
	adminFlags
	output         string
	cluster        string
	namespace      string
	serviceAccount string
	eventName      string
	outcome        string
	since          time.Duration
	limit          int
	follow         bool
	pollInterval   time.Duration
}

func newAuditCmd() *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the audit trail (credential decisions and writes), as a table or JSON lines",
		Long: `audit reads podid's audit trail through CloudTrail's LookupEvents (the admin keys sign
the calls, as for podid token) and prints it oldest first: a table, or one CloudTrail record
per line with --output json. Filters: --event-name (asked of the server), --cluster,
--namespace, --service-account and --outcome (Success, Failure, or an error code such as
AccessDeniedException), over the events since --since. --follow keeps printing new events
until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.adminFlags.register(f)
	f.StringVar(&o.output, "output", "table", "table or json (one CloudTrail record per line)")
	f.StringVar(&o.cluster, "cluster", "", "only events about this cluster")
	f.StringVar(&o.namespace, "namespace", "", "only credential requests from this namespace")
	f.StringVar(&o.serviceAccount, "service-account", "", "only credential requests from this service account")
	f.StringVar(&o.eventName, "event-name", "", "only events of this name (e.g. AssumeRoleForPodIdentity)")
	f.StringVar(&o.outcome, "outcome", "", "only events with this outcome: Success, Failure, or an error code")
	f.DurationVar(&o.since, "since", time.Hour, "how far back to read")
	f.IntVar(&o.limit, "limit", 1000, "print at most this many of the newest matching events (before --follow's)")
	f.BoolVar(&o.follow, "follow", false, "keep printing new events until interrupted")
	f.DurationVar(&o.pollInterval, "poll-interval", 2*time.Second, "with --follow, how often to ask for new events")
	return cmd
}

func (o *auditOptions) check() error {
	var problems []string
	if o.output != "table" && o.output != "json" {
		problems = append(problems, fmt.Sprintf("--output %q: use table or json", o.output))
	}
	if o.since <= 0 || o.limit <= 0 || o.pollInterval <= 0 {
		problems = append(problems, "--since, --limit and --poll-interval must be positive")
	}
	if o.endpoint == "" {
		problems = append(problems, "--endpoint is required")
	}
	if len(problems) > 0 {
		return errors.New("invalid flags:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}

// trailEvent is a LookupEvents event with its record decoded.
type trailEvent struct {
	id   string
	time time.Time
	raw  string
	rec  audit.Record
}

func (o *auditOptions) run(ctx context.Context, w io.Writer) error {
	creds, err := o.credentials()
	if err != nil {
		return err
	}
	if creds == nil {
		creds = aws.AnonymousCredentials{}
	}
	client := cloudtrail.New(cloudtrail.Options{Region: o.region, BaseEndpoint: aws.String(o.endpoint), Credentials: creds})
	p := newAuditPrinter(o.output, w)
	seen := map[string]time.Time{}
	since := time.Now().Add(-o.since)
	events, err := o.fetch(ctx, client, since, o.limit)
	if err != nil {
		return err
	}
	for _, e := range events {
		seen[e.id] = e.time
		p.print(e)
	}
	p.flush()
	for o.follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.pollInterval):
		}
		// Events of the last seconds may arrive late (batched appends,
		// other replicas): ask again from a little before the newest seen.
		from := since
		for _, t := range seen {
			if t.After(from) {
				from = t
			}
		}
		from = from.Add(-10 * time.Second)
		events, err := o.fetch(ctx, client, from, 10*o.limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range events {
			if _, dup := seen[e.id]; dup {
				continue
			}
			seen[e.id] = e.time
			p.print(e)
		}
		p.flush()
		for id, t := range seen { // bounded: forget what no later ask returns
			if t.Before(from.Add(-time.Minute)) {
				delete(seen, id)
			}
		}
	}
	return nil
}

// fetch reads the matching events since start, at most limit of the
// newest, oldest first.
func (o *auditOptions) fetch(ctx context.Context, client *cloudtrail.Client, start time.Time, limit int) ([]trailEvent, error) {
	in := &cloudtrail.LookupEventsInput{StartTime: aws.Time(start), MaxResults: aws.Int32(50)}
	if o.eventName != "" {
		in.LookupAttributes = []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String(o.eventName)}}
	}
	var out []trailEvent
	pages := cloudtrail.NewLookupEventsPaginator(client, in)
	for n := 0; pages.HasMorePages() && len(out) < limit && n < 10000; n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the audit trail: %w", err)
		}
		for _, e := range page.Events {
			te := trailEvent{id: aws.ToString(e.EventId), time: aws.ToTime(e.EventTime), raw: aws.ToString(e.CloudTrailEvent)}
			if err := json.Unmarshal([]byte(te.raw), &te.rec); err != nil {
				continue // not podid's record shape
			}
			if o.matches(te.rec) && len(out) < limit {
				out = append(out, te)
			}
		}
	}
	slices.Reverse(out)
	return out, nil
}

// matches applies the filters LookupEvents does not take.
func (o *auditOptions) matches(r audit.Record) bool {
	p := r.RequestParameters
	str := func(k string) string { s, _ := p[k].(string); return s }
	if o.cluster != "" {
		found := str("clusterName") == o.cluster || str("name") == o.cluster || str("cluster") == o.cluster
		for _, res := range r.Resources {
			found = found || strings.HasSuffix(res.ARN, ":cluster/"+o.cluster) || strings.Contains(res.ARN, ":podidentityassociation/"+o.cluster+"/")
		}
		if !found {
			return false
		}
	}
	if o.namespace != "" && str("namespace") != o.namespace {
		return false
	}
	if o.serviceAccount != "" && str("serviceAccount") != o.serviceAccount {
		return false
	}
	switch oc := outcomeOf(r); {
	case o.outcome == "":
	case strings.EqualFold(o.outcome, "failure") || strings.EqualFold(o.outcome, "refused"):
		return oc != "Success"
	default:
		return strings.EqualFold(o.outcome, oc)
	}
	return true
}

func outcomeOf(r audit.Record) string {
	if r.ErrorCode != "" {
		return r.ErrorCode
	}
	return "Success"
}

// auditPrinter prints events as a table or JSON lines.
type auditPrinter struct {
	json bool
	w    io.Writer
	tw   *tabwriter.Writer
	head bool
}

func newAuditPrinter(output string, w io.Writer) *auditPrinter {
	return &auditPrinter{json: output == "json", w: w, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

func (p *auditPrinter) print(e trailEvent) {
	if p.json {
		fmt.Fprintln(p.w, e.raw)
		return
	}
	if !p.head {
		fmt.Fprintln(p.tw, "TIME\tEVENT\tOUTCOME\tCALLER\tSUBJECT\tDETAIL")
		p.head = true
	}
	r := e.rec
	fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.time.UTC().Format(time.RFC3339), r.EventName, outcomeOf(r),
		orDash(r.UserIdentity.ARN), orDash(subject(r)), orDash(detail(r)))
}

func (p *auditPrinter) flush() {
	if !p.json {
		p.tw.Flush()
	}
}

// subject is what the event is about: a pod's cluster/namespace/service
// account/pod, else the first resource.
func subject(r audit.Record) string {
	p := r.RequestParameters
	str := func(k string) string { s, _ := p[k].(string); return s }
	if ns := str("namespace"); ns != "" {
		cluster := str("clusterName")
		if cluster == "" {
			cluster = str("name")
		}
		s := cluster + "/" + ns + "/" + str("serviceAccount")
		if pod := str("podName"); pod != "" {
			s += "/" + pod
		}
		return s
	}
	if len(r.Resources) > 0 {
		return r.Resources[0].ARN
	}
	return str("name") // CreateCluster names its cluster in the body
}

// detail is a refusal's reason, or what a credential request got.
func detail(r audit.Record) string {
	x := r.AdditionalEventData
	str := func(k string) string { s, _ := x[k].(string); return s }
	if r.ErrorCode != "" {
		if reason := str("reason"); reason != "" {
			d := reason
			if rd := str("reasonDetail"); rd != "" {
				d += ": " + rd
			}
			return d
		}
		return r.ErrorMessage
	}
	if role := str("roleArn"); role != "" {
		d := "role " + role
		if t := str("targetRoleArn"); t != "" {
			d += " -> " + t
		}
		return d
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
