package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Per-token rate limits: each API token has a token bucket, so one runaway
// client (a scanner stuck in a loop, a leaked token) cannot starve the
// others. Twenty lines of bucket arithmetic did not justify a new module
// (golang.org/x/time/rate).

// Default limits per token: far above a pharmacy's scanning rate, below
// what one client could use to crowd out a node.
const (
	defaultRatePerSecond = 1000
	defaultRateBurst     = 2000
)

// orgRateFactor is how many tokens' worth of requests an organisation's
// tokens may make together. Any organisation may issue itself tokens, so
// without a limit of its own it could take any share of a node by
// issuing more; with it, a busy organisation still has room for several
// tokens at their full rate.
const orgRateFactor = 4

// rateLimiter holds one bucket per key: a token's hash, or an
// organisation's id.
type rateLimiter struct {
	rate  float64 // tokens per second; 0 means unlimited
	burst float64
	now   func() time.Time
	// whose names the key's holder in a refusal: "this token".
	whose string

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{rate: perSecond, burst: float64(burst), now: time.Now, whose: "this token", buckets: map[string]*bucket{}}
}

// newOrgRateLimiter is the limit of each organisation's tokens together,
// given the limit of one token.
func newOrgRateLimiter(perSecond float64, burst int) *rateLimiter {
	l := newRateLimiter(perSecond*orgRateFactor, burst*orgRateFactor)
	l.whose = "this organisation's tokens together"
	return l
}

// allow takes one request from key's bucket; when it is empty it says how
// long until a request would be allowed.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 100000 {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets that have refilled: they hold no information.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// admit takes one request of the token whose hash is key, or returns
// 429 rate_limited with Retry-After set on c.
func (l *rateLimiter) admit(c *gin.Context, key string) error {
	ok, wait := l.allow(key)
	if ok {
		return nil
	}
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return errf(http.StatusTooManyRequests, "rate_limited", "%s may make %.0f requests/s (burst %.0f); retry after %s", l.whose, l.rate, l.burst, wait.Round(time.Millisecond))
}
