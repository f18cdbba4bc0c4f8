package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// defaultVars are the flags' defaults as kong variables (default:"${grace}"),
// written from the stages' Default…Options so that each default lives in
// one place: the library.
func defaultVars() kong.Vars {
	s, m, u := stages.DefaultScanStorageOptions(), stages.DefaultScanMetadataOptions(), stages.DefaultScanUpstreamOptions()
	p, a, r := stages.DefaultPlanOptions(), stages.DefaultApplyOptions(), stages.DefaultReportOptions()
	return kong.Vars{
		"storage_jobs":        strconv.Itoa(s.Jobs),
		"rehash_after":        s.RehashAfter.String(),
		"metadata_jobs":       strconv.Itoa(m.Jobs),
		"metadata_from":       m.From,
		"upstream_timeout":    shortDuration(u.Timeout),
		"upstream_attempts":   strconv.Itoa(u.Attempts),
		"grace":               shortDuration(p.Grace),
		"max_remove_projects": p.MaxRemoveProjects.String(),
		"memory":              p.Memory.String(),
		"max_download":        p.MaxDownload.String(),
		"apply_jobs":          strconv.Itoa(a.Jobs),
		"rate":                strconv.FormatFloat(a.Rate, 'f', -1, 64),
		"download_timeout":    shortDuration(a.Timeout),
		"max_delete":          a.MaxDelete.String(),
		"max_plan_age":        shortDuration(a.MaxPlanAge),
		"report_out":          r.Out,
		"report_top":          strconv.Itoa(r.Top),
	}
}

// shortDuration writes a duration as a person would type it: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
