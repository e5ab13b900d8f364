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
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	var cpuProfile string
	root := &cobra.Command{
		Use:           "podid",
		Short:         "EKS Pod Identity, anywhere: control plane, EKS Auth, STS and node agent",
		SilenceUsage:  true,
		SilenceErrors: true,
		// --cpu-profile (hidden, for profiling podid serve or agent under
		// podid bench's load: --serve-arg=--cpu-profile=FILE) writes a Go
		// CPU profile of the whole command, read with go tool pprof.
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpu-profile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpu-profile: %w", err)
			}
			stopProfile = func() {
				pprof.StopCPUProfile()
				f.Close()
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpu-profile")
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

// stopProfile ends --cpu-profile's profile, once the command returns
// (PersistentPostRun would not run after an error).
var stopProfile = func() {}

func main() {
	err := newRootCmd().Execute()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "podid:", err)
		os.Exit(1)
	}
}
