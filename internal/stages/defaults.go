package stages

import (
	"fmt"
	"time"
)

// Defaults are the stages' option defaults, each written once. The flags of
// every command that takes an option name them (default:"${apply_jobs}";
// cmd/bandercheck hands this map to kong as its variables), and run reads the
// ones it has no flag for from here.
var Defaults = map[string]string{
	"storage_jobs":        "16",
	"metadata_jobs":       "8",
	"max_download":        "10%",
	"rehash_after":        "30d",
	"metadata_from":       "", // json, or simple when the config keeps no JSON
	"upstream_timeout":    "5m",
	"upstream_attempts":   "4",
	"grace":               "1h",
	"max_remove_projects": "1%",
	"memory":              "256MiB",
	"apply_jobs":          "8",
	"rate":                "0",
	"download_timeout":    "10m",
	"max_delete":          "10%",
	"max_plan_age":        "24h",
}

// defaultDuration is a duration from Defaults.
func defaultDuration(name string) time.Duration {
	d, err := time.ParseDuration(Defaults[name])
	if err != nil {
		panic(fmt.Sprintf("stages.Defaults[%q]: %v", name, err))
	}
	return d
}

// defaultInt is a whole number from Defaults.
func defaultInt(name string) int {
	var n int
	if _, err := fmt.Sscan(Defaults[name], &n); err != nil {
		panic(fmt.Sprintf("stages.Defaults[%q]: %v", name, err))
	}
	return n
}
