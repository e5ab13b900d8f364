package httpx

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podid/podid/eksapi"
)

// DefaultMaxConnsPerAddress is podid serve's default cap on the open
// connections of one client address: far more than one client's
// concurrency (the SDKs keep a few connections per host; a node's agent
// serves its pods through a handful), while its bodies at the default
// limit hold at most half of the default body budget.
const DefaultMaxConnsPerAddress = 64

// connRefusal is what a connection beyond the cap gets before it is
// closed: a 503 in the restJson1 throttling shape (eksapi's encoding) (the awsQuery SDKs,
// which cannot read it, still retry a 503). It is written before the
// request is read, so it cannot speak the route's protocol.
var connRefusal = func() []byte {
	body := eksapi.ErrorToJSON(&eksapi.Error{Code: eksapi.CodeThrottling, Status: http.StatusServiceUnavailable, Message: msgConnCap})
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\n" +
		"X-Amzn-ErrorType: ThrottlingException\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Connection: close\r\n\r\n" + string(body))
}()

// LimitConnsPerAddress returns a listener that lets no client address
// (the remote IP) hold more than max open connections: Accept answers one
// more with a 503 ThrottlingException and closes it at once, so the
// connections one address can make cost nothing beyond the cap. Refusals
// are logged to log at most once every 10 seconds, with their count.
func LimitConnsPerAddress(ln net.Listener, max int, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.Default()
	}
	return &addrLimitListener{Listener: ln, max: max, log: log, open: map[netip.Addr]int{}}
}

type addrLimitListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu   sync.Mutex
	open map[netip.Addr]int

	refused    atomic.Int64 // since the last log line
	lastLogged atomic.Int64 // unix nanoseconds
}

// Accept returns the next connection within its address's cap.
func (l *addrLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteIP(c)
		if l.acquire(addr) {
			return &limitedConn{Conn: c, release: func() { l.release(addr) }}, nil
		}
		l.refuse(c, addr)
	}
}

func (l *addrLimitListener) acquire(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] >= l.max {
		return false
	}
	l.open[a]++
	return true
}

func (l *addrLimitListener) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] <= 1 {
		delete(l.open, a)
		return
	}
	l.open[a]--
}

// refuse answers c and closes it. The write goes to a fresh socket's empty
// send buffer; the deadline only guards the accept loop.
func (l *addrLimitListener) refuse(c net.Conn, a netip.Addr) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(connRefusal)
	_ = c.Close()
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	if last := l.lastLogged.Load(); now-last >= int64(10*time.Second) && l.lastLogged.CompareAndSwap(last, now) {
		l.refused.Add(-n)
		l.log.Warn("refused connections beyond the per-address cap (--max-conns-per-address)",
			"address", a.String(), "cap", l.max, "refused", n)
	}
}

// remoteIP is c's client address (IPv4-mapped IPv6 as IPv4); the zero
// Addr, one shared bucket, when it has none.
func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its address's slot back when closed (once, however
// often the server closes it).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite keeps the server's graceful close (FIN, then a short wait
// for the client) for TCP connections.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
