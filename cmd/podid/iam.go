package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/admin"
)

// iamExplainOptions are podid iam explain's flags.
type iamExplainOptions struct {
	admin admin.ExplainInput
	flags adminFlags
	json  bool
}

func newIAMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam",
		Short: "Ask podid's IAM about pod identity",
	}
	o := &iamExplainOptions{}
	explain := &cobra.Command{
		Use:   "explain",
		Short: "Would this pod's credential request succeed? If not, which statement of which policy decides it",
		Long: `explain asks a podid server (its admin API, POST ` + admin.ExplainPath + `) to decide, without
making them, the role assumptions EKS Auth would make for a pod: the association role by
pods.eks.amazonaws.com (its trust policy with aws:SourceArn, aws:SourceAccount and the
session tags; sts:TagSession when tagged), then the target role, if any, by the association
role's session (its trust policy with sts:ExternalId and the transitive tags). It prints the
answer and the deciding policy and statement (or the action no statement allowed), and exits
1 when the request would be refused.

The request is signed as the other admin commands' are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIAMExplain(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := explain.Flags()
	o.flags.register(f)
	f.StringVar(&o.admin.ClusterName, "cluster", "", "the cluster (required)")
	f.StringVar(&o.admin.AssociationID, "association-id", "", "the association (else --namespace and --service-account)")
	f.StringVar(&o.admin.Namespace, "namespace", "", "the pod's namespace")
	f.StringVar(&o.admin.ServiceAccount, "service-account", "", "the pod's service account")
	f.StringVar(&o.admin.PodName, "pod-name", "", "the pod's name (in its session tags)")
	f.StringVar(&o.admin.PodUID, "pod-uid", "", "the pod's UID (in its session tags)")
	f.BoolVar(&o.json, "json", false, "print the server's answer as JSON")
	cmd.AddCommand(explain)
	return cmd
}

// errRefused makes podid iam explain exit 1 without a second message.
var errRefused = errors.New("the credential request would be refused")

func runIAMExplain(ctx context.Context, o *iamExplainOptions, stdout io.Writer) error {
	if o.admin.ClusterName == "" {
		return errors.New("--cluster is required")
	}
	c, err := o.flags.client()
	if err != nil {
		return err
	}
	x, err := c.Explain(ctx, o.admin)
	if err != nil {
		return fmt.Errorf("explaining: %w", err)
	}
	if o.json {
		b, _ := json.MarshalIndent(x, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printExplanation(stdout, x)
	}
	if !x.Allowed {
		return errRefused
	}
	return nil
}

func printExplanation(w io.Writer, x admin.ExplainOutput) {
	verdict := "allowed"
	if !x.Allowed {
		verdict = "refused"
	}
	fmt.Fprintf(w, "%s: %s (association %s, iam %s)\n", verdict, x.Reason, x.AssociationID, x.IAM)
	for _, h := range x.Hops {
		fmt.Fprintf(w, "\n%s %s\n  principal: %s\n  %s %s: %s\n", h.Hop, h.Role, h.Principal, h.Decision, h.Action, h.Reason)
		if len(h.Statement) > 0 {
			fmt.Fprintf(w, "  statement: %s\n", strings.Join(strings.Fields(string(h.Statement)), " "))
		}
	}
}
