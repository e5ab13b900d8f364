package eksauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/sts"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eksauth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// A podid-issued cluster and an association.
	iss, err := satoken.NewIssuer(ctx, "dev")
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	cluster, err := st.CreateCluster(ctx, store.Cluster{Region: "us-east-1", Name: "dev", CreatedAt: now, Issuer: iss}, store.WriteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.CreateAssociation(ctx, store.Association{
		Region: "us-east-1", ID: "a-0123456789abcdefg", ClusterName: "dev", Namespace: "default", ServiceAccount: "app",
		RoleARN: "arn:aws:iam::111122223333:role/app", CreatedAt: now, ModifiedAt: now,
	}, store.WriteOptions{}); err != nil {
		log.Fatal(err)
	}

	// The credential path: cache, verifier, STS, handler.
	cache := assoccache.New(st, assoccache.Options{})
	if err := cache.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer cache.Stop()
	stsSvc, err := sts.New(sts.Config{AccountID: "111122223333", Keys: [][]byte{make([]byte, sts.KeySize)}})
	if err != nil {
		log.Fatal(err)
	}
	issuerURL := func(c store.Cluster) string { return "http://127.0.0.1:8080/clusters-oidc/" + c.Name }
	h := eksauth.New(eksauth.Config{
		Cache: cache, Verifier: satoken.NewVerifier(satoken.VerifierOptions{}), Assumer: stsSvc,
		IssuerURL: issuerURL,
		AssociationARN: func(_, c, id string) string {
			return "arn:aws:eks:us-west-2:111122223333:podidentityassociation/" + c + "/" + id
		},
		ClusterARN: func(_, c string) string { return "arn:aws:eks:us-west-2:111122223333:cluster/" + c },
		Logger:     discard,
	})
	mux := httpx.New(httpx.Config{Logger: discard})
	if err := h.Mount(mux); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A pod's token, exchanged for credentials.
	token, err := satoken.Mint(iss.SigningKeys, issuerURL(cluster), satoken.Claims{
		Namespace: "default", ServiceAccount: "app", PodName: "app-1", PodUID: "0cda7f85",
	}, now, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: token})
	resp, err := http.Post(srv.URL+"/clusters/dev/assume-role-for-pod-identity", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out eksapi.AssumeRoleForPodIdentityOutput
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, out.Subject.ServiceAccount, out.PodIdentityAssociation.AssociationId)
	fmt.Println(out.AssumedRoleUser.Arn[:len("arn:aws:sts::111122223333:assumed-role/app/eks-dev-app-1-")])
	// Output:
	// 200 app a-0123456789abcdefg
	// arn:aws:sts::111122223333:assumed-role/app/eks-dev-app-1-
}
