package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/internal/store"
)

// BenchmarkUpdateWALFrames runs podid bench's Update phase against the
// store (8 writers, each flipping its own association's role with a fresh
// client request token, as aws-sdk-go-v2 sends one; the audit events of
// those requests appended as the server's recorder does, a batch every
// 50 ms) with checkpoints held off, then reads the -wal file's frame
// headers and reports the frames per commit and per Update, by the b-tree
// each frame's page belongs to (dbstat), and the process's CPU per Update
// (the audit appends included):
//
//	go test -run '^$' -bench UpdateWALFrames -benchtime 3000x ./internal/store/sqlite
//
// -updateprofile FILE writes a CPU profile of the Update phase alone (not
// the setup's): the writer goroutine's CPU per Update is runBatch's
// cumulative time in it over the Updates made (b.N rounded up to a
// multiple of 8).
func BenchmarkUpdateWALFrames(b *testing.B) {
	setCheckpointFrames(b, 1<<31, 1<<30)

	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "podid.db")
	s, err := open(ctx, path, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	// The bench's store: 2,000 associations in 10 clusters, created with
	// tokens, and an audit trail and idempotency records of a run before.
	const clusters, perCluster, writers = 10, 200, 8
	region := "us-east-1"
	type key struct{ cluster, id string }
	var keys []key
	for c := range clusters {
		cluster := fmt.Sprint("bench-", c)
		if _, err := s.CreateCluster(ctx, store.Cluster{Region: region, Name: cluster}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range perCluster {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := store.Association{
					Region: region, ClusterName: cluster, ID: fmt.Sprintf("a-%017d", c*perCluster+i),
					Namespace: "bench", ServiceAccount: fmt.Sprint("sa-", i), RoleARN: "arn:aws:iam::000000000000:role/bench-a",
					OwnerARN: "arn:aws:iam::000000000000:root", CreatedAt: time.Now(), ModifiedAt: time.Now(),
					Tags: map[string]string{},
				}
				if _, err := s.CreateAssociation(ctx, a, walBenchToken("CreatePodIdentityAssociation", region, cluster)); err != nil {
					b.Error(err)
				}
				mu.Lock()
				keys = append(keys, key{cluster, a.ID})
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	record := walBenchRecord()
	for range 100 { // 20,000 events before
		events := make([]store.Event, 200)
		for i := range events {
			k := keys[i%len(keys)]
			events[i] = walBenchEvent(region, k.cluster, k.id, record)
		}
		if err := s.AppendEvents(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	// Start the WAL over: every frame after this is the Update phase's.
	side, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		b.Fatal(err)
	}
	defer side.Close()
	var busy, logged, copied int
	if err := side.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &copied); err != nil || busy != 0 {
		b.Fatalf("checkpoint: busy %d, %v", busy, err)
	}

	events, appended := recorderLoop(b, s)

	var wg sync.WaitGroup
	per := b.N/writers + 1
	b.ResetTimer()
	if *updateProfile != "" && b.N > 1 {
		f, err := os.Create(*updateProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile() // a Fatal on the way
	}
	cpu0 := processCPU()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := keys[w]
			for i := range per {
				_, err := s.UpdateAssociation(ctx, region, k.cluster, k.id, func(a *store.Association) error {
					a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/bench-", "ab"[i%2:i%2+1])
					a.ModifiedAt = time.Now()
					return nil
				}, walBenchToken("UpdatePodIdentityAssociation", region, k.cluster))
				if err != nil {
					b.Error(err)
					return
				}
				events <- walBenchEvent(region, k.cluster, k.id, record)
			}
		}()
	}
	wg.Wait()
	close(events)
	<-appended
	b.StopTimer()
	cpu := processCPU() - cpu0
	pprof.StopCPUProfile()
	updates := per * writers

	pages, err := walPages(path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	owner := map[uint32]string{}
	rows, err := side.QueryContext(ctx, "SELECT name, pageno FROM dbstat")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			b.Fatal(err)
		}
		owner[page] = name
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	byTree := map[string]int{}
	frames, commits := 0, 0
	for _, p := range pages {
		frames++
		name, ok := owner[p.page]
		if !ok {
			name = "(free)"
		}
		byTree[name]++
		if p.commit {
			commits++
		}
	}
	if commits == 0 {
		b.Fatal("no commits in the WAL")
	}
	names := make([]string, 0, len(byTree))
	for n := range byTree {
		names = append(names, n)
	}
	slices.SortFunc(names, func(x, y string) int { return byTree[y] - byTree[x] })
	var report strings.Builder
	fmt.Fprintf(&report, "%d updates, %d commits (%.1f updates/commit), %d frames: %.2f frames/commit, %.2f frames/update\n",
		updates, commits, float64(updates)/float64(commits), frames, float64(frames)/float64(commits), float64(frames)/float64(updates))
	for _, n := range names {
		fmt.Fprintf(&report, "  %-28s %6d frames  %5.2f/commit  %5.2f/update\n", n, byTree[n],
			float64(byTree[n])/float64(commits), float64(byTree[n])/float64(updates))
	}
	if b.N > 1 { // not the first, one-op round
		fmt.Fprint(os.Stderr, report.String())
	}
	b.ReportMetric(float64(frames)/float64(commits), "frames/commit")
	b.ReportMetric(float64(frames)/float64(updates), "frames/update")
	b.ReportMetric(float64(cpu.Microseconds())/float64(updates), "cpu-us/update")
}

var updateProfile = flag.String("updateprofile", "", "BenchmarkUpdateWALFrames: write a CPU profile of its Update phase to this file")

// walFrame is a frame header of a -wal file: the page it holds and whether
// it ends a transaction (its commit frame).
type walFrame struct {
	page   uint32
	commit bool
}

// walPages reads the frame headers of the -wal file at path, those of its
// current generation (salts as in its header).
func walPages(path string) ([]walFrame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("%s: no WAL header", path)
	}
	pageSize := int(binary.BigEndian.Uint32(b[8:]))
	salt1, salt2 := binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])
	var out []walFrame
	for off := 32; off+24+pageSize <= len(b); off += 24 + pageSize {
		h := b[off:]
		if binary.BigEndian.Uint32(h[8:]) != salt1 || binary.BigEndian.Uint32(h[12:]) != salt2 {
			break
		}
		out = append(out, walFrame{page: binary.BigEndian.Uint32(h), commit: binary.BigEndian.Uint32(h[4:]) != 0})
	}
	return out, nil
}

// walBenchToken is the write options of a request with a fresh client
// request token, keyed as the server keys it.
func walBenchToken(op, region, cluster string) store.WriteOptions {
	return store.WriteOptions{Idempotency: &store.Idempotency{
		Key:  op + "/" + region + "/" + cluster + "/" + uuid.NewString(),
		Hash: strings.Repeat("5f", 32),
	}}
}

// walBenchRecord is a CloudTrail record of an UpdatePodIdentityAssociation's
// size (1,182 bytes in a podid bench run's trail).
func walBenchRecord() []byte {
	return []byte(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::000000000000:user/admin",` +
		`"accountId":"000000000000","accessKeyId":"AKIAEXAMPLE","userName":"admin"},` + strings.Repeat(`"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",`, 26) + `"z":1}`)
}

func walBenchEvent(region, cluster, id string, record []byte) store.Event {
	clusterARN := "arn:aws:eks:" + region + ":000000000000:cluster/" + cluster
	return store.Event{
		ID: uuid.Must(uuid.NewV7()).String(), Time: time.Now(), Name: "UpdatePodIdentityAssociation", Source: "eks.amazonaws.com",
		Username: "admin", AccessKeyID: "AKIAEXAMPLE",
		Resources: []store.EventResource{
			{Type: "AWS::EKS::Cluster", Name: clusterARN},
			{Type: "AWS::EKS::PodIdentityAssociation", Name: "arn:aws:eks:" + region + ":000000000000:podidentityassociation/" + cluster + "/" + id},
		},
		Record: record,
	}
}
