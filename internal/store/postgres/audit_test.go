package postgres_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/storetest"
)

// TestAppendEventsRetriedWithNew appends a batch holding events stored
// already and new ones, as an append retried after a lost answer does
// once more events joined it: COPY refuses the batch, and the INSERTs
// that follow store the new events once, with their resource keys, and
// keep one copy of the others.
func TestAppendEventsRetriedWithNew(t *testing.T) {
	s := pgtest.Open(t, pgtest.Schema(t, pgtest.DSN(t)))
	ctx := t.Context()
	events := storetest.UpdateEvents(5, 0, storetest.EventRecord())
	if err := s.AppendEvents(ctx, events[:3]); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if err := s.AppendEvents(ctx, []store.Event{events[3], events[1], events[4]}); err != nil {
		t.Fatalf("AppendEvents with an event stored already: %v", err)
	}
	eventIDs := func(q store.EventQuery) []string {
		t.Helper()
		q.Limit = 10
		got, _, err := s.LookupEvents(ctx, q)
		if err != nil {
			t.Fatalf("LookupEvents(%+v): %v", q, err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	var want []string
	for i := len(events) - 1; i >= 0; i-- { // newest first
		want = append(want, events[i].ID)
	}
	if diff := cmp.Diff(eventIDs(store.EventQuery{}), want); diff != "" {
		t.Errorf("the trail (-got +want):\n%s", diff)
	}
	for _, e := range events {
		for _, r := range e.Resources {
			got := eventIDs(store.EventQuery{Attribute: store.EventAttrResourceName, Value: r.Name})
			if !slices.Contains(got, e.ID) {
				t.Errorf("LookupEvents by resource name %s = %v; want %s among them", r.Name, got, e.ID)
			}
		}
	}
	if got := eventIDs(store.EventQuery{Attribute: store.EventAttrResourceType, Value: "AWS::EKS::PodIdentityAssociation"}); len(got) != len(events) {
		t.Errorf("LookupEvents by resource type = %v; want all %d events once", got, len(events))
	}
}
