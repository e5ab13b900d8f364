package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/store/sqlite"
)

// Serve the EKS API from an SQLite store and use it through the AWS SDK.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "podid-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	ts := httptest.NewUnstartedServer(nil)
	srv, err := server.New(server.Config{
		Store:     st,
		Region:    "eu-west-1",
		AccountID: "111122223333",
		PublicURL: "http://" + ts.Listener.Addr().String(),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()

	client := eks.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, func(o *eks.Options) { o.BaseEndpoint = aws.String(ts.URL) })

	cluster, err := client.CreateCluster(ctx, &eks.CreateClusterInput{
		Name:               aws.String("demo"),
		RoleArn:            aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToString(cluster.Cluster.Arn), cluster.Cluster.Status)

	out, err := client.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String("demo"),
		Namespace:      aws.String("default"),
		ServiceAccount: aws.String("app"),
		RoleArn:        aws.String("arn:aws:iam::111122223333:role/app"),
		TargetRoleArn:  aws.String("arn:aws:iam::444455556666:role/data"),
	})
	if err != nil {
		log.Fatal(err)
	}
	a := out.Association
	fmt.Println(aws.ToString(a.AssociationArn) == srv.AssociationARN("eu-west-1", "demo", aws.ToString(a.AssociationId)))
	fmt.Println(aws.ToString(a.ExternalId))

	_, err = client.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String("demo"),
		Namespace:      aws.String("default"),
		ServiceAccount: aws.String("app"),
		RoleArn:        aws.String("arn:aws:iam::111122223333:role/app"),
	})
	var inUse *types.ResourceInUseException
	fmt.Println(errors.As(err, &inUse) && inUse.ErrorMessage() == "Association already exists: "+aws.ToString(a.AssociationId))
	// Output:
	// arn:aws:eks:eu-west-1:111122223333:cluster/demo ACTIVE
	// true
	// eu-west-1/111122223333/demo/default/app
	// true
}
