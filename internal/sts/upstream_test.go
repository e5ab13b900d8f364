package sts_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	stsupstream "github.com/podid/podid/internal/sts/upstream"
)

// startMoto starts moto_server on a free loopback port and waits (bounded)
// until it answers. The port is free when picked but another process may
// take it before moto binds it: a server that exits early is retried on a
// new port (three attempts).
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not on PATH: skipping the upstream test")
	}
	for attempt := 1; ; attempt++ {
		url, err := tryMoto(t, bin)
		if err == nil {
			return url
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
}

func tryMoto(t *testing.T, bin string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// moto answers its dashboard API; another process on the port does not.
		resp, err := http.Get(url + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(stop)
				return url, nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return "", fmt.Errorf("moto_server exited: %v", err)
		case <-deadline:
			stop()
			return "", errors.New("moto_server did not answer within 60s")
		case <-tick.C:
		}
	}
}

func callerARN(t *testing.T, url string, c sts.Credentials) string {
	t.Helper()
	client := awssts.New(awssts.Options{Region: "us-east-1", Credentials: fixed(c), BaseEndpoint: aws.String(url)})
	out, err := client.GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Arn)
}

func TestUpstreamMoto(t *testing.T) {
	url := startMoto(t)
	// podid's own credentials come from the default chain: here, the
	// environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	up, err := stsupstream.New(ctx, url, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	first, err := up.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN: "arn:aws:iam::123456789012:role/app-role", RoleSessionName: "eks-c1-app1-0001", DurationSeconds: 21600,
		Tags:              []sts.Tag{{Key: "eks-cluster-name", Value: "c1"}, {Key: "kubernetes-namespace", Value: "ns-a"}},
		TransitiveTagKeys: []string{"eks-cluster-name", "kubernetes-namespace"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first.AssumedRoleARN, "arn:aws:sts::123456789012:assumed-role/app-role/eks-c1-app1-0001"; got != want {
		t.Errorf("first ARN = %q, want %q", got, want)
	}
	if got := callerARN(t, url, first.Credentials); got != first.AssumedRoleARN {
		t.Errorf("first caller = %q, want %q", got, first.AssumedRoleARN)
	}
	second, err := up.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN: "arn:aws:iam::123456789012:role/target-role", RoleSessionName: "eks-c1-app1-0001",
		DurationSeconds: 3600, ExternalID: "us-east-1/123456789012/c1/ns-a/sa1",
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
		Caller: &first.Credentials,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.AssumedRoleARN, "arn:aws:sts::123456789012:assumed-role/target-role/eks-c1-app1-0001"; got != want {
		t.Errorf("second ARN = %q, want %q", got, want)
	}
	if got := callerARN(t, url, second.Credentials); got != second.AssumedRoleARN {
		t.Errorf("second caller = %q, want %q", got, second.AssumedRoleARN)
	}
	if second.Credentials.Expiration.IsZero() || second.Credentials.SessionToken == "" {
		t.Errorf("second credentials incomplete: expiration %v", second.Credentials.Expiration)
	}
}

// TestUpstreamErrors points Upstream at podid's own STS endpoint: its API
// errors come back as *sts.Error with code, status and message.
func TestUpstreamErrors(t *testing.T) {
	e := newEnv(t, sigv4.ModeSigV4)
	ctx := context.Background()
	up := stsupstream.NewFromConfig(aws.Config{Region: region, Credentials: fixed(e.admin), HTTPClient: e.srv.Client(), RetryMaxAttempts: 1}, e.srv.URL)
	first, err := up.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "s1",
		Tags: []sts.Tag{{Key: "k", Value: "v"}}, TransitiveTagKeys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := up.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "s2", ExternalID: "ext-1", Caller: &first.Credentials})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Session(second.Credentials.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Chain) != 1 || sess.Chain[0] != first.AssumedRoleARN || sess.ExternalID != "ext-1" || len(sess.Tags) != 1 {
		t.Errorf("chained session through upstream: chain %v, external ID %q, tags %v", sess.Chain, sess.ExternalID, sess.Tags)
	}

	_, err = up.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "s2", DurationSeconds: 7200, Caller: &first.Credentials})
	var se *sts.Error
	if !errors.As(err, &se) || se.Code != "ValidationError" || se.Status != 400 ||
		se.Message != "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining." {
		t.Errorf("error = %#v, want ValidationError 400", err)
	}
	bad := first.Credentials
	bad.SessionToken = "garbage"
	_, err = up.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "s2", Caller: &bad})
	if !errors.As(err, &se) || se.Code != "InvalidClientTokenId" || se.Status != 403 {
		t.Errorf("error = %v, want InvalidClientTokenId 403", err)
	}
}
