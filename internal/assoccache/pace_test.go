package assoccache

import "testing"

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name         string
		live, cached uint64
		want         int
	}{
		{"no heap measured yet", 0, 0, 100},
		{"small heap, no cache: the minimum headroom", 10 * mib, 0, 320},
		{"tiny heap, no cache", 4 * mib, 0, 800},
		{"large heap, no cache", 500 * mib, 0, 100},
		{"small cache: its share left out", 40 * mib, 4 * mib, 90},
		{"cache of 100k: the rest of the heap", 100 * mib, 15 * mib, 85},
		{"cache of 1M: the minimum headroom", 170 * mib, 150 * mib, 18},
		{"cache larger than measured", 100 * mib, 120 * mib, 32},
		{"huge cache: at least 1", 1 << 40, 1<<40 - 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gcPercent(tc.live, tc.cached); got != tc.want {
				t.Errorf("gcPercent(%d, %d) = %d, want %d", tc.live, tc.cached, got, tc.want)
			}
		})
	}
}
