// Command podid is one binary for EKS Pod Identity off EKS: the EKS
// control-plane API for pod identity associations, EKS Auth credential
// vending and an STS endpoint (podid serve), the node agent serving the
// container-credentials endpoint (podid agent), and tools around them.
//
// Each subcommand lives in its own file and adds itself to rootCmd in an
// init function; main only runs the root.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var rootCmd = &cobra.Command{
	Use:           "podid",
	Short:         "EKS Pod Identity, anywhere: control plane, EKS Auth, STS and node agent",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print podid's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "podid", version)
		},
	})
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "podid:", err)
		os.Exit(1)
	}
}
