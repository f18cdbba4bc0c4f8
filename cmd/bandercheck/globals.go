package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/stages"
)

// Globals are the flags every command takes.
type Globals struct {
	Mirror      stages.Location `group:"global" help:"The mirror root: a path or s3://bucket/prefix." env:"BANDERCHECK_MIRROR" placeholder:"PATH|S3-URL"`
	Config      string          `group:"global" help:"A bandersnatch.conf (mirror, S3, upstream)." env:"BANDERCHECK_CONFIG" type:"existingfile" placeholder:"FILE"`
	State       string          `group:"global" help:"State directory: manifests and checkpoints." env:"BANDERCHECK_STATE" default:"./bandercheck-state" placeholder:"DIR"`
	LogFormat   string          `group:"global" help:"Log format on stderr." enum:"text,json" default:"text" env:"BANDERCHECK_LOG_FORMAT"`
	Progress    string          `group:"global" help:"Live progress on stderr." enum:"auto,always,never" default:"auto" env:"BANDERCHECK_PROGRESS"`
	S3Endpoint  string          `group:"s3" name:"s3-endpoint" help:"S3 endpoint URL." env:"BANDERCHECK_S3_ENDPOINT" placeholder:"URL"`
	S3Region    string          `group:"s3" name:"s3-region" help:"S3 region." env:"BANDERCHECK_S3_REGION"`
	S3PathStyle *bool           `group:"s3" name:"s3-path-style" negatable:"" help:"Path-style addressing (default: IP or localhost)." env:"BANDERCHECK_S3_PATH_STYLE"`
	S3Requests  int             `group:"advanced" name:"s3-requests" help:"S3 requests in flight at once, shared by every worker." env:"BANDERCHECK_S3_REQUESTS" default:"256"`
	Partition   partition.Part  `group:"advanced" help:"Scan part K (from 0) of N (see plan --partitions)." env:"BANDERCHECK_PARTITION" placeholder:"K/N"`
	MetricsFile string          `group:"advanced" help:"Prometheus textfile metrics, written after each stage." env:"BANDERCHECK_METRICS_FILE" placeholder:"FILE"`
	ShardRows   int             `help:"Rows per shard (for tests)." hidden:"" default:"10000" env:"BANDERCHECK_SHARD_ROWS"`
	// S3MaxBackoff shortens the SDK's waits between attempts, so that a
	// test of injected S3 faults does not sleep through seconds of back-off.
	S3MaxBackoff time.Duration `name:"s3-max-backoff" help:"Longest wait between attempts of one S3 request (for tests)." hidden:"" default:"5s" env:"BANDERCHECK_S3_MAX_BACKOFF"`
}

// globalGroups are the headings of the global flags in every command's
// --help, after the command's own flags (kong prints ungrouped flags
// first). Their environment variables are said once, in the first title;
// docs/reference.md has each flag in full.
var globalGroups = kong.ExplicitGroups([]kong.Group{
	{Key: "global", Title: "Global flags (each also $BANDERCHECK_<NAME>, e.g. BANDERCHECK_S3_ENDPOINT):"},
	{Key: "s3", Title: "S3:"},
	{Key: "advanced", Title: "Advanced:"},
})

// helpValue is kong's help text of a flag, without the environment variable
// of a grouped global flag (the group's title says it once).
func helpValue(v *kong.Value) string {
	if v.Tag != nil && v.Tag.Group != "" && len(v.Tag.Envs) > 0 && strings.HasPrefix(v.Tag.Envs[0], "BANDERCHECK_") {
		return v.Help
	}
	return kong.DefaultHelpValueFormatter(v)
}

// env is the stages' Env for these flags.
func (g *Globals) env() *stages.Env {
	return &stages.Env{
		Mirror: g.Mirror, Config: g.Config, State: g.State,
		S3Endpoint: g.S3Endpoint, S3Region: g.S3Region, S3PathStyle: g.S3PathStyle != nil && *g.S3PathStyle, S3VirtualHost: g.S3PathStyle != nil && !*g.S3PathStyle, S3Requests: g.S3Requests, S3MaxBackoff: g.S3MaxBackoff, Partition: g.Partition, MetricsFile: g.MetricsFile,
		LogFormat: g.LogFormat, Progress: g.Progress, ShardRows: g.ShardRows,
		Build: versionString(),
	}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (g *Globals) Validate() error {
	if g.S3MaxBackoff <= 0 {
		return fmt.Errorf("--s3-max-backoff %s: give a positive duration", g.S3MaxBackoff)
	}
	if g.S3Requests < 1 {
		return fmt.Errorf("--s3-requests %d: give at least 1", g.S3Requests)
	}
	return nil
}
