package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "podid-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := sqlite.Open(ctx, filepath.Join(dir, "data", "podid.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	now := time.Now()
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "demo", CreatedAt: now}, store.WriteOptions{}); err != nil {
		log.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, store.Association{
		ID:             "a-abcdefghij0123456",
		ClusterName:    "demo",
		Namespace:      "default",
		ServiceAccount: "app",
		RoleARN:        "arn:aws:iam::000000000000:role/app",
		CreatedAt:      now,
		ModifiedAt:     now,
	}, store.WriteOptions{MaxPerCluster: 5000})
	if err != nil {
		log.Fatal(err)
	}

	// A second association for the same service account is refused,
	// naming the existing one.
	_, err = s.CreateAssociation(ctx, store.Association{
		ID: "a-zzzzzzzzzz0123456", ClusterName: "demo", Namespace: "default", ServiceAccount: "app",
	}, store.WriteOptions{})
	fmt.Println(err)

	// Read-modify-write in one transaction.
	a, err = s.UpdateAssociation(ctx, "", "demo", a.ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/app-v2"
		a.ModifiedAt = time.Now()
		return nil
	}, store.WriteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.ID, a.RoleARN)

	items, next, err := s.ListAssociations(ctx, "", "demo", store.AssociationFilter{Namespace: "default"}, store.Page{Limit: 100})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d item(s), next page %q\n", len(items), next)

	if err := s.IntegrityCheck(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// creating association: already exists: a-abcdefghij0123456
	// a-abcdefghij0123456 arn:aws:iam::000000000000:role/app-v2
	// 1 item(s), next page ""
}
