package stages

import (
	"context"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/redact"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/progress"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// Env is what every stage works with: the mirror, the state directory, the
// config and where to log. cmd/bandercheck fills it from the global flags.
type Env struct {
	Mirror      Location // a path or s3://bucket/prefix; the config's [mirror] directory when zero
	Config      string   // a bandersnatch.conf, or ""
	State       string   // the state directory (StateDir is the handle on it)
	S3Endpoint  string
	S3Region    string
	S3PathStyle bool // path-style addressing; an IP or localhost endpoint implies it
	// S3VirtualHost keeps virtual-hosted addressing even for an IP or
	// localhost endpoint
	S3VirtualHost bool
	S3Requests    int // S3 requests in flight at once; s3store.DefaultRequests when 0
	// S3MaxBackoff is the longest wait between attempts of one S3 request;
	// s3store.DefaultMaxBackoff when 0 (tests shorten it)
	S3MaxBackoff time.Duration
	// Partition is the part of the mirror the scans read (the zero Part: all
	// of it); plan --partitions puts the parts together.
	Partition partition.Part
	LogFormat string    // text or json
	Progress  string    // auto, always or never
	ShardRows int       // rows per shard; pipeline.ShardRows when 0
	Stdout    io.Writer // summaries and reports; os.Stdout when nil
	Stderr    io.Writer // logs and progress; os.Stderr when nil

	// MetricsFile, when set, receives Prometheus metrics (textfile-collector
	// format) after every stage and at the end of the command.
	MetricsFile string

	// StageStarting, when set, is called by run at the start of each of its
	// stages, once what the stages before it freed has been collected and
	// returned to the system (BANDERCHECK_MEMPROFILE records there what is
	// still held).
	StageStarting func(stage string)

	// Build names this build (version, commit): rows derived from documents
	// by another build are not reused (scan metadata's fingerprint), so a
	// parser fixed in a new version reads every document once.
	Build string

	st      *pipeline.State // the handle on State, made by StateDir
	timings []stageTiming
	refused []string // the guards that refused the command
	conf    *sources.Config
	log     *slog.Logger
	// metadata is what this process's scan metadata read and reused, as
	// its caller handed it to the metrics (RecordMetadata)
	metadata *ScanMetadataResult
	// wrapStore, in tests, wraps the store the stages open (to count reads)
	wrapStore func(store.Store) store.Store
	// tuneS3, in tests, changes the options an S3 store is opened with (to
	// force multipart uploads of small objects)
	tuneS3 func(*s3store.Options)
}

// Location is a mirror root: a local path or s3://bucket/prefix, checked while parsing.
type Location struct {
	Path   string // local path, when not S3
	Bucket string
	Prefix string
}

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (l *Location) UnmarshalText(b []byte) error {
	loc, err := ParseLocation(string(b))
	*l = loc
	return err
}

// ParseLocation parses a path or s3://bucket/prefix.
func ParseLocation(s string) (Location, error) {
	if rest, ok := strings.CutPrefix(s, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("mirror %q has no bucket: write s3://bucket/prefix", s)
		}
		return Location{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
	}
	if s == "" {
		return Location{}, fmt.Errorf("mirror path is empty")
	}
	return Location{Path: s}, nil
}

// IsS3 tells whether the location is a bucket.
func (l Location) IsS3() bool { return l.Bucket != "" }

// IsZero tells whether no location was given.
func (l Location) IsZero() bool { return l.Path == "" && l.Bucket == "" }

// String implements fmt.Stringer.
func (l Location) String() string {
	if l.IsS3() {
		if l.Prefix == "" {
			return "s3://" + l.Bucket
		}
		return "s3://" + l.Bucket + "/" + l.Prefix
	}
	return l.Path
}

// StateDir is the handle on the state directory State, made on first use
// (again when State was changed since). Every stage reads and writes STATE
// through it; cmd/bandercheck locks it for the commands that write STATE.
func (g *Env) StateDir() *pipeline.State {
	if g.st == nil || g.st.Dir() != g.State {
		g.st = pipeline.NewState(g.State)
	}
	return g.st
}

// config reads --config once.
func (g *Env) config() (*sources.Config, error) {
	if g.conf != nil {
		return g.conf, nil
	}
	if g.Config == "" {
		g.conf = &sources.Config{}
		return g.conf, nil
	}
	c, err := sources.ReadConfig(g.Config)
	if err != nil {
		return nil, &pipeline.UsageError{Msg: err.Error()}
	}
	g.conf = c
	return c, nil
}

// mirror returns the mirror location from the flag or the config file.
func (g *Env) mirror() (Location, error) {
	if !g.Mirror.IsZero() {
		return g.Mirror, nil
	}
	c, err := g.config()
	if err != nil {
		return Location{}, err
	}
	if c.Directory != "" {
		loc, err := ParseLocation(c.Directory)
		if err != nil {
			return Location{}, &pipeline.UsageError{Msg: fmt.Sprintf("%s: [mirror] directory: %v", g.Config, err)}
		}
		if c.S3 && !loc.IsS3() {
			// bandersnatch's S3 backend names the bucket path as /bucket/prefix
			p := strings.Trim(c.Directory, "/")
			bucket, prefix, _ := strings.Cut(p, "/")
			loc = Location{Bucket: bucket, Prefix: prefix}
		}
		return loc, nil
	}
	return Location{}, &pipeline.UsageError{Msg: "no mirror given: pass --mirror PATH|s3://bucket/prefix, set BANDERCHECK_MIRROR, or --config a bandersnatch.conf with [mirror] directory"}
}

// openStore opens the mirror for reading.
func (g *Env) openStore(ctx context.Context) (store.Store, Location, error) {
	if _, err := g.config(); err != nil {
		return nil, Location{}, err // a bad config stops every stage before it starts
	}
	loc, err := g.mirror()
	if err != nil {
		return nil, loc, err
	}
	if !loc.IsS3() {
		st, err := posixstore.Open(loc.Path)
		if err != nil {
			return nil, loc, &pipeline.UsageError{Msg: err.Error()}
		}
		if g.wrapStore != nil {
			return g.wrapStore(st), loc, nil
		}
		return st, loc, nil
	}
	c, err := g.config()
	if err != nil {
		return nil, loc, err
	}
	opt := s3store.Options{
		Bucket: loc.Bucket, Prefix: loc.Prefix,
		Endpoint: firstOf(g.S3Endpoint, c.S3Endpoint), Region: firstOf(g.S3Region, c.S3Region),
		PathStyle: g.S3PathStyle, VirtualHost: g.S3VirtualHost, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey,
		Requests: g.S3Requests, MaxBackoff: g.S3MaxBackoff,
	}
	if g.tuneS3 != nil {
		g.tuneS3(&opt)
	}
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		return nil, loc, err
	}
	st.StageUploadsIn(filepath.Join(g.State, "tmp", "uploads"))
	return st, loc, nil
}

// closeStore closes a store the stage opened, when it has anything to close
// (an S3 store's idle connections): the stages after it in one process (run)
// do not carry them.
func closeStore(ms store.Store) {
	if c, ok := ms.(io.Closer); ok {
		c.Close() // an S3 store's Close only drops idle connections: no error
	}
}

// wholeMirror refuses --partition for a stage that works on the whole mirror.
func (g *Env) wholeMirror(stage string) error {
	if g.Partition.Whole() {
		return nil
	}
	return &pipeline.UsageError{Msg: fmt.Sprintf("%s works on the whole mirror, not on --partition %s: drop --partition here (plan --partitions STATE,... puts the scanned parts together)", stage, g.Partition)}
}

// requestWorkers is how many workers a stage that waits on its store runs:
// on S3 as many as the requests allowed in flight (--s3-requests), since each
// waits a round trip; on a disk jobs, which the CPU and the disk bound.
func requestWorkers(ms store.Reader, jobs int) int {
	if s, ok := ms.(interface{ Requests() int }); ok {
		return s.Requests()
	}
	return jobs
}

// openRun opens STATE/run.json for the mirror.
func (g *Env) openRun() (*pipeline.Run, Location, error) {
	loc, err := g.mirror()
	if err != nil {
		return nil, loc, err
	}
	r, err := g.StateDir().OpenRun(loc.String())
	return r, loc, err
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// stderrIsTerminal tells whether progress may draw on stderr.
func (g *Env) liveProgress() bool {
	switch g.Progress {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := g.stderr().(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// stageOptions are the options every stage opens with.
func (g *Env) stageOptions() pipeline.StageOptions {
	return pipeline.StageOptions{ShardRows: g.ShardRows}
}

// reporter starts progress reporting as the global flags ask.
func (g *Env) reporter(stage, unit string) progress.Reporter {
	return progress.New(progress.Options{Stage: stage, Unit: unit, Live: g.liveProgress(), JSON: g.LogFormat == "json", Out: g.stderr()})
}

// stdout is where summaries and reports go.
func (g *Env) stdout() io.Writer {
	if g.Stdout == nil {
		return os.Stdout
	}
	return g.Stdout
}

// stderr is where logs and progress go, with URL credentials redacted.
func (g *Env) stderr() io.Writer {
	if g.Stderr == nil {
		return redact.Writer(os.Stderr)
	}
	return redact.Writer(g.Stderr)
}

// logf writes one log line to stderr.
func logf(g *Env, format string, args ...any) {
	if g.log == nil {
		g.log = newLogger(progress.LogWriter(g.stderr()), g.LogFormat)
	}
	g.log.Info(fmt.Sprintf(format, args...))
}

// newLogger logs to w through slog's text or JSON handler.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
