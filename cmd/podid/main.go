// Command podid is one binary for EKS Pod Identity off EKS: the EKS
// control-plane API for pod identity associations, EKS Auth credential
// vending and an STS endpoint (podid serve), the node agent serving the
// container-credentials endpoint (podid agent), and tools around them.
//
// The package only parses flags and wires podid's packages together: each
// command lives in its own file as a constructor (newServeCmd, ...) and a
// run function; serve's parts are built in one ordered function (build,
// wiring.go).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "podid",
		Short:         "EKS Pod Identity, anywhere: control plane, EKS Auth, STS and node agent",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newAgentCmd(),
		newWebhookCmd(),
		newTokenCmd(),
		newWaitCmd(),
		newAuditCmd(),
		newIssuerCmd(),
		newClusterCmd(),
		newSessionCmd(),
		newIAMCmd(),
		newNodeCredentialsCmd(),
		newBenchCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print podid's version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "podid", version)
			},
		},
	)
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "podid:", err)
		os.Exit(1)
	}
}
