package storecore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/store/storecore"
)

// TestPruneEventsSkipsTheWalkWithinKeep: with a count bound within keep,
// PruneEvents reads no keep+1'th newest event (a walk of keep entries);
// beyond it, it does; with nothing to delete it makes no write.
func TestPruneEventsSkipsTheWalkWithinKeep(t *testing.T) {
	for _, c := range []struct {
		maxEvents int64
		walk      bool
	}{{20, false}, {21, true}} {
		var walked bool
		read := storecore.AuditRead{
			Cutoff: func(_ context.Context, sql string, _ ...any) (int64, string, bool, error) {
				walked = walked || strings.Contains(sql, "OFFSET")
				return 0, "", false, nil
			},
			MaxEvents: func(context.Context) (int64, error) { return c.maxEvents, nil },
		}
		n, err := storecore.PruneEvents(t.Context(), time.UnixMicro(0), 20, storecore.Question, read,
			func(context.Context, func(storecore.AuditTx) error) error {
				t.Errorf("bound %d: a write with nothing to delete", c.maxEvents)
				return nil
			})
		if err != nil || n != 0 || walked != c.walk {
			t.Errorf("bound %d of keep 20: PruneEvents = %d, %v, walked %v; want 0, nil, %v", c.maxEvents, n, err, walked, c.walk)
		}
	}
}
