package satoken_test

import (
	"context"
	"fmt"
	"time"

	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
)

func Example() {
	ctx := context.Background()
	// A podid-issued cluster: its issuer holds a fresh signing key.
	iss, err := satoken.NewIssuer(ctx, "c1")
	if err != nil {
		panic(err)
	}
	cluster := store.Cluster{Region: "us-east-1", Name: "c1", Issuer: iss}
	issuerURL := "https://podid.example" + satoken.DiscoveryPrefix + "c1"

	token, err := satoken.Mint(iss.SigningKeys, issuerURL, satoken.Claims{
		Namespace: "ns-a", ServiceAccount: "sa1", PodName: "app1", PodUID: "fd6df8ef",
	}, time.Now(), 24*time.Hour)
	if err != nil {
		panic(err)
	}

	v := satoken.NewVerifier(satoken.VerifierOptions{})
	claims, err := v.Verify(ctx, cluster, issuerURL, token)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject, claims.PodName)
	// Output: system:serviceaccount:ns-a:sa1 app1
}
