package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/kubeissuer"
	"github.com/podid/podid/internal/webhook"
)

// webhookOptions are podid webhook's flags.
type webhookOptions struct {
	server, cluster, region   string
	listen, probeListen       string
	tlsCertFile, tlsKeyFile   string
	selfSigned                bool
	webhookConfigName         string
	caSecret, namespace       string
	tlsSANs                   []string
	ipv6                      bool
	kubeconfig                string
	podidTimeout, pollTimeout time.Duration
	logLevel                  string
}

func newWebhookCmd() *cobra.Command {
	o := &webhookOptions{}
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Run the mutating admission webhook that gives pods their pod identity settings",
		Long: `webhook is a Kubernetes mutating admission webhook that does for pods what EKS's
built-in one does: a pod whose service account has a pod identity association in
--cluster gets the label eks.amazonaws.com/pod-identity=enabled, the projected
token volume eks-pod-identity-token (audience pods.eks.amazonaws.com, 86400 s),
and in every container and init container a read-only mount of it at
/var/run/secrets/pods.eks.amazonaws.com/serviceaccount and the environment
AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
AWS_STS_REGIONAL_ENDPOINTS=regional and AWS_REGION/AWS_DEFAULT_REGION (those the
container does not set). Left alone: containers that set either credential
variable or are named in the eks.amazonaws.com/skip-containers annotation; pods
with the annotation podid.dev/skip: "true"; pods that already have the volume or
a mount at that path; host-network pods (their node may not have the agent's
address, and they are node agents with credentials of their own).

It answers POST /mutate over TLS (admission.k8s.io/v1, JSON Patch), and never
blocks a pod on its own errors: it logs them and admits the pod unchanged.
Probes /healthz, /readyz (ready once the associations are listed) and /metrics
are on --listen, or on --probe-listen in plain HTTP.

Associations come from podid (--server) through the EKS API, signed with the
AWS SDK's default credentials; the webhook follows podid's changes through
GET /podid/v1/wait, so a change is in effect for admissions once podid wait
says it is in effect.

TLS: --tls-cert-file and --tls-key-file (reloaded when they change), or
--self-signed: a CA kept in the Secret --ca-secret (in --namespace; shared by
replicas), a serving certificate for the names in the
MutatingWebhookConfiguration --webhook-config-name, whose caBundle the webhook
sets (and keeps set). --self-signed reaches the API server with --kubeconfig,
or in-cluster configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWebhook(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "podid's URL, for the EKS API and the admin API's wait (default $AWS_ENDPOINT_URL_EKS)")
	f.StringVar(&o.cluster, "cluster", "", "the cluster whose associations decide (required)")
	f.StringVar(&o.region, "region", "", "region: SigV4 scope, and AWS_REGION/AWS_DEFAULT_REGION in pods (default from the AWS configuration)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8443", "TLS address to serve on (in a cluster: 0.0.0.0:8443)")
	f.StringVar(&o.probeListen, "probe-listen", "", `plain-HTTP address for /healthz, /readyz and /metrics ("": on --listen)`)
	f.StringVar(&o.tlsCertFile, "tls-cert-file", "", "serving certificate (PEM), reloaded when it changes")
	f.StringVar(&o.tlsKeyFile, "tls-key-file", "", "its private key (PEM)")
	f.BoolVar(&o.selfSigned, "self-signed", false, "make a CA and serving certificate, and set the webhook configuration's caBundle")
	f.StringVar(&o.webhookConfigName, "webhook-config-name", "podid-webhook", "the MutatingWebhookConfiguration whose caBundle --self-signed sets")
	f.StringVar(&o.caSecret, "ca-secret", "podid-webhook-ca", "Secret holding --self-signed's CA")
	f.StringVar(&o.namespace, "namespace", "", "namespace of --ca-secret (default: the pod's own, else default)")
	f.StringSliceVar(&o.tlsSANs, "tls-san", nil, "more DNS names or IP addresses for --self-signed's certificate")
	f.BoolVar(&o.ipv6, "ipv6", false, "IPv6-only cluster: point pods at http://[fd00:ec2::23]/v1/credentials")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for --self-signed (default: in-cluster configuration)")
	f.DurationVar(&o.podidTimeout, "podid-timeout", 2*time.Second, "longest an admission waits for podid before the cached answer stands")
	f.DurationVar(&o.pollTimeout, "poll-timeout", 30*time.Second, "length of one long poll of podid's changes")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func (o *webhookOptions) validate() error {
	var problems []error
	if o.server == "" {
		o.server = os.Getenv("AWS_ENDPOINT_URL_EKS")
	}
	if o.server == "" {
		problems = append(problems, errors.New("--server (or $AWS_ENDPOINT_URL_EKS) is required"))
	}
	if o.cluster == "" {
		problems = append(problems, errors.New("--cluster is required"))
	}
	files := o.tlsCertFile != "" || o.tlsKeyFile != ""
	switch {
	case o.selfSigned && files:
		problems = append(problems, errors.New("--self-signed excludes --tls-cert-file and --tls-key-file"))
	case !o.selfSigned && (o.tlsCertFile == "" || o.tlsKeyFile == ""):
		problems = append(problems, errors.New("--tls-cert-file and --tls-key-file are required (or --self-signed)"))
	}
	if o.podidTimeout <= 0 || o.pollTimeout <= 0 {
		problems = append(problems, errors.New("--podid-timeout and --poll-timeout must be positive"))
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}

// runWebhook wires the webhook: AWS configuration → podid client →
// association cache → certificate source → server, then serves until
// SIGTERM or SIGINT.
func runWebhook(ctx context.Context, o *webhookOptions, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	level, _ := parseLogLevel(o.logLevel)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	var loadOpts []func(*config.LoadOptions) error
	if o.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return errors.New("no region: set --region or $AWS_REGION")
	}
	podid := &webhook.Podid{
		EKS:     eks.NewFromConfig(awsCfg, func(eo *eks.Options) { eo.BaseEndpoint = aws.String(o.server) }),
		Cluster: o.cluster,
		Admin:   &admin.Client{Endpoint: o.server, Region: awsCfg.Region, Credentials: awsCfg.Credentials},
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := webhook.NewMetrics(reg)
	assocs := webhook.NewAssociations(webhook.AssociationsConfig{
		Source: podid, PollTimeout: o.pollTimeout, CheckTimeout: o.podidTimeout, Logger: logger, Metrics: metrics,
	})

	getCert, err := webhookCertificates(ctx, o, logger, metrics)
	if err != nil {
		return err
	}
	mutation := webhook.Mutation{FullURI: webhook.FullURIIPv4, Region: awsCfg.Region}
	if o.ipv6 {
		mutation.FullURI = webhook.FullURIIPv6
	}
	srv, err := webhook.NewServer(webhook.Config{
		Mutation: mutation, Associations: assocs, GetCertificate: getCert,
		Logger: logger, Registry: reg, Metrics: metrics,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	var probes net.Listener
	if o.probeListen != "" {
		if probes, err = net.Listen("tcp", o.probeListen); err != nil {
			ln.Close()
			return err
		}
		logger.Info("webhook probes listening", "addr", probes.Addr().String())
	}
	logger.Info("podid webhook starting", "cluster", o.cluster, "server", o.server, "credentials_uri", mutation.FullURI)
	return srv.Serve(ctx, ln, probes)
}

// webhookCertificates is the serving certificate's source: the files, or
// a self-signed CA (whose caBundle is kept set until ctx ends).
func webhookCertificates(ctx context.Context, o *webhookOptions, logger *slog.Logger, metrics *webhook.Metrics) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if !o.selfSigned {
		cf, err := webhook.LoadCertFiles(webhook.CertFilesConfig{CertFile: o.tlsCertFile, KeyFile: o.tlsKeyFile, Logger: logger, Metrics: metrics})
		if err != nil {
			return nil, err
		}
		return cf.GetCertificate, nil
	}
	restCfg, err := kubeissuer.ClientConfig(o.kubeconfig, "")
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	ns := o.namespace
	if ns == "" {
		ns = inClusterNamespace()
	}
	ss, err := webhook.NewSelfSigned(ctx, webhook.SelfSignedConfig{
		Client: kube, WebhookConfig: o.webhookConfigName, Namespace: ns, SecretName: o.caSecret,
		Hosts: o.tlsSANs, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	logger.Info("webhook: self-signed certificate", "hosts", ss.Hosts(), "ca_secret", ns+"/"+o.caSecret)
	go ss.KeepCABundle(ctx, time.Minute)
	return ss.GetCertificate, nil
}

// inClusterNamespace is the pod's namespace, or "default" outside a
// cluster.
func inClusterNamespace() string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if ns := strings.TrimSpace(string(b)); err == nil && ns != "" {
		return ns
	}
	return "default"
}
