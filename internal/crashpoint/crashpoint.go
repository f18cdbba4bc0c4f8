// Package crashpoint lets tests crash the process at an exact point instead
// of at a random time: with BANDERCHECK_CRASH_AT=NAME:N in the environment,
// the Nth time the point NAME is reached the process sends itself SIGKILL,
// with no cleanup, as the kernel's OOM killer or a power cut would. Points:
// "renamed" (a shard renamed into place, not yet recorded), "journaled"
// (its entry appended to the shard journal, past the count _stage.json
// records), "partial" (one
// manifest of a stage recorded a commit, the others not yet), "shard" (a
// commit of new shards recorded in every manifest of a stage), "download" (a file installed in
// the mirror), "unlink" (a file unlinked, before its folders are pruned),
// "remove" (a project path removed); sync's "sync-upstream" (the index
// listed), "sync-todo" (the projects to fetch listed), "sync-project" (a
// project's rows committed), "sync-download" (a file of a sync installed),
// "sync-remove" (a gone project removed), "sync-index", "sync-status",
// "sync-last-modified" (that step of the end done). Only stages that resume count: one
// opened to start over would meet the same point again. A crash at "renamed",
// "journaled" or "partial" undoes that commit, so walks over them crash at the second
// reach. Unset, Hit costs one atomic load.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env is the environment variable that arms a crash point.
const Env = "BANDERCHECK_CRASH_AT"

var (
	once  sync.Once
	armed atomic.Bool
	point string
	at    int64
	count atomic.Int64
)

// init arms the point at start, so that the line saying so comes first.
func init() { once.Do(arm) }

func arm() {
	name, n, ok := strings.Cut(os.Getenv(Env), ":")
	if !ok {
		return
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil || v < 1 {
		return
	}
	point, at = name, v
	armed.Store(true)
	// one line, so that a variable left set never kills without a word
	fmt.Fprintf(os.Stderr, "bandercheck: %s=%s is set: the process kills itself at reach %d of %q (a test's crash point; unset it to run normally)\n", Env, os.Getenv(Env), v, name)
}

// Hit marks that point name was reached, and kills the process when it is
// the armed point's Nth time.
func Hit(name string) {
	once.Do(arm)
	if !armed.Load() || name != point {
		return
	}
	if count.Add(1) == at {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
