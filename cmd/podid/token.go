package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/sigv4"
)

// adminFlags are the flags of the commands that call podid's admin API:
// the server and the admin identity's keys to sign with.
type adminFlags struct {
	endpoint        string
	accessKeyID     string
	secretAccessKey string
	dataDir         string
	region          string
}

func (a *adminFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.endpoint, "endpoint", "", "podid server URL, e.g. http://127.0.0.1:8080 (required)")
	f.StringVar(&a.accessKeyID, "access-key-id", "", "admin access key ID (else $PODID_ADMIN_ACCESS_KEY_ID, else --data-dir's keys file)")
	f.StringVar(&a.secretAccessKey, "secret-access-key", "", "admin secret access key")
	f.StringVar(&a.dataDir, "data-dir", "podid-data", "podid serve's data directory, holding "+sigv4.AdminFile)
	f.StringVar(&a.region, "region", "us-east-1", "region of the request's signing scope")
}

// call sends an admin API request signed with the admin identity's keys
// (unsigned when there are none, for --auth none) and decodes the JSON
// answer into out. timeout bounds the whole exchange.
func (a *adminFlags) call(ctx context.Context, method, path string, in, out any, timeout time.Duration) error {
	if a.endpoint == "" {
		return errors.New("--endpoint is required")
	}
	keys := sessionInspectOptions{accessKeyID: a.accessKeyID, secretAccessKey: a.secretAccessKey, dataDir: a.dataDir}
	creds, signed, err := keys.adminCredentials()
	if err != nil {
		return err
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--endpoint %q: %w", a.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signed {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), "podid", a.region, time.Now())
		if err != nil {
			return fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.Type != "" {
			return &apiError{Status: resp.StatusCode, Code: e.Type, Message: e.Message}
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return nil
}

// apiError is an AWS-shaped error answer of the admin API.
type apiError struct {
	Status        int
	Code, Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

type tokenOptions struct {
	admin     adminFlags
	cluster   string
	in        eksauth.MintTokenInput
	expiresIn time.Duration
}

func init() {
	o := &tokenOptions{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a service-account token for a pod of a podid-issued cluster (development and tests)",
		Long: `token asks a podid server (POST /podid/v1/clusters/NAME/tokens, admin identity only)
for a token shaped like the one the kubelet projects into pods for EKS Pod Identity:
RS256, audience pods.eks.amazonaws.com, issuer the cluster's podid issuer, and the
kubernetes.io claims. Exchange it with EKS Auth's AssumeRoleForPodIdentity, or write
it to the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names for the node agent.`,
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
	rootCmd.AddCommand(cmd)
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
		return fmt.Errorf("required: %s", strings.Join(sortedStrings(missing), ", "))
	}
	if o.expiresIn < time.Second {
		return fmt.Errorf("--expires-in %s: must be at least 1s", o.expiresIn)
	}
	in := o.in
	in.ExpiresInSeconds = int64(o.expiresIn / time.Second)
	var out eksauth.MintTokenOutput
	if err := o.admin.call(ctx, http.MethodPost, "/podid/v1/clusters/"+url.PathEscape(o.cluster)+"/tokens", in, &out, 30*time.Second); err != nil {
		return fmt.Errorf("minting a token: %w", err)
	}
	_, err := fmt.Fprintln(stdout, out.Token)
	return err
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
