package assoccache

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// TestTableModel drives the compact table and a plain map through the
// same random puts, deletes and sweeps (small key spaces, so keys and IDs
// collide and replace each other often) and compares every lookup. The
// indexes start small, so they grow, and removals shift probe runs.
func TestTableModel(t *testing.T) {
	type modelKey struct{ cluster, ns, sa string }
	type modelRec struct {
		a    store.Association
		seen uint32
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newTable()
	model := map[string]modelRec{} // by ID
	byKey := func() map[modelKey]string {
		m := map[modelKey]string{}
		for id, r := range model {
			m[modelKey{r.a.ClusterName, r.a.Namespace, r.a.ServiceAccount}] = id
		}
		return m
	}
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }
	var gen uint32
	for step := range 20_000 {
		switch op := rng.IntN(100); {
		case op < 15 && len(model) > 0:
			// An update: a new state of a stored association.
			var a store.Association
			for _, r := range model {
				a = r.a
				break
			}
			a.RoleARN = pick("arn:aws:iam::111122223333:role/r", 5)
			a.Policy = []string{"", `{"Version":"2012-10-17"}`}[rng.IntN(2)]
			a.DisableSessionTags = !a.DisableSessionTags
			a.Revision, a.ModifiedAt = int64(step), time.Unix(0, int64(step))
			tab.put(&a, gen)
			model[a.ID] = modelRec{a, gen}
		case op < 70:
			a := store.Association{
				ID:                 pick("a-", 3000),
				ClusterName:        pick("c", 3),
				Namespace:          pick("ns", 3),
				ServiceAccount:     pick("sa-", 400),
				RoleARN:            pick("arn:aws:iam::111122223333:role/r", 5),
				TargetRoleARN:      []string{"", "arn:aws:iam::111122223333:role/t"}[rng.IntN(2)],
				ExternalID:         []string{"", "ext"}[rng.IntN(2)],
				DisableSessionTags: rng.IntN(2) == 0,
				Revision:           int64(step),
				ModifiedAt:         time.Unix(0, int64(step)),
			}
			tab.put(&a, gen)
			for id, r := range model {
				if id == a.ID || r.a.ClusterName == a.ClusterName && r.a.Namespace == a.Namespace && r.a.ServiceAccount == a.ServiceAccount {
					delete(model, id)
				}
			}
			model[a.ID] = modelRec{a, gen}
		case op < 95:
			id, cluster := pick("a-", 3000), pick("c", 3)
			tab.deleteID(id, "", cluster)
			if r, ok := model[id]; ok && r.a.ClusterName == cluster {
				delete(model, id)
			}
		default:
			gen++
			// A resync that sees about half of them again.
			for id, r := range model {
				if rng.IntN(2) == 0 {
					tab.put(&r.a, gen)
					model[id] = modelRec{r.a, gen}
				}
			}
			tab.sweep(gen)
			tab.compact() // below its own threshold at this size
			for id, r := range model {
				if r.seen != gen {
					delete(model, id)
				}
			}
		}
		if step%500 != 0 {
			continue
		}
		if tab.len() != len(model) {
			t.Fatalf("step %d: table holds %d, model %d", step, tab.len(), len(model))
		}
		keys := byKey()
		for c := range 3 {
			for ns := range 3 {
				for sa := range 400 {
					k := modelKey{fmt.Sprintf("c%d", c), fmt.Sprintf("ns%d", ns), fmt.Sprintf("sa-%d", sa)}
					got, ok := tab.lookup("", k.cluster, k.ns, k.sa)
					id, want := keys[k]
					if ok != want {
						t.Fatalf("step %d: lookup %v found %v, model %v", step, k, ok, want)
					}
					if !ok {
						continue
					}
					a := model[id].a
					if got.ID != a.ID || got.RoleARN != a.RoleARN || got.TargetRoleARN != a.TargetRoleARN ||
						got.ExternalID != a.ExternalID || got.Policy != a.Policy || got.DisableSessionTags != a.DisableSessionTags || got.Revision != a.Revision {
						t.Fatalf("step %d: lookup %v = %+v, model %+v", step, k, got, a)
					}
				}
			}
		}
		for id, r := range model {
			if m, ok := tab.modified(id); !ok || m != r.a.ModifiedAt.UnixNano() {
				t.Fatalf("step %d: modified(%s) = %d, %v; want %d", step, id, m, ok, r.a.ModifiedAt.UnixNano())
			}
		}
	}
	// Strings no association uses any more are dropped.
	for id := range model {
		tab.deleteID(id, "", model[id].a.ClusterName)
	}
	if tab.len() != 0 || len(tab.strs.nums) != 0 {
		t.Errorf("emptied table: %d associations, %d interned strings", tab.len(), len(tab.strs.nums))
	}
}

// TestIndexProbeRuns packs records into long probe runs that wrap around
// the end of the slots, removes them in random order and checks that
// every remaining record is still found after each removal.
func TestIndexProbeRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hashes := map[uint32]uint64{}
	hash := func(n uint32) uint64 { return hashes[n] }
	var x index
	const n = 300
	for i := range uint32(n) {
		hashes[i] = uint64(minSlots - 4 + rng.IntN(8)) // the last 4 slots and the first 4
		x.insert(hashes[i], i, hash)
	}
	live := map[uint32]bool{}
	for i := range uint32(n) {
		live[i] = true
	}
	for _, i := range rng.Perm(n) {
		x.remove(hashes[uint32(i)], uint32(i), hash)
		delete(live, uint32(i))
		for m := range live {
			if got, ok := x.find(hashes[m], func(k uint32) bool { return k == m }); !ok || got != m {
				t.Fatalf("after removing %d: record %d not found (%d live)", i, m, len(live))
			}
		}
		if x.n != len(live) {
			t.Fatalf("index counts %d, want %d", x.n, len(live))
		}
	}
}
