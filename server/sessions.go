package server

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Dashboard sessions. A browser signs in once with an API token; from then
// on its cookie carries only a random session id, never the token, so the
// cookie is worth nothing once the session ends and a copy of it never
// reveals a credential that works against the API.
//
// Sessions are per node and in memory: a browser talks to one node, and
// losing the sessions when the node restarts only means signing in again.
// They are not replicated, and the ledger never sees them. The node keeps
// only a hash of each session id, mapped to the organisation and the hash
// of the token it signed in with; every request re-checks that token, so a
// session dies with its token's revocation.

// Session limits.
const (
	// sessionLifetime is a session's absolute limit, however busy.
	sessionLifetime = 12 * time.Hour
	// sessionIdle ends a session nobody has used for that long: an
	// unattended browser at a pharmacy counter should not stay signed in.
	sessionIdle = 30 * time.Minute
	// maxSessions bounds the table. When it is full, expired sessions go
	// first, then the one idle longest.
	maxSessions = 10000
	// maxOrgSessions bounds one organisation's share of the table, so that
	// signing in over and over with its tokens (which it may issue itself)
	// ends only its own sessions, never other organisations': at the cap,
	// its own session idle longest goes. Enough for every counter and
	// office browser of a large pharmacy or wholesaler.
	maxOrgSessions = 256
)

// dashSession is what the node remembers about one signed-in browser.
type dashSession struct {
	org       string
	tokenHash string // the hash of the API token the browser signed in with
	created   time.Time
	lastSeen  time.Time
}

// sessionKey is the stored form of a session id: its SHA-256, so a dump of
// the table (a heap profile, a core file) gives no usable cookie.
type sessionKey [sha256.Size]byte

func keyOfSession(id string) sessionKey { return sha256.Sum256([]byte(id)) }

// sessionStore is a node's table of dashboard sessions.
type sessionStore struct {
	now      func() time.Time
	lifetime time.Duration
	idle     time.Duration
	max      int
	maxOrg   int

	mu     sync.Mutex
	m      map[sessionKey]*dashSession
	perOrg map[string]int // sessions held per organisation
}

func newSessionStore() *sessionStore {
	return &sessionStore{now: time.Now, lifetime: sessionLifetime, idle: sessionIdle, max: maxSessions,
		maxOrg: maxOrgSessions, m: map[sessionKey]*dashSession{}, perOrg: map[string]int{}}
}

// create starts a session for the organisation that signed in with the
// token whose hash is given, and returns the session id for the cookie: 32
// random bytes, base64url, made as a token is (randomSecret).
func (s *sessionStore) create(org, tokenHash string) (string, error) {
	id, err := randomSecret()
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perOrg[org] >= s.maxOrg {
		s.makeRoom(now, org)
	}
	if len(s.m) >= s.max {
		s.makeRoom(now, "")
	}
	s.m[keyOfSession(id)] = &dashSession{org: org, tokenHash: tokenHash, created: now, lastSeen: now}
	s.perOrg[org]++
	return id, nil
}

// makeRoom drops the expired sessions and, if that left the table (with
// org, the organisation's share) full, the one idle longest (the
// organisation's). It runs only when a sign-in finds no room, so its
// linear scan is paid once per maxOrgSessions sign-ins of an organisation
// at most, and once per maxSessions of all.
func (s *sessionStore) makeRoom(now time.Time, org string) {
	var oldest sessionKey
	var oldestSeen time.Time
	for k, ss := range s.m {
		if s.expired(ss, now) {
			s.remove(k, ss)
			continue
		}
		if org != "" && ss.org != org {
			continue
		}
		if oldestSeen.IsZero() || ss.lastSeen.Before(oldestSeen) {
			oldest, oldestSeen = k, ss.lastSeen
		}
	}
	full := len(s.m) >= s.max
	if org != "" {
		full = s.perOrg[org] >= s.maxOrg
	}
	if full && !oldestSeen.IsZero() {
		s.remove(oldest, s.m[oldest])
	}
}

// remove deletes the session under k, ss, keeping the counts.
func (s *sessionStore) remove(k sessionKey, ss *dashSession) {
	delete(s.m, k)
	if s.perOrg[ss.org]--; s.perOrg[ss.org] <= 0 {
		delete(s.perOrg, ss.org)
	}
}

func (s *sessionStore) expired(ss *dashSession, now time.Time) bool {
	return now.Sub(ss.created) >= s.lifetime || now.Sub(ss.lastSeen) >= s.idle
}

// get returns the live session with id and marks it used; an expired one is
// deleted and not returned.
func (s *sessionStore) get(id string) (dashSession, bool) {
	k, now := keyOfSession(id), s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[k]
	if !ok {
		return dashSession{}, false
	}
	if s.expired(ss, now) {
		s.remove(k, ss)
		return dashSession{}, false
	}
	ss.lastSeen = now
	return *ss, true
}

// delete ends the session with id, if there is one.
func (s *sessionStore) delete(id string) {
	k := keyOfSession(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[k]; ok {
		s.remove(k, ss)
	}
}

// len is the number of sessions held, expired or not.
func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
