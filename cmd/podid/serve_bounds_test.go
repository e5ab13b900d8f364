package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/sigv4"
)

// TestServeBoundsPreauthWork: podid serve's --preauth-body-budget,
// --body-read-timeout and --max-conns-per-address reach the server. An
// upload naming the admin's key ID but stalled in its body holds the
// budget, so the admin's own CreateCluster through the Go SDK is a 503
// ThrottlingException; the upload is cut with a 408 at the deadline; an
// address's third connection is refused while another address is served.
func TestServeBoundsPreauthWork(t *testing.T) {
	const readTimeout = 3 * time.Second
	url, dir := startServeWith(t, func(o *serveOptions) {
		o.maxBodyBytes, o.bodyBudget, o.bodyReadTimeout, o.maxConnsPerAddr = 4096, 4096, readTimeout, 2
	})
	keys, err := sigv4.LoadAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(url, "http://")

	start := time.Now()
	upload := dialFrom(t, "127.0.0.2", host)
	now := time.Now().UTC()
	fmt.Fprintf(upload, "POST /clusters HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n"+
		"X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-west-2/eks/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date, Signature=%s\r\n\r\n{",
		host, now.Format("20060102T150405Z"), keys.AccessKeyID, now.Format("20060102"), strings.Repeat("0", 64))

	ek := eks.NewFromConfig(aws.Config{
		Region:      "us-west-2",
		Credentials: credentials.NewStaticCredentialsProvider(keys.AccessKeyID, keys.SecretAccessKey, ""),
		Retryer:     func() aws.Retryer { return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1 }) },
	}, func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })
	var throttled error
	for i := 0; throttled == nil && time.Since(start) < readTimeout-time.Second; i++ {
		_, err := ek.CreateCluster(context.Background(), &eks.CreateClusterInput{
			Name: aws.String(fmt.Sprintf("c%d", i)), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
		})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == eksapi.CodeThrottling {
			throttled = err
		}
	}
	var re interface{ HTTPStatusCode() int }
	if throttled == nil || !errors.As(throttled, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("CreateCluster while a stalled upload holds the body budget: %v, want a 503 ThrottlingException", throttled)
	}

	resp := readHTTP(t, upload, readTimeout+10*time.Second)
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Amzn-ErrorType") != eksapi.CodeRequestTimeout || took < readTimeout {
		t.Errorf("stalled upload: %d %s after %v, want a 408 RequestTimeoutException after %v", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), took, readTimeout)
	}

	for i := range 2 {
		c := dialFrom(t, "127.0.0.3", host)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if resp := readHTTP(t, c, 10*time.Second); resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d of 127.0.0.3: %d", i+1, resp.StatusCode)
		}
	}
	if resp := readHTTP(t, dialFrom(t, "127.0.0.3", host), 10*time.Second); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third connection of 127.0.0.3: %d, want 503", resp.StatusCode)
	}
	c := dialFrom(t, "127.0.0.4", host)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	if resp := readHTTP(t, c, 10*time.Second); resp.StatusCode != http.StatusOK {
		t.Errorf("127.0.0.4 meanwhile: %d, want 200", resp.StatusCode)
	}
}

// dialFrom connects to host from the loopback address localIP; the
// connection is closed at the end of the test.
func dialFrom(t *testing.T, localIP, host string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readHTTP reads one response from c within wait.
func readHTTP(t *testing.T, c net.Conn, wait time.Duration) *http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", wait, err)
	}
	resp.Body.Close()
	return resp
}
