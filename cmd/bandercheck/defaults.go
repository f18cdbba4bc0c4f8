package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
		// one text a meaning, wherever the flag appears (docs/reference.md, "Flags")
		"upstream_help":      "Upstream's base URL, the index serving /simple/ (default: the config's [mirror] master).",
		"storage_jobs_help":  "Folders listed, and files hashed on a disk, at once (more than elsewhere: each mostly waits on the disk; on S3 --s3-requests sets the pace).",
		"metadata_jobs_help": "Documents read and parsed at once on a disk (parsing takes the CPU; on S3 --s3-requests sets the pace).",
		"apply_jobs_help":    "Downloads at once (all from one upstream host, within --rate).",
		"apply_dry_run_help": "Read the plan and print how many files and bytes each action would download, delete or remove, and any guard that would refuse; change nothing.",
		"run_dry_run_help":   "Scan and plan, print the plan, then stop: apply is not run and the mirror is not changed; a later run applies this plan while it is younger than --max-plan-age.",
	}
}

// substituteVars writes each ${name} of vars into the model's texts, where
// kong would interpolate it: node help, and each value's help, default,
// enum, placeholder and environment variables. kong interpolates after
// its post-build options, and finds these names gone; it still fills in
// its own (${default}, ${env}, ${enum}) and any other variables given. The
// same text as kong's interpolation for vars without "$" in their values,
// used without "=default" (TestHelpIsKongsInterpolation), and about a
// sixth of the cost: kong interpolates every variable again for each flag.
func substituteVars(vars kong.Vars) func(*kong.Kong) error {
	return func(k *kong.Kong) error {
		pairs := make([]string, 0, 2*len(vars))
		for name, value := range vars {
			pairs = append(pairs, "${"+name+"}", value)
		}
		r := strings.NewReplacer(pairs...)
		// a Replacer copies every text it is given, a variable in it or not
		replace := func(s string) string {
			if !strings.Contains(s, "${") {
				return s
			}
			return r.Replace(s)
		}
		return kong.Visit(k.Model.Node, func(v kong.Visitable, next kong.Next) error {
			switch v := v.(type) {
			case *kong.Node:
				v.Help = replace(v.Help)
			case *kong.Value:
				v.Help, v.Default, v.Enum = replace(v.Help), replace(v.Default), replace(v.Enum)
				for i, env := range v.Tag.Envs {
					v.Tag.Envs[i] = replace(env)
				}
				if v.Flag != nil {
					v.Flag.PlaceHolder = replace(v.Flag.PlaceHolder)
				}
			}
			return next(nil)
		})
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

// negativeValue is a token that reads as a negative number or duration
// ("-1h", "-5"), not as a short flag; compiled at its first use.
var negativeValue = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-[0-9.]`) })

// signedDurations lets a duration flag take a negative value given as the
// next argument (--grace -1h, the README's example of a refused value), so
// that the flag's own check says why it is refused; kong's own mapper takes
// "-1h" for an unknown short flag.
func signedDurations() kong.Option {
	return kong.TypeMapper(reflect.TypeOf(time.Duration(0)), kong.MapperFunc(func(ctx *kong.DecodeContext, target reflect.Value) error {
		t := ctx.Scan.Pop()
		s, isString := t.Value.(string)
		if !t.IsValue() && (!isString || !negativeValue().MatchString(s)) {
			return fmt.Errorf("expected duration value but got %q (%s)", t, t.InferredType())
		}
		var d time.Duration
		switch v := t.Value.(type) {
		case string:
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				return fmt.Errorf("expected duration but got %q: %w", v, err)
			}
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			d = reflect.ValueOf(v).Convert(reflect.TypeFor[time.Duration]()).Interface().(time.Duration)
		default:
			return fmt.Errorf("expected duration but got %q", v)
		}
		target.Set(reflect.ValueOf(d))
		return nil
	}))
}
