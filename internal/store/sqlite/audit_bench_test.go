package sqlite_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// BenchmarkAppendEvents stores the audit trail's batches (50 events of a
// credential request's size, two resources each) with event IDs as
// podid's request IDs make them: random (UUIDv4) or time-ordered (UUIDv7).
// The table is keyed by event ID, so the IDs' order decides how many
// pages each commit dirties. It reports the process's CPU per event.
func BenchmarkAppendEvents(b *testing.B) {
	for _, kind := range []struct {
		name string
		id   func() string
	}{
		{"v4", uuid.NewString},
		{"v7", func() string { return uuid.Must(uuid.NewV7()).String() }},
	} {
		b.Run(kind.name, func(b *testing.B) {
			st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "podid.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			record := []byte(`{"eventVersion":"1.09",` + strings.Repeat(`"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",`, 40) + `"z":1}`)
			const batch = 50
			var ru0 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			n := 0
			for b.Loop() {
				events := make([]store.Event, batch)
				for i := range events {
					events[i] = store.Event{
						ID: kind.id(), Time: time.Now(), Name: "AssumeRoleForPodIdentity", Source: "eks-auth.amazonaws.com",
						ReadOnly: false, Username: "podid-node-c1", AccessKeyID: "AKIAEXAMPLE",
						Resources: []store.EventResource{
							{Type: "AWS::EKS::Cluster", Name: "arn:aws:eks:us-east-1:000000000000:cluster/c1"},
							{Type: "AWS::IAM::Role", Name: "arn:aws:iam::000000000000:role/app"},
						},
						Record: record,
					}
				}
				if err := st.AppendEvents(b.Context(), events); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			var ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
		})
	}
}
