package sigv4_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/sts"
)

// TestPresignedRealClients: the EKS token `aws eks get-token` makes (a
// presigned STS GetCallerIdentity URL, base64url after "k8s-aws-v1.") and
// boto3's generate_presigned_url('get_caller_identity') are verified by
// podid, for the admin keys and a vended session; a tampered or expired one
// is refused as AWS refuses it.
func TestPresignedRealClients(t *testing.T) {
	var offset atomic.Int64 // the authenticator's clock, ahead of the real time
	e := newEnvAt(t, nil, func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	vended, err := e.svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	env := func(c sts.Credentials) []string {
		return []string{"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.SessionToken,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS=" + e.srv.URL}
	}
	run := func(t *testing.T, c sts.Credentials, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		for _, kv := range cmd.Environ() {
			if !strings.HasPrefix(kv, "AWS_") { // none of the user's profile, keys or endpoints
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env(c)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	// get sends url as kubernetes' aws-iam-authenticator does: GET with
	// the cluster's x-k8s-aws-id header.
	get := func(t *testing.T, url, cluster string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cluster != "" {
			req.Header.Set("x-k8s-aws-id", cluster)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	check := func(t *testing.T, url, cluster string, status int, want string) {
		t.Helper()
		if got, body := get(t, url, cluster); got != status || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s, want %d containing %s", url, got, body, status, want)
		}
	}
	callers := []struct {
		name  string
		creds sts.Credentials
		arn   string
	}{
		{"admin", e.admin, "arn:aws:iam::111122223333:root"},
		{"session", vended.Credentials, vended.AssumedRoleARN},
	}

	t.Run("aws-sdk-go-v2 PresignGetCallerIdentity", func(t *testing.T) {
		for _, c := range callers {
			offset.Store(0)
			client := awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), Credentials: static(c.creds)})
			req, err := awssts.NewPresignClient(client).PresignGetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			check(t, req.URL, "", 200, "<Arn>"+c.arn+"</Arn>")
			// No X-Amz-Expires: valid within the clock skew a signed
			// request is allowed.
			offset.Store(int64(6 * time.Minute))
			check(t, req.URL, "", 403, "<Code>SignatureDoesNotMatch</Code><Message>Signature expired: ")
		}
	})

	t.Run("aws eks get-token", func(t *testing.T) {
		cli, err := exec.LookPath("aws")
		if err != nil {
			t.Skip("aws CLI not found: skipped")
		}
		for _, c := range callers {
			t.Run(c.name, func(t *testing.T) {
				offset.Store(0)
				var cred struct {
					Status struct{ Token string }
				}
				if err := json.Unmarshal([]byte(run(t, c.creds, cli, "eks", "get-token", "--cluster-name", "dev")), &cred); err != nil {
					t.Fatal(err)
				}
				b64, ok := strings.CutPrefix(cred.Status.Token, "k8s-aws-v1.")
				raw, err := base64.RawURLEncoding.DecodeString(b64)
				if !ok || err != nil {
					t.Fatalf("token %q: %v", cred.Status.Token, err)
				}
				url := string(raw)
				if !strings.HasPrefix(url, e.srv.URL+"/?Action=GetCallerIdentity&") || !strings.Contains(url, "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id") {
					t.Fatalf("token URL %s: not a presigned GetCallerIdentity at podid signing x-k8s-aws-id", url)
				}
				check(t, url, "dev", 200, "<Arn>"+c.arn+"</Arn>")
				check(t, url, "other", 403, "<Code>SignatureDoesNotMatch</Code>")
				check(t, url, "", 403, "<Code>SignatureDoesNotMatch</Code>")
				check(t, strings.Replace(url, "GetCallerIdentity", "AssumeRole", 1), "dev", 403, "<Code>SignatureDoesNotMatch</Code>")
				offset.Store(int64(2 * time.Minute)) // past the token's X-Amz-Expires=60
				check(t, url, "dev", 403, "<Code>AccessDenied</Code><Message>Request has expired</Message>")
			})
		}
	})

	t.Run("boto3 generate_presigned_url", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil || exec.Command(py, "-c", "import boto3").Run() != nil {
			t.Skip("python3 with boto3 not found: skipped")
		}
		for _, c := range callers {
			t.Run(c.name, func(t *testing.T) {
				offset.Store(0)
				url, withCluster, ok := strings.Cut(run(t, c.creds, py, "testdata/boto3_presign.py", e.srv.URL, "dev"), "\n")
				if !ok {
					t.Fatal("boto3_presign.py printed one URL, want two")
				}
				check(t, url, "", 200, "<Arn>"+c.arn+"</Arn>")
				check(t, withCluster, "dev", 200, "<Arn>"+c.arn+"</Arn>")
				check(t, withCluster, "prod", 403, "<Code>SignatureDoesNotMatch</Code>")
				check(t, strings.Replace(url, "X-Amz-Expires=900", "X-Amz-Expires=901", 1), "", 403, "<Code>SignatureDoesNotMatch</Code>")
				offset.Store(int64(16 * time.Minute))
				check(t, url, "", 403, "<Code>AccessDenied</Code><Message>Request has expired</Message>")
			})
		}
	})
}
