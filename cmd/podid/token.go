package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/admin"
)

type tokenOptions struct {
	admin     adminFlags
	cluster   string
	in        admin.MintTokenInput
	expiresIn time.Duration
	output    string
}

func newTokenCmd() *cobra.Command {
	o := &tokenOptions{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a service-account token for a pod of a podid-issued cluster (development and tests)",
		Long: `token asks a podid server (POST /podid/v1/clusters/NAME/tokens, admin identity only)
for a token shaped like the one the kubelet projects into pods for EKS Pod Identity:
RS256, audience pods.eks.amazonaws.com, issuer the cluster's podid issuer, and the
kubernetes.io claims. Exchange it with EKS Auth's AssumeRoleForPodIdentity, or write
it to the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names for the node agent.

The token is written without a trailing newline, as the kubelet writes it, to
stdout or to --output FILE; on any failure nothing is written and the exit status
is 1, so "podid token ... > file" is safe.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runToken(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.admin.register(f)
	f.StringVar(&o.cluster, "cluster", "", "cluster name (required)")
	f.StringVar(&o.in.Namespace, "namespace", "", "pod namespace (required)")
	f.StringVar(&o.in.ServiceAccount, "service-account", "", "service account name (required)")
	f.StringVar(&o.in.PodName, "pod-name", "", "pod name (required)")
	f.StringVar(&o.in.PodUID, "pod-uid", "", "pod UID (required)")
	f.StringVar(&o.in.ServiceAccountUID, "service-account-uid", "", "service account UID")
	f.StringVar(&o.in.NodeName, "node-name", "", "node the pod runs on (a node-bound token)")
	f.DurationVar(&o.expiresIn, "expires-in", 24*time.Hour, "token lifetime (at most 168h)")
	f.StringVarP(&o.output, "output", "o", "", "write the token to this file (mode 0600) instead of stdout")
	return cmd
}

func runToken(ctx context.Context, o *tokenOptions, stdout io.Writer) error {
	var missing []string
	for flag, v := range map[string]string{"--cluster": o.cluster, "--namespace": o.in.Namespace,
		"--service-account": o.in.ServiceAccount, "--pod-name": o.in.PodName, "--pod-uid": o.in.PodUID} {
		if v == "" {
			missing = append(missing, flag)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("required: %s", strings.Join(missing, ", "))
	}
	if o.expiresIn < time.Second {
		return fmt.Errorf("--expires-in %s: must be at least 1s", o.expiresIn)
	}
	c, err := o.admin.client()
	if err != nil {
		return err
	}
	in := o.in
	in.ExpiresInSeconds = int64(o.expiresIn / time.Second)
	out, err := c.MintToken(ctx, o.cluster, in)
	if err != nil {
		return fmt.Errorf("minting a token: %w", err)
	}
	if o.output != "" {
		if err := writeFileAtomic(o.output, []byte(out.Token)); err != nil {
			return fmt.Errorf("writing the token: %w", err)
		}
		return nil
	}
	_, err = io.WriteString(stdout, out.Token)
	return err
}

// writeFileAtomic replaces path with data (mode 0600) through a temporary
// file in the same directory, so a reader (the agent reading its token
// file) sees the old token or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename: nothing
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
