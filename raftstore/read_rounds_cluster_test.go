package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestAFollowersConcurrentReadsShareRoundTrips: a follower serving many
// leader and linearizable reads at once asks the leader far fewer times
// than it reads, and every read still sees the writes acknowledged before
// it began. Without rounds, each read is one request to the leader.
func TestAFollowersConcurrentReadsShareRoundTrips(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	follower := followers(c.nodes, leader)[0]
	for _, consistency := range []Consistency{Leader, Linearizable} {
		labels := map[string]string{"node": follower.s.ID(), "consistency": string(consistency)}
		before, _ := metricValue(t, "pedigree_raftstore_read_index_rounds_total", labels)

		const readers, readsEach = 64, 8
		cmds := make([][]models.Command, readers)
		for r := range cmds {
			for i := range readsEach {
				id := fmt.Sprintf("rounds-%s-%d-%d", consistency, r, i)
				cmds[r] = append(cmds[r], orgCmd(t, id, id))
			}
		}
		ctx := testCtx(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, readers*readsEach)
		for r := range readers {
			wg.Go(func() {
				<-start
				for _, cmd := range cmds[r] {
					// Write through the leader, then read on the follower:
					// the read must see the write.
					if _, err := leader.s.Propose(ctx, cmd); err != nil {
						errs <- err
						return
					}
					db, err := follower.s.Read(ctx, consistency)
					if err != nil {
						errs <- err
						return
					}
					var n int64
					if err := db.Model(&models.Organisation{}).Where("id = ?", cmd.ID).Count(&n).Error; err != nil {
						errs <- err
						return
					}
					if n != 1 {
						errs <- fmt.Errorf("%s read on the follower missed %s, acknowledged before it", consistency, cmd.ID)
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		after, _ := metricValue(t, "pedigree_raftstore_read_index_rounds_total", labels)
		rounds := after - before
		t.Logf("%s: %d reads took %.0f rounds", consistency, readers*readsEach, rounds)
		if rounds < 1 || rounds > readers*readsEach/2 {
			t.Fatalf("%s: %d concurrent reads took %.0f read-index rounds, want at least 1 and at most half as many", consistency, readers*readsEach, rounds)
		}
	}
}

// TestAFollowersReadsOutliveALeaderThatVanished: the leader vanishes
// without closing its connections (a black hole, as when its machine loses
// power), so the followers' read-index requests to it wait for answers
// that never come. Once the two elect a new leader, their reads, those
// already waiting and new ones, are answered by it rather than waiting out
// the old requests' timeouts.
func TestAFollowersReadsOutliveALeaderThatVanished(t *testing.T) {
	c := mustCluster(t, 3, nil)
	old := mustLeader(t, c.nodes)
	mustPropose(t, old.s, orgCmd(t, "before-the-hole", "before"))
	mustConverge(t, c.nodes, 1)
	rest := followers(c.nodes, old)

	old.net.blackhole()
	waiting := make(chan error, len(rest))
	for _, tn := range rest {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := tn.s.Read(ctx, Leader)
			waiting <- err
		}()
	}
	next := mustLeader(t, rest)
	follower := followers(rest, next)[0]

	// A read begun now on the remaining follower has 3 s, less than the
	// 10 s a request to the vanished leader may wait.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := follower.s.Read(ctx, Leader)
	cancel()
	if err != nil {
		t.Fatalf("a read on the follower after a new leader was elected: %v", err)
	}
	for range rest {
		select {
		case err := <-waiting:
			if err != nil {
				t.Fatalf("a read that was waiting when the leader vanished: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a read that was waiting when the leader vanished is still waiting")
		}
	}
	old.net.heal()
	mustConverge(t, c.nodes, 1)
}
