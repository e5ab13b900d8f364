package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/kubeissuer"
)

type clusterRegisterOptions struct {
	admin       adminFlags
	name        string
	kubeconfig  string
	kubeContext string
	apiServer   string
	watch       bool
	interval    time.Duration
}

func newClusterCmd() *cobra.Command {
	cluster := &cobra.Command{
		Use:   "cluster",
		Short: "Connect podid's clusters to real Kubernetes clusters",
	}
	o := &clusterRegisterOptions{}
	register := &cobra.Command{
		Use:   "register",
		Short: "Record a Kubernetes cluster's token issuer, keys, API server and CA for a podid cluster",
		Long: `register reads the Kubernetes API server's /.well-known/openid-configuration and
/openid/v1/jwks with the kubeconfig's CA and credentials (or, without --kubeconfig,
the pod's in-cluster service account) and records them for the podid cluster
--name (created beforehand, e.g. with aws eks create-cluster): EKS Auth then
accepts the cluster's service-account tokens, and DescribeCluster shows its
issuer, its API server as endpoint and its CA as certificateAuthority.data.

With --watch it keeps reading them every --interval and records each change, so
after a signing-key rotation tokens signed with the new key are accepted within
one interval and a key the cluster no longer publishes stops being accepted
within one interval. It runs until SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClusterRegister(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := register.Flags()
	o.admin.register(f)
	f.StringVar(&o.name, "name", "", "podid cluster to record the issuer for (required)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file to reach the API server with (default: in-cluster configuration)")
	f.StringVar(&o.kubeContext, "context", "", "kubeconfig context (default: its current context)")
	f.StringVar(&o.apiServer, "api-server-url", "", "API server URL to record as the cluster's endpoint (default: the kubeconfig's server)")
	f.BoolVar(&o.watch, "watch", false, "keep the issuer current, reading it every --interval")
	f.DurationVar(&o.interval, "interval", time.Minute, "how often --watch reads the issuer")
	cluster.AddCommand(register)
	return cluster
}

func runClusterRegister(ctx context.Context, o *clusterRegisterOptions, stderr io.Writer) error {
	if o.name == "" {
		return errors.New("--name is required")
	}
	cfg, err := kubeissuer.ClientConfig(o.kubeconfig, o.kubeContext)
	if err != nil {
		return err
	}
	reader, err := kubeissuer.NewReader(cfg, o.apiServer)
	if err != nil {
		return err
	}
	client, err := o.admin.client()
	if err != nil {
		return err
	}
	record := kubeissuer.AdminRecord(client, o.name)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if !o.watch {
		iss, err := kubeissuer.Register(ctx, reader, record)
		if err != nil {
			return err
		}
		log.Info("cluster issuer recorded", "cluster", o.name, "issuer", iss.URL, "endpoint", iss.Endpoint)
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return kubeissuer.Watch(ctx, reader, o.interval, record, log.With("cluster", o.name))
}
