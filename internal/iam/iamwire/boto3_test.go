package iamwire_test

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestBoto3 reads iamwire's encodings with boto3's IAM client (botocore's
// parser, paginators, error mapping and policy-document decoding).
func TestBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: boto3 checks skipped")
	}
	if exec.Command(py, "-c", "import boto3").Run() != nil {
		t.Skip("python3 has no boto3 (pip install boto3): boto3 checks skipped")
	}
	srv := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/boto3_iam.py", srv.URL)
	cmd.Env = append(cmd.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 checks: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
