package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/admin"
)

type waitOptions struct {
	admin         adminFlags
	revision      int64
	cluster       string
	associationID string
	timeout       time.Duration
	chunk         time.Duration // one request's wait (tests shorten it); 0: the client's default
}

func newWaitCmd() *cobra.Command {
	o := &waitOptions{revision: -1}
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until an association change is in effect for credential requests",
		Long: `wait returns once a create, update or delete of a pod identity association is in
effect for EKS Auth's credential requests on the server (GET /podid/v1/wait): with
--cluster and --association-id, that association's latest change (or its
deletion); with --revision, every write up to that store revision; with neither,
every write made so far. Exit status 0 when in effect; 1 when --timeout passes first,
and 1 with ResourceNotFoundException when the cluster or the association does not
exist (a deletion is waited for while the change feed remembers it: its last
10,000 revisions).
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
	return cmd
}

func runWait(ctx context.Context, o *waitOptions, stdout io.Writer) error {
	switch {
	case o.revision >= 0 && (o.cluster != "" || o.associationID != ""):
		return errors.New("use --revision or --cluster with --association-id, not both")
	case (o.cluster == "") != (o.associationID == ""):
		return errors.New("--cluster and --association-id go together")
	case o.timeout <= 0:
		return fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	c, err := o.admin.client()
	if err != nil {
		return err
	}
	c.WaitChunk = o.chunk
	out, err := c.Wait(ctx, admin.WaitInput{Revision: o.revision, Cluster: o.cluster, AssociationID: o.associationID}, o.timeout)
	if err != nil {
		return fmt.Errorf("waiting: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "in effect: revision %d\n", out.Revision)
	return err
}
