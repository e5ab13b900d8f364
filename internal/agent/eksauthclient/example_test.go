package eksauthclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/podid/podid/internal/agent/eksauthclient"
)

func Example() {
	// A stand-in for EKS Auth (podid serve, or the real service).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"subject":{"namespace":"ns-a","serviceAccount":"sa1"},"audience":"pods.eks.amazonaws.com",
"podIdentityAssociation":{"associationArn":"arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/a-1","associationId":"a-1"},
"assumedRoleUser":{"arn":"arn:aws:sts::111122223333:assumed-role/app/eks-c1-app1-x","assumeRoleId":"AROA:eks-c1-app1-x"},
"credentials":{"sessionToken":"tok","secretAccessKey":"sk","accessKeyId":"ASIAEXAMPLE","expiration":1702206632}}`)
	}))
	defer srv.Close()

	c, err := eksauthclient.New(eksauthclient.Config{
		Endpoint: srv.URL,
		Region:   "us-west-2",
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		})),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := c.AssumeRoleForPodIdentity(context.Background(), "c1", "header.payload.signature")
	if err != nil {
		fmt.Println(err, "irrecoverable:", eksauthclient.IsIrrecoverable(err))
		return
	}
	acct, _ := eksauthclient.AccountID(out)
	fmt.Println(out.Credentials.AccessKeyId, acct, out.Credentials.Expiration.UTC().Format("2006-01-02T15:04:05Z"))
	// Output: ASIAEXAMPLE 111122223333 2023-12-10T11:10:32Z
}
