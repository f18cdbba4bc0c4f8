package main

import (
	"fmt"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/stages"
)

// Globals are the flags every command takes.
type Globals struct {
	Mirror      stages.Location `help:"The mirror root: a path or s3://bucket/prefix." env:"BANDERCHECK_MIRROR" placeholder:"PATH|s3://bucket/prefix"`
	Config      string          `help:"A bandersnatch.conf to read the mirror, S3 and upstream settings from." env:"BANDERCHECK_CONFIG" type:"existingfile" placeholder:"FILE"`
	State       string          `help:"State directory for manifests and checkpoints." env:"BANDERCHECK_STATE" default:"./bandercheck-state" placeholder:"DIR"`
	S3Endpoint  string          `name:"s3-endpoint" help:"S3 endpoint URL." env:"BANDERCHECK_S3_ENDPOINT" placeholder:"URL"`
	S3Region    string          `name:"s3-region" help:"S3 region." env:"BANDERCHECK_S3_REGION"`
	S3PathStyle *bool           `name:"s3-path-style" negatable:"" help:"Path-style S3 addressing (http://host/bucket/key). Without either flag, an --s3-endpoint that is an IP address or localhost gets path style and any other host virtual-hosted style (bucket.host), as in boto3." env:"BANDERCHECK_S3_PATH_STYLE"`
	S3Requests  int             `name:"s3-requests" help:"S3 requests in flight at once, shared by every stage's workers; the connection pool is as large. Each waits a round trip, not the CPU: raise it for a distant endpoint, lower it when the store answers SlowDown often." env:"BANDERCHECK_S3_REQUESTS" default:"256"`
	Partition   partition.Part  `help:"Scan part K (from 0) of N of the mirror, for N machines at once (scan storage, scan metadata, run --dry-run); plan --partitions puts the parts together." env:"BANDERCHECK_PARTITION" placeholder:"K/N"`
	MetricsFile string          `help:"Write Prometheus metrics here (the textfile-collector format, replaced atomically) after every stage and at the end: stage times, manifests, the plan, what was applied, refused guards, the exit code and the last success." env:"BANDERCHECK_METRICS_FILE" placeholder:"FILE"`
	LogFormat   string          `help:"Log format on stderr." enum:"text,json" default:"text" env:"BANDERCHECK_LOG_FORMAT"`
	Progress    string          `help:"Live progress on stderr." enum:"auto,always,never" default:"auto" env:"BANDERCHECK_PROGRESS"`
	ShardRows   int             `help:"Rows per shard (for tests)." hidden:"" default:"10000" env:"BANDERCHECK_SHARD_ROWS"`
}

// env is the stages' Env for these flags.
func (g *Globals) env() *stages.Env {
	return &stages.Env{
		Mirror: g.Mirror, Config: g.Config, State: g.State,
		S3Endpoint: g.S3Endpoint, S3Region: g.S3Region, S3PathStyle: g.S3PathStyle != nil && *g.S3PathStyle, S3VirtualHost: g.S3PathStyle != nil && !*g.S3PathStyle, S3Requests: g.S3Requests, Partition: g.Partition, MetricsFile: g.MetricsFile,
		LogFormat: g.LogFormat, Progress: g.Progress, ShardRows: g.ShardRows,
	}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (g *Globals) Validate() error {
	if g.S3Requests < 1 {
		return fmt.Errorf("--s3-requests %d: give at least 1", g.S3Requests)
	}
	return nil
}
