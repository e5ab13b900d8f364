package durability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// TestAuditAcrossReplicas: an event written through replica A (its
// CreateCluster, CreatePodIdentityAssociation) is read through replica
// B's LookupEvents, and B's through A's.
func TestAuditAcrossReplicas(t *testing.T) {
	t.Parallel()
	rs, _ := startReplicas(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, rs[0].eks(), "audited")
	if _, err := rs[1].eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("audited"),
		Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(roleARN("r"))}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"CreatePodIdentityAssociation", "CreateCluster"} {
		reader := rs[i] // A reads B's write, B reads A's
		c := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String(reader.URL),
			Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, HTTPClient: httpClient})
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
				{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String(want)}}})
			if err != nil {
				t.Fatalf("LookupEvents through %s: %v", reader.Name(), err)
			}
			if len(out.Events) == 1 && strings.Contains(aws.ToString(out.Events[0].CloudTrailEvent), `"audited"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s through %s: %d events", want, reader.Name(), len(out.Events))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
