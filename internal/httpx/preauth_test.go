package httpx_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
)

// stall opens a connection from localIP (127.0.0.x) to the server at
// base, sends a POST to path declaring a body of length bytes and the
// first sent of them, and leaves it there. The connection is closed at the
// end of the test.
func stall(t *testing.T, localIP, base, path string, length, sent int) net.Conn {
	t.Helper()
	c := dialFrom(t, localIP, base)
	host := strings.TrimPrefix(base, "http://")
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, host, length, strings.Repeat("x", sent))
	return c
}

// dialFrom connects to base (http://127.0.0.1:port) from localIP.
func dialFrom(t *testing.T, localIP, base string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readResponse reads one HTTP response from c, waiting at most wait.
func readResponse(t *testing.T, c net.Conn, wait time.Duration) rawResponse {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", wait, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// until calls try until it returns true, failing the test after 10s.
func until(t *testing.T, what string, try func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !try() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func noRetries(o *retry.StandardOptions) { o.MaxAttempts = 1 }

// TestBodyBudget: while stalled uploads hold the body budget, another
// body is refused at once with a 503 that the Go SDK classifies as a
// throttle, in each protocol (ThrottlingException, STS's Throttling);
// /healthz stays up; once the uploads go, requests are served again.
func TestBodyBudget(t *testing.T) {
	url, _ := newHost(t, httpx.Config{MaxBodyBytes: 4000, BodyBudget: 4000}, func(h *httpx.Host) {
		mustHandle(t, h, "POST /clusters", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			var in map[string]any
			if err := httpx.DecodeJSON(r, &in); err != nil {
				return err
			}
			return httpx.WriteJSON(w, map[string]any{"cluster": map[string]any{"name": in["name"]}})
		})
		mustHandle(t, h, "POST /{$}", httpx.STS, func(w http.ResponseWriter, r *http.Request) error {
			if _, err := httpx.ReadBody(r); err != nil {
				return err
			}
			return fmt.Errorf("not reached in this test")
		})
	})
	cfg := sdkConfig()
	cfg.Retryer = func() aws.Retryer { return retry.NewStandard(noRetries) }
	ekc := eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })
	create := func() error {
		_, err := ekc.CreateCluster(context.Background(), &eks.CreateClusterInput{Name: aws.String("c1"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}})
		return err
	}
	if err := create(); err != nil {
		t.Fatalf("before the uploads: %v", err)
	}

	// Two stalled uploads of 2000 bytes each (from two addresses) hold the
	// whole budget once the host reads them.
	uploads := []net.Conn{stall(t, "127.0.0.1", url, "/clusters", 2000, 10), stall(t, "127.0.0.2", url, "/clusters", 2000, 1990)}
	var err error
	until(t, "the uploads hold the budget", func() bool { err = create(); return err != nil })
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != eksapi.CodeThrottling || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("EKS with the budget held: %v, want a 503 ThrottlingException", err)
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("the Go SDK does not count %v as a throttle", err)
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("the Go SDK would not retry %v", err)
	}
	_, err = awssts.NewFromConfig(cfg, func(o *awssts.Options) { o.BaseEndpoint = aws.String(url) }).
		GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" || retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("STS with the budget held: %v, want Throttling, a throttle to the SDK", err)
	}
	if res := do(t, "GET", url+"/healthz", "", nil); res.status != 200 {
		t.Errorf("healthz with the budget held: %d %s", res.status, res.body)
	}
	// Another stalled upload is answered at once, not once its body
	// (which the host will not read) has arrived.
	refused := stall(t, "127.0.0.3", url, "/clusters", 2000, 10)
	if res := readResponse(t, refused, 5*time.Second); res.status != http.StatusServiceUnavailable || res.header.Get("X-Amzn-ErrorType") != eksapi.CodeThrottling {
		t.Errorf("stalled upload with the budget held: %d %s", res.status, res.body)
	}

	for _, c := range uploads {
		c.Close()
	}
	until(t, "the budget is free again", func() bool { return create() == nil })
}

// TestBodyReadTimeout: a body slower than the read deadline is cut with a
// 408 RequestTimeout in the route's protocol, codes the Go SDK retries.
func TestBodyReadTimeout(t *testing.T) {
	const deadline = 300 * time.Millisecond
	url, _ := newHost(t, httpx.Config{BodyReadTimeout: deadline}, func(h *httpx.Host) {
		read := func(w http.ResponseWriter, r *http.Request) error {
			if _, err := httpx.ReadBody(r); err != nil {
				return err
			}
			return httpx.WriteJSON(w, struct{}{})
		}
		mustHandle(t, h, "POST /clusters", httpx.EKS, read)
		mustHandle(t, h, "POST /{$}", httpx.STS, read)
	})
	for _, tt := range []struct {
		path, code string
		decode     func(res rawResponse) error
	}{
		{"/clusters", eksapi.CodeRequestTimeout, func(res rawResponse) error { return eksapi.ErrorFromJSON(res.status, res.header, res.body) }},
		{"/", "RequestTimeout", func(res rawResponse) error { return eksapi.ErrorFromXML(res.body) }},
	} {
		start := time.Now()
		c := stall(t, "127.0.0.1", url, tt.path, 100, 10)
		res := readResponse(t, c, 10*time.Second)
		took := time.Since(start)
		var ue *eksapi.UnknownError
		if err := tt.decode(res); res.status != http.StatusRequestTimeout || !errors.As(err, &ue) || ue.Code != tt.code || !strings.Contains(ue.Message, "timeout period") {
			t.Errorf("%s: %d %s, want a 408 %s", tt.path, res.status, res.body, tt.code)
		}
		if took < deadline {
			t.Errorf("%s: cut after %v, before the deadline of %v", tt.path, took, deadline)
		}
		if _, ok := retry.DefaultRetryableErrorCodes[tt.code]; !ok {
			t.Errorf("the Go SDK does not retry %s", tt.code)
		}
	}
	// A body that arrives in time is served, and the deadline does not
	// outlive it: the connection serves a second request after it.
	c := dialFrom(t, "127.0.0.1", url)
	host := strings.TrimPrefix(url, "http://")
	for i := range 2 {
		fmt.Fprintf(c, "POST /clusters HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}", host)
		if res := readResponse(t, c, 5*time.Second); res.status != 200 {
			t.Errorf("request %d on one connection: %d %s", i+1, res.status, res.body)
		}
		if i == 0 {
			time.Sleep(2 * deadline) // the first body's deadline passes while the connection is idle
		}
	}
}

// TestTooLargeNotAwaited: a stalled upload declaring more than the limit
// is answered at once, without waiting for the body it will not read.
func TestTooLargeNotAwaited(t *testing.T) {
	url, _ := newHost(t, httpx.Config{MaxBodyBytes: 1000}, func(h *httpx.Host) {
		mustHandle(t, h, "POST /clusters", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			_, err := httpx.ReadBody(r)
			return err
		})
	})
	c := stall(t, "127.0.0.1", url, "/clusters", 2000, 10)
	if res := readResponse(t, c, 5*time.Second); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("stalled upload beyond the limit: %d %s", res.status, res.body)
	}
}

// TestTooLargeDrainedAfterAnswer: the rest of a body refused for its
// declared size is read and discarded after the answer, so a client still
// sending it finishes and then sees the connection end cleanly. Closed
// with the bytes unread, the connection was reset under a client that was
// still writing, which then often lost the answer.
func TestTooLargeDrainedAfterAnswer(t *testing.T) {
	url, _ := newHost(t, httpx.Config{MaxBodyBytes: 1000}, func(h *httpx.Host) {
		mustHandle(t, h, "POST /clusters", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			_, err := httpx.ReadBody(r)
			return err
		})
	})
	const length, sent = 20000, 8000 // more than the server's read buffer holds
	c := stall(t, "127.0.0.1", url, "/clusters", length, sent)
	if res := readResponse(t, c, 5*time.Second); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload beyond the limit: %d %s", res.status, res.body)
	}
	if _, err := c.Write([]byte(strings.Repeat("x", length-sent))); err != nil {
		t.Fatalf("sending the rest of the body after the answer: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the connection after the answer: %v, want it closed cleanly", err)
	}
}

// TestReadBodyLengths: declared bodies of every size class arrive whole
// (they grow as their bytes arrive), and one shorter than declared is a
// SerializationException.
func TestReadBodyLengths(t *testing.T) {
	url, _ := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "POST /echo", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			b, err := httpx.ReadBody(r)
			if err != nil {
				return err
			}
			w.Write(b)
			return nil
		})
	})
	for _, n := range []int{0, 1, 16<<10 - 1, 16 << 10, 16<<10 + 1, 100_000, httpx.DefaultMaxBodyBytes} {
		body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		if res := do(t, "POST", url+"/echo", "application/octet-stream", bytes.NewReader(body)); res.status != 200 || !bytes.Equal(res.body, body) {
			t.Errorf("%d bytes: %d, %d bytes back", n, res.status, len(res.body))
		}
	}
	c := stall(t, "127.0.0.1", url, "/echo", 100, 10)
	c.(*net.TCPConn).CloseWrite()
	if res := readResponse(t, c, 5*time.Second); res.status != 400 || res.header.Get("X-Amzn-ErrorType") != eksapi.CodeSerialization {
		t.Errorf("short body: %d %s", res.status, res.body)
	}
}

// TestConnsPerAddress: an address beyond its cap of open connections gets
// a 503 ThrottlingException and a closed connection; another address is
// served meanwhile, and the first is again once one of its connections
// closes.
func TestConnsPerAddress(t *testing.T) {
	h := httpx.New(httpx.Config{})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = httpx.LimitConnsPerAddress(srv.Listener, 2, nil)
	srv.Start()
	t.Cleanup(srv.Close)

	held := []net.Conn{dialFrom(t, "127.0.0.1", srv.URL), dialFrom(t, "127.0.0.1", srv.URL)}
	// The server has accepted both once each answers a request.
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range held {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if res := readResponse(t, c, 5*time.Second); res.status != 200 {
			t.Fatalf("within the cap: %d %s", res.status, res.body)
		}
	}
	third := dialFrom(t, "127.0.0.1", srv.URL)
	res := readResponse(t, third, 5*time.Second)
	if res.status != http.StatusServiceUnavailable || res.header.Get("X-Amzn-ErrorType") != eksapi.CodeThrottling {
		t.Errorf("beyond the cap: %d %s, want a 503 ThrottlingException", res.status, res.body)
	}
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Error("the refused connection is still open")
	}

	other := dialFrom(t, "127.0.0.2", srv.URL)
	fmt.Fprintf(other, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	if res := readResponse(t, other, 5*time.Second); res.status != 200 {
		t.Errorf("another address: %d %s", res.status, res.body)
	}

	held[0].Close()
	until(t, "127.0.0.1 may connect again", func() bool {
		c := dialFrom(t, "127.0.0.1", srv.URL)
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && resp.StatusCode == 200
	})
}
