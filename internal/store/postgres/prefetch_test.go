package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// TestPrefetchedUpdates: updates whose reads the writer sends ahead with
// the batch's first round trip, with audit appends beside them (in
// transactions of their own), updates of one shared association and updates reusing one
// client request token, on two replicas: no increment is lost, and a
// token's update is applied once however many calls carry it.
func TestPrefetchedUpdates(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	replicas := []store.Store{pgtest.Open(t, dsn), pgtest.Open(t, dsn)}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := replicas[0]
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 15
	ids := make([]string, workers+2) // each worker's, the shared one, the token's
	for i := range ids {
		a, err := s.CreateAssociation(ctx, association(fmt.Sprintf("a-%017d", i+1), "c1", "ns", fmt.Sprintf("sa%d", i)), store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}
	shared, tokened := ids[workers], ids[workers+1]
	incr := func(a *store.Association) error {
		if a.Tags == nil {
			a.Tags = map[string]string{}
		}
		n, _ := strconv.Atoi(a.Tags["n"])
		a.Tags["n"] = strconv.Itoa(n + 1)
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers*each)
	for w := range workers {
		st := replicas[w%2]
		wg.Go(func() {
			for i := range each {
				var err error
				switch i % 4 {
				case 0, 1:
					_, err = st.UpdateAssociation(ctx, "", "c1", ids[w], incr,
						store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprintf("own/%d/%d", w, i), Hash: "h"}})
				case 2:
					_, err = st.UpdateAssociation(ctx, "", "c1", shared, incr, store.WriteOptions{})
				case 3:
					_, err = st.UpdateAssociation(ctx, "", "c1", tokened, incr,
						store.WriteOptions{Idempotency: &store.Idempotency{Key: "the-token", Hash: "h"}})
				}
				if err != nil {
					errs <- err
				}
				if err := st.(store.Audit).AppendEvents(ctx, []store.Event{{
					ID: fmt.Sprintf("ev-%d-%d", w, i), Time: time.Now(), Name: "UpdatePodIdentityAssociation", Source: "eks.amazonaws.com",
				}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write: %v", err)
	}
	want := map[string]int{shared: 0, tokened: 1}
	for w := range workers {
		for i := range each {
			switch i % 4 {
			case 0, 1:
				want[ids[w]]++
			case 2:
				want[shared]++
			}
		}
	}
	for id, n := range want {
		got, err := replicas[1].GetAssociation(ctx, "", "c1", id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Tags["n"] != strconv.Itoa(n) {
			t.Errorf("association %s: n = %q, want %d", id, got.Tags["n"], n)
		}
	}
}
