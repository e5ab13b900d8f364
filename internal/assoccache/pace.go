package assoccache

import (
	"os"
	"runtime"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"sync"
	"unsafe"
)

// The garbage collector's pacing (GOGC, 100 by default) lets the heap grow
// to twice its live size before the next collection. A million cached
// associations are ~150 MiB of that live heap, though none of it is ever
// garbage nor scanned (the table holds no pointers): the default pacing
// would leave ~150 MiB of headroom for the garbage of requests, headroom
// that the first load's debug.FreeOSMemory has handed back to the OS. Each
// request's garbage then lands on pages the process has never touched, one
// page fault each 4 KiB: a List page of 100 associations (~170 KiB of
// garbage) took twice as long at 1M associations as at 1k until ~150 MiB
// had been allocated (issue 11). So the cache paces the collector as if
// its table were not there: the heap may grow by the rest of the live heap
// (what GOGC=100 would give a process without the cache), and by at least
// minHeadroom, so that request garbage is collected and its pages reused
// about as often whatever the number of associations.
//
// A small server gets minHeadroom too, where GOGC=100 would give it its
// live heap (7 MiB at 2,000 associations): with 26 KB of garbage per
// UpdatePodIdentityAssociation, the collector ran every ~270 updates and
// took ~17 µs of CPU per update, more than podid's own handler code (issue
// 11: BenchmarkServeUpdateHandler 191-195 -> 172-177 µs of CPU per update
// at GOGC 100 -> 400); the price is minHeadroom of RSS at most.
const minHeadroom = 32 << 20

// gcPercent is the GOGC that gives a live heap of live bytes, cached of
// them the table's, a headroom of max(minHeadroom, live-cached), at least
// 1 percent; 100 before a collection has measured the heap.
func gcPercent(live, cached uint64) int {
	if live == 0 {
		return 100
	}
	headroom := uint64(minHeadroom)
	if cached < live && live-cached > headroom {
		headroom = live - cached
	}
	return int(max(1, headroom*100/live))
}

var pacing struct {
	mu      sync.Mutex
	percent int // the last percent set; 0: none set yet
}

// paceGC sets GOGC for a cache table of cached bytes, from the live heap
// the last collection found, unless GOGC was set in the environment (the
// operator's choice stands).
func paceGC(cached uint64) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []runtimemetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	runtimemetrics.Read(sample)
	if sample[0].Value.Kind() != runtimemetrics.KindUint64 {
		return
	}
	p := gcPercent(sample[0].Value.Uint64(), cached)
	pacing.mu.Lock()
	defer pacing.mu.Unlock()
	if p != pacing.percent {
		debug.SetGCPercent(p)
		pacing.percent = p
	}
}

// bytes is the memory the table's slices hold (their capacities; the
// interned strings, shared by many associations, are left out).
func (t *table) bytes() uint64 {
	return uint64(cap(t.recs))*uint64(unsafe.Sizeof(rec{})) + uint64(cap(t.arena)) +
		4*uint64(cap(t.free)+cap(t.byKey.slots)+cap(t.byID.slots))
}

// warmHeadroomMax bounds what warmHeadroom touches.
const warmHeadroomMax = 256 << 20

// warmHeadroom touches, once the first load's debug.FreeOSMemory has
// handed the heap's free pages back to the OS and paceGC has set the
// heap's goal, the headroom between the live heap and that goal, then
// frees it: the pages stay the heap's (the scavenger keeps what the goal
// allows), and the allocator, which takes the lowest free pages first,
// gives request garbage these pages again. Without it the requests after
// start met those pages fresh, one page fault each 4 KiB, until their
// garbage had filled the headroom once: on the 1M data set the first 300
// List pages took 24-26 minor faults each (1.7-5.3 with it) and ~1.35x
// the median time of a 1k server's (1.05-1.17 with it); issue 11. It costs
// the headroom in RSS at once (at 1M 25 MiB) instead of after those pages.
func warmHeadroom() {
	sample := []runtimemetrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	runtimemetrics.Read(sample)
	if sample[0].Value.Kind() != runtimemetrics.KindUint64 || sample[1].Value.Kind() != runtimemetrics.KindUint64 {
		return
	}
	goal, live := sample[0].Value.Uint64(), sample[1].Value.Uint64()
	if goal <= live {
		return
	}
	// Chunks of the size of a List page's garbage: each a run of pages
	// of its own, taken first-fit as the requests' spans will be.
	const chunk = 64 << 10
	chunks := make([][]byte, 0, min(goal-live, warmHeadroomMax)/chunk)
	for range cap(chunks) {
		b := make([]byte, chunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // fresh pages are zero: make alone does not touch them
		}
		chunks = append(chunks, b)
	}
	runtime.KeepAlive(chunks)
	runtime.GC()
}
