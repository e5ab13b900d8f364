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
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

type sessionInspectOptions struct {
	endpoint        string
	sessionToken    string
	fromEnv         bool
	accessKeyID     string
	secretAccessKey string
	dataDir         string
	region          string
}

func init() {
	o := &sessionInspectOptions{}
	session := &cobra.Command{
		Use:   "session",
		Short: "Look at sessions podid's STS vended",
	}
	inspect := &cobra.Command{
		Use:   "inspect",
		Short: "Show a vended session: role, session name, tags, transitive keys, policy, external ID, chain, expiry",
		Long: `inspect asks a podid server (its admin API, POST ` + sts.InspectPath + `) what a session
token carries. Real STS does not echo session tags; podid can, because its tokens
are sealed records of the session. The secret access key is never shown.

The request is signed with the admin identity's keys: --access-key-id and
--secret-access-key, else PODID_ADMIN_ACCESS_KEY_ID and PODID_ADMIN_SECRET_ACCESS_KEY,
else the keys file in --data-dir; without any, it is sent unsigned (for --auth none).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSessionInspect(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := inspect.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "podid server URL, e.g. http://127.0.0.1:8080 (required)")
	f.StringVar(&o.sessionToken, "session-token", "", "the session token to inspect")
	f.BoolVar(&o.fromEnv, "from-env", false, "inspect $AWS_SESSION_TOKEN")
	f.StringVar(&o.accessKeyID, "access-key-id", "", "admin access key ID")
	f.StringVar(&o.secretAccessKey, "secret-access-key", "", "admin secret access key")
	f.StringVar(&o.dataDir, "data-dir", "podid-data", "podid serve's data directory, holding "+sigv4.AdminFile)
	f.StringVar(&o.region, "region", "us-east-1", "region of the request's signing scope")
	session.AddCommand(inspect)
	rootCmd.AddCommand(session)
}

// adminCredentials finds the admin keys (flags, environment, data dir);
// ok is false when there are none.
func (o *sessionInspectOptions) adminCredentials() (creds sts.Credentials, ok bool, err error) {
	if o.accessKeyID != "" || o.secretAccessKey != "" {
		if o.accessKeyID == "" || o.secretAccessKey == "" {
			return creds, false, errors.New("--access-key-id and --secret-access-key go together")
		}
		return sts.Credentials{AccessKeyID: o.accessKeyID, SecretAccessKey: o.secretAccessKey}, true, nil
	}
	if id, secret := os.Getenv("PODID_ADMIN_ACCESS_KEY_ID"), os.Getenv("PODID_ADMIN_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return sts.Credentials{AccessKeyID: id, SecretAccessKey: secret}, true, nil
	}
	c, err := sigv4.LoadAdmin(o.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return creds, false, nil
	}
	return c, err == nil, err
}

func runSessionInspect(ctx context.Context, o *sessionInspectOptions, stdout io.Writer) error {
	token := o.sessionToken
	switch {
	case o.fromEnv && token != "":
		return errors.New("use --session-token or --from-env, not both")
	case o.fromEnv:
		token = os.Getenv("AWS_SESSION_TOKEN")
		if token == "" {
			return errors.New("--from-env: AWS_SESSION_TOKEN is not set")
		}
	case token == "":
		return errors.New("give the token with --session-token or --from-env")
	}
	if o.endpoint == "" {
		return errors.New("--endpoint is required")
	}
	creds, signed, err := o.adminCredentials()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	body, _ := json.Marshal(sts.InspectRequest{SessionToken: token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.endpoint, "/")+sts.InspectPath, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--endpoint %q: %w", o.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signed {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), "podid", o.region, time.Now())
		if err != nil {
			return fmt.Errorf("signing the request: %w", err)
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("inspecting the session: %w", err)
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
			return fmt.Errorf("inspecting the session: %s: %s (HTTP %d)", e.Type, e.Message, resp.StatusCode)
		}
		return fmt.Errorf("inspecting the session: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}
