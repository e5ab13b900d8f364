package sigv4_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

// TestScopeRegion: a request signed for a region podid serves (any of the
// partition's) reaches its handler with that region in its context; one
// signed for a region that is not the partition's is refused as AWS
// refuses it, before the handler.
func TestScopeRegion(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		region string
		ok     bool
	}{
		{"us-west-2", true},
		{"eu-west-1", true},
		{"ap-southeast-7", true},
		{"xx-fake-1", false},
		{"cn-north-1", false}, // the aws-cn partition's, not aws's
		{"aws-global", false}, // an endpoint name, not a region
	} {
		t.Run(tt.region, func(t *testing.T) {
			_, err := e.eks(static(e.admin)).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")},
				func(o *eks.Options) { o.Region = tt.region })
			if tt.ok {
				if err != nil {
					t.Fatalf("DescribeCluster signed for %s: %v", tt.region, err)
				}
				if s := <-e.seen; s.region != tt.region {
					t.Errorf("handler saw region %q, want %q", s.region, tt.region)
				}
				return
			}
			var ae smithy.APIError
			want := "Credential should be scoped to a valid region, not '" + tt.region + "'. "
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || ae.ErrorMessage() != want {
				t.Fatalf("DescribeCluster signed for %s: %v; want InvalidSignatureException: %s", tt.region, err, want)
			}
			select {
			case s := <-e.seen:
				t.Errorf("refused request reached the handler: %+v", s)
			default:
			}
		})
	}

	// STS answers in its awsQuery shape.
	form := "Action=GetCallerIdentity&Version=2011-06-15"
	req := signed(t, e.admin, "POST", e.srv.URL+"/", form, "sts", time.Now(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/us-west-2/", "/xx-fake-1/", 1))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to a valid region, not &#39;xx-fake-1&#39;. </Message>") {
		t.Errorf("STS signed for xx-fake-1: %d %s", resp.StatusCode, body)
	}
}

// TestScopeRegionUnchecked: without signature checks (--auth none) the
// scope still selects the region, and one podid does not serve is still
// refused; the server's own --region is served even outside the partition.
func TestScopeRegionUnchecked(t *testing.T) {
	auth := sigv4.New(sigv4.Config{Mode: sigv4.ModeNone, AccountID: account, Region: "local-test-1", Logger: quiet})
	for _, tt := range []struct {
		region, want string
		ok           bool
	}{
		{"eu-west-1", "eu-west-1", true},
		{"local-test-1", "local-test-1", true},
		{"xx-fake-1", "", false},
	} {
		req := signed(t, sts.Credentials{AccessKeyID: "AKIAEXAMPLE0000000000", SecretAccessKey: "x"}, "GET", "http://127.0.0.1/clusters/c1", "", "eks", time.Now(), nil)
		req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/us-west-2/", "/"+tt.region+"/", 1))
		r, err := auth.Authenticate(req)
		if !tt.ok {
			if err == nil || !strings.Contains(err.Error(), "Credential should be scoped to a valid region, not '"+tt.region+"'.") {
				t.Errorf("--auth none, scope %s: %v; want refused", tt.region, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("--auth none, scope %s: %v", tt.region, err)
		}
		if got := authz.Region(r.Context(), "fallback"); got != tt.want {
			t.Errorf("--auth none, scope %s: region %q, want %q", tt.region, got, tt.want)
		}
	}
	unsigned, _ := http.NewRequest("GET", "http://127.0.0.1/clusters/c1", nil)
	r, err := auth.Authenticate(unsigned)
	if err != nil || authz.Region(r.Context(), "fallback") != "fallback" {
		t.Errorf("unsigned under --auth none: %v; want the server's region", err)
	}
}
