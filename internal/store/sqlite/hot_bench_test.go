package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// BenchmarkHot measures what podid bench drives, on a small store (1,000
// associations in one cluster): Get, and Update with a client request
// token (as the SDKs send it), one at a time and from 16 goroutines.
//
//	go test -run '^$' -bench Hot -benchtime 2s ./internal/store/sqlite
func BenchmarkHot(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "podid.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids := seed(b, s, 1, 1000)[0]

	runCPU(b, s, "Get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetAssociation(ctx, "", "bench-0", ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	var tokens atomic.Int64
	update := func(i int, token bool) error {
		var opts store.WriteOptions
		if token {
			n := tokens.Add(1)
			opts.Idempotency = &store.Idempotency{
				Key:  "UpdatePodIdentityAssociation/bench-0/" + fmt.Sprintf("%036d", n),
				Hash: fmt.Sprintf("%064d", i),
			}
		}
		_, err := s.UpdateAssociation(ctx, "", "bench-0", ids[i%len(ids)], func(a *store.Association) error {
			a.RoleARN = "arn:aws:iam::000000000000:role/r" + strconv.Itoa(i)
			a.ModifiedAt = time.Now()
			return nil
		}, opts)
		return err
	}
	for _, token := range []bool{false, true} {
		suffix := ""
		if token {
			suffix = "Token"
		}
		runCPU(b, s, "Update"+suffix, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := update(i, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		runCPU(b, s, "UpdateParallel"+suffix, func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 CPUs, as podid bench's workers
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := update(int(n.Add(1)), token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
