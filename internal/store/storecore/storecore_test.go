package storecore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

func TestTimesAndTagsRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("x", 3600))
	if got, want := storecore.FromMicros(storecore.Micros(at)), storecore.StoredTime(at); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("FromMicros(Micros(t)) = %v, want %v in UTC", got, want)
	}
	for _, tags := range []map[string]string{nil, {}, {"k": "v", "ü": "\x00"}} {
		b, err := storecore.EncodeTags(tags)
		if err != nil {
			t.Fatal(err)
		}
		got, err := storecore.DecodeTags(b)
		if err != nil || got == nil || len(got) != len(tags) {
			t.Errorf("DecodeTags(EncodeTags(%v)) = %v, %v", tags, got, err)
		}
	}
	if _, err := storecore.DecodeTags([]byte("[")); err == nil {
		t.Error("DecodeTags of broken JSON: no error")
	}
}

func TestReplay(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	idem := &store.Idempotency{Key: "k", Hash: "h"}
	var rec storecore.Record
	if err := storecore.Remember(idem, store.Association{ID: "a-1"}, now, func(key string, r storecore.Record) error {
		if key != "k" {
			t.Errorf("key %q, want k", key)
		}
		rec = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var out store.Association
	if ok, err := storecore.Replay(idem, rec, now.Add(23*time.Hour), &out); !ok || err != nil || out.ID != "a-1" {
		t.Errorf("Replay within the TTL = %v, %v, %+v; want the stored result", ok, err, out)
	}
	if ok, err := storecore.Replay(&store.Idempotency{Key: "k", Hash: "other"}, rec, now, &out); ok || !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Errorf("Replay with another hash = %v, %v; want ErrIdempotencyMismatch", ok, err)
	}
	if ok, err := storecore.Replay(&store.Idempotency{Key: "k", Hash: "other"}, rec, now.Add(storecore.IdempotencyTTL+time.Second), &out); ok || err != nil {
		t.Errorf("Replay of an expired record = %v, %v; want no replay", ok, err)
	}
	if err := storecore.Remember(nil, 1, now, func(string, storecore.Record) error { t.Error("put without a token"); return nil }); err != nil {
		t.Error(err)
	}
}

func TestCutPage(t *testing.T) {
	for _, tt := range []struct {
		items    []string
		limit    int
		want     []string
		wantNext string
	}{
		{nil, 2, nil, ""},
		{[]string{"a", "b"}, 2, []string{"a", "b"}, ""},
		{[]string{"a", "b", "c"}, 2, []string{"a", "b"}, "b"},
	} {
		got, next := storecore.CutPage(tt.items, store.Page{Limit: tt.limit}, storecore.ClusterName)
		if diff := cmp.Diff(got, tt.want); diff != "" || next != tt.wantNext {
			t.Errorf("CutPage(%v, %d) = %v, %q; want %v, %q", tt.items, tt.limit, got, next, tt.want, tt.wantNext)
		}
	}
	if err := storecore.CheckPage(store.Page{}); err == nil {
		t.Error("CheckPage(limit 0): no error")
	}
}

func TestEditAndWriteError(t *testing.T) {
	a := store.Association{ID: "a-1", ClusterName: "c", Namespace: "n", ServiceAccount: "s"}
	err := storecore.EditAssociation(&a, func(a *store.Association) error {
		a.ID, a.ClusterName, a.RoleARN = "moved", "moved", "r"
		return nil
	})
	if err != nil || a.ID != "a-1" || a.ClusterName != "c" || a.RoleARN != "r" || a.Tags == nil {
		t.Errorf("EditAssociation = %+v, %v; want the key kept, the edit applied, tags not nil", a, err)
	}
	no := errors.New("fn says no")
	err = storecore.EditAssociation(&a, func(*store.Association) error { return no })
	if got := storecore.WriteError(err, "updating %s", "a-1"); got != no {
		t.Errorf("WriteError(fn's error) = %v, want fn's error as is", got)
	}
	if got := storecore.WriteError(store.ErrNotFound, "updating %s", "a-1"); !errors.Is(got, store.ErrNotFound) || !strings.HasPrefix(got.Error(), "updating a-1: ") {
		t.Errorf("WriteError(ErrNotFound) = %v, want it wrapped with context", got)
	}
	if storecore.WriteError(nil, "x") != nil {
		t.Error("WriteError(nil) != nil")
	}
}

// TestAuditInsertArgs: the resources column is json.Marshal's encoding of
// the event's resources (a nil list as []), the record as given.
func TestAuditInsertArgs(t *testing.T) {
	for _, rs := range [][]store.EventResource{nil, {}, {{Type: "AWS::EKS::Cluster", Name: "arn:aws:eks:us-east-1:1:cluster/dev"}},
		{{Type: "T<&>", Name: "é\x00\xff\"\\"}, {Type: "", Name: strings.Repeat("n", 600)}}} {
		e := store.Event{ID: "ev", Time: time.UnixMicro(42), Name: "n", Source: "s", ReadOnly: true, Username: "u", AccessKeyID: "k", Resources: rs, Record: []byte(`{"a":1}`)}
		args, err := storecore.AppendAuditInsertArgs([]any{"before"}, e)
		if err != nil {
			t.Fatal(err)
		}
		want := rs
		if want == nil {
			want = []store.EventResource{}
		}
		wantJSON, _ := json.Marshal(want)
		if diff := cmp.Diff(args, []any{"before", "ev", int64(42), "n", "s", true, "u", "k", string(wantJSON), `{"a":1}`}); diff != "" {
			t.Errorf("args (-got +want):\n%s", diff)
		}
	}
	if _, err := storecore.AppendAuditInsertArgs(nil, store.Event{}); err == nil {
		t.Error("an event without an ID: no error")
	}
}
