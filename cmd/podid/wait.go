package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/eksauth"
)

type waitOptions struct {
	admin         adminFlags
	revision      int64
	cluster       string
	associationID string
	timeout       time.Duration
}

func init() {
	o := &waitOptions{revision: -1}
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until an association change is in effect for credential requests",
		Long: `wait returns once a create, update or delete of a pod identity association is in
effect for EKS Auth's credential requests on the server (GET /podid/v1/wait): with
--cluster and --association-id, that association's latest change (or its
deletion); with --revision, every write up to that store revision; with neither,
every write made so far. Exit status 0 when in effect; 1 when --timeout passes first.
With several podid serve replicas, the answer is the replica's that served the
request (each has its own association cache).

Real EKS is eventually consistent and gives no such signal; podid serve's
--propagation-delay emulates the delay, and this command makes it visible.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWait(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.admin.register(f)
	f.Int64Var(&o.revision, "revision", -1, "store revision to wait for")
	f.StringVar(&o.cluster, "cluster", "", "cluster of the association")
	f.StringVar(&o.associationID, "association-id", "", "association whose latest change to wait for")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	rootCmd.AddCommand(cmd)
}

func runWait(ctx context.Context, o *waitOptions, stdout io.Writer) error {
	q := url.Values{}
	switch {
	case o.revision >= 0 && (o.cluster != "" || o.associationID != ""):
		return errors.New("use --revision or --cluster with --association-id, not both")
	case o.revision >= 0:
		q.Set("revision", strconv.FormatInt(o.revision, 10))
	case (o.cluster == "") != (o.associationID == ""):
		return errors.New("--cluster and --association-id go together")
	case o.associationID != "":
		q.Set("cluster", o.cluster)
		q.Set("associationId", o.associationID)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	deadline := time.Now().Add(o.timeout)
	for {
		// One request waits at most waitChunk: servers cut responses
		// that take longer than their write timeout.
		remaining := time.Until(deadline)
		q.Set("timeout", min(max(remaining, time.Millisecond), waitChunk).Round(time.Millisecond).String())
		var out eksauth.WaitOutput
		// The server answers by the timeout; allow for the round trip.
		err := o.admin.call(ctx, http.MethodGet, "/podid/v1/wait?"+q.Encode(), nil, &out, waitChunk+30*time.Second)
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == eksauth.CodeRequestTimeout && time.Until(deadline) > 0 {
			continue // the server resolves the selector again: at least as new
		}
		if err != nil {
			return fmt.Errorf("waiting: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "in effect: revision %d\n", out.Revision)
		return err
	}
}

// waitChunk bounds one wait request (podid serve's write timeout is 60 s);
// tests shorten it.
var waitChunk = 45 * time.Second
