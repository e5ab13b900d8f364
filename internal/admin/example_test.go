package admin_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/sts"
)

// A server with the admin API mounted (no authentication, as with podid
// serve --auth none), and the client the podid commands use.
func ExampleClient() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "admin-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	iss, err := satoken.NewIssuer(ctx, "dev")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.CreateCluster(ctx, store.Cluster{Region: "us-east-1", Name: "dev", CreatedAt: time.Now(), Issuer: iss}, store.WriteOptions{}); err != nil {
		log.Fatal(err)
	}
	cache := assoccache.New(st, assoccache.Options{})
	if err := cache.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer cache.Stop()
	stsSvc, err := sts.New(sts.Config{AccountID: "111122223333", Keys: [][]byte{make([]byte, sts.KeySize)}})
	if err != nil {
		log.Fatal(err)
	}

	quiet := slog.New(slog.DiscardHandler)
	cfg := server.Config{Store: st, AccountID: "111122223333", Logger: quiet}
	names := cfg.Names()
	api := admin.New(admin.Config{
		Store: st, Cache: cache, Sessions: stsSvc, IssuerURL: names.IssuerURL,
		ClusterARN: names.ClusterARN, AssociationARN: names.AssociationARN, Logger: quiet,
	})
	cfg.Mounts = []func(*httpx.Host) error{api.Mount}
	srv, err := server.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	c := &admin.Client{Endpoint: hs.URL, Region: "us-east-1"} // unsigned: no Credentials
	tok, err := c.MintToken(ctx, "dev", admin.MintTokenInput{Namespace: "default", ServiceAccount: "app", PodName: "app-1", PodUID: "0cda7f85"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token:", satoken.WellFormed(tok.Token))
	doc, err := c.Issuer(ctx, "dev")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("issuer:", strings.TrimPrefix(doc.IssuerURL, server.DefaultPublicURL), "podid-issued:", doc.PodidIssued)
	_, err = c.Issuer(ctx, "prod")
	fmt.Println(err)
	// Output:
	// token: true
	// issuer: /clusters-oidc/dev podid-issued: true
	// ResourceNotFoundException: No cluster found for name: prod. (HTTP 404)
}
