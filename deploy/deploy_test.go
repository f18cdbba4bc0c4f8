// Package deploy holds the container image and the Kubernetes example; its
// tests check that they fit together and fit bandercheck.
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/sources"
)

// decode reads a manifest into its API type, refusing any field the type
// does not have (a typo in a field name fails here, not in the cluster).
func decode(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// expand resolves $(VAR) as the kubelet does, from vars.
func expand(s string, vars map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(m string) string {
		return vars[m[2:len(m)-1]]
	})
}

// runHelp runs bandercheck with a container's arguments and environment and
// --help: the command line must parse as bandercheck's.
func runHelp(t *testing.T, c corev1.Container, vars map[string]string) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t, "./cmd/bandercheck"), append(slices.Clone(c.Args), "--help")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			cmd.Env = append(cmd.Env, e.Name+"="+expand(e.Value, vars))
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("container %s: bandercheck %s: %v\n%s", c.Name, strings.Join(c.Args, " "), err, out)
	}
}

// The Indexed Job scans partition K of N in pod K, into a state of its own
// on the shared volume, hardened; the second Job plans those states together
// and applies; the config is a bandersnatch.conf bandercheck reads.
func TestKubernetesExample(t *testing.T) {
	var cm corev1.ConfigMap
	var secret corev1.Secret
	var pvc corev1.PersistentVolumeClaim
	var scan, planApply batchv1.Job
	decode(t, "configmap.yaml", &cm)
	decode(t, "secret.yaml", &secret)
	decode(t, "pvc.yaml", &pvc)
	decode(t, "scan-job.yaml", &scan)
	decode(t, "plan-apply-job.yaml", &planApply)

	conf := filepath.Join(t.TempDir(), "bandersnatch.conf")
	if err := os.WriteFile(conf, []byte(cm.Data["bandersnatch.conf"]), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := sources.ReadConfig(conf)
	if err != nil || !c.S3 || c.Directory == "" {
		t.Fatalf("the ConfigMap's bandersnatch.conf: %+v, %v; want an S3 mirror", c, err)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("the state volume is %v: every pod mounts it, so ReadWriteMany", pvc.Spec.AccessModes)
	}

	s := scan.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
		t.Fatalf("scan job: want completionMode Indexed and completions = parallelism")
	}
	n := int(*s.Completions)
	pod := s.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("scan job: %d containers", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	env := envOf(ctr)
	if f := env["JOB_COMPLETION_INDEX"].ValueFrom; f == nil || f.FieldRef == nil || !strings.Contains(f.FieldRef.FieldPath, "job-completion-index") {
		t.Fatal("scan job: JOB_COMPLETION_INDEX must come from the completion-index annotation")
	}
	states := map[string]bool{}
	for k := range n {
		vars := map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(k)}
		p, err := partition.Parse(expand(env["BANDERCHECK_PARTITION"].Value, vars))
		if err != nil || p.K != k || p.N != n && n > 1 {
			t.Fatalf("pod %d of %d scans partition %v (%v)", k, n, p, err)
		}
		states[expand(env["BANDERCHECK_STATE"].Value, vars)] = true
		runHelp(t, ctr, vars)
	}
	if len(states) != n {
		t.Fatalf("%d pods share %d state directories: each needs its own", n, len(states))
	}
	if !slices.Contains(ctr.Args, "--dry-run") || ctr.Args[0] != "run" {
		t.Errorf("scan job runs %v: want run --dry-run (a partition cannot be planned alone)", ctr.Args)
	}

	pa := planApply.Spec.Template.Spec
	steps := append(slices.Clone(pa.InitContainers), pa.Containers...)
	var names []string
	for _, c := range steps {
		names = append(names, strings.Join(c.Args, " "))
		runHelp(t, c, nil)
	}
	want := []string{"scan upstream", "plan --partitions", "apply"}
	for i, w := range want {
		if i >= len(names) || !strings.HasPrefix(names[i], w) {
			t.Fatalf("plan-apply job runs %q, want the steps %q in order", names, want)
		}
	}
	partsDir := steps[1].Args[2]
	for st := range states {
		if filepath.Dir(st) != partsDir {
			t.Errorf("a partition writes %s, the plan reads the states in %s", st, partsDir)
		}
	}
	if planState := envOf(steps[1])["BANDERCHECK_STATE"].Value; filepath.Dir(planState+"/x") == partsDir || strings.HasPrefix(planState, partsDir+"/") {
		t.Errorf("the plan's state %s is inside the partitions' folder %s", planState, partsDir)
	}

	for name, spec := range map[string]corev1.PodSpec{"scan": pod, "plan-apply": pa} {
		if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s job: runAsNonRoot is not set", name)
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("%s job, container %s: no read-only root filesystem", name, c.Name)
			}
			if len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != secret.Name {
				t.Errorf("%s job, container %s: credentials not from Secret %s", name, c.Name, secret.Name)
			}
		}
		for _, v := range spec.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != pvc.Name,
				v.ConfigMap != nil && v.ConfigMap.Name != cm.Name:
				t.Errorf("%s job: volume %s names something this folder does not define", name, v.Name)
			}
		}
	}
}

// The Dockerfile's build is the tests' build: the same package, a static
// binary (no dynamic loader), on the Go of go.mod. A container builder
// builds the image itself when the machine has one.
func TestDockerfileBuildsTheTestedBinary(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var build, from string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			build = strings.TrimPrefix(line, "RUN ")
		}
		if strings.HasPrefix(line, "FROM golang:") {
			from = strings.Fields(line)[1]
		}
	}
	mod, _ := os.ReadFile("../go.mod")
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil || from != "golang:"+string(goLine[1]) {
		t.Errorf("the Dockerfile builds on %s, go.mod asks for Go %s", from, goLine[1])
	}
	if !strings.HasPrefix(build, "CGO_ENABLED=0 go build") || !strings.HasSuffix(build, "./cmd/bandercheck") {
		t.Fatalf("the Dockerfile builds with %q: want CGO_ENABLED=0 go build … ./cmd/bandercheck", build)
	}
	out := filepath.Join(t.TempDir(), "bandercheck")
	args := strings.Fields(strings.Replace(strings.TrimPrefix(build, "CGO_ENABLED=0 "), "/out/bandercheck", out, 1))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, o)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the image's binary is linked dynamically: it cannot run on an empty base")
		}
	}
	if o, err := exec.Command(out, "--help").CombinedOutput(); err != nil || !strings.Contains(string(o), "plan") {
		t.Fatalf("the built binary: %v\n%s", err, o)
	}
	for _, builder := range []string{"docker", "podman", "buildah"} {
		if _, err := exec.LookPath(builder); err == nil {
			t.Logf("%s is installed: build the image with %s build -t bandercheck . (not run here: it needs the base images from a registry)", builder, builder)
			return
		}
	}
	t.Log("no container builder on this machine: the image itself is not built here")
}

// The systemd units pass systemd-analyze verify (with the tests' binary in
// place of the installed one), and the service's command line parses as
// bandercheck's.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd): the units are not checked here")
	}
	bin := testutil.Binary(t, "./cmd/bandercheck")
	dir := t.TempDir()
	var execStart []string
	for _, name := range []string{"bandercheck.service", "bandercheck.timer"} {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/local/bin/bandercheck", bin)
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
				execStart = strings.Fields(rest)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "bandercheck.service"), filepath.Join(dir, "bandercheck.timer")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if len(execStart) < 2 || execStart[0] != bin {
		t.Fatalf("ExecStart %q does not run bandercheck", execStart)
	}
	conf := filepath.Join(dir, "bandersnatch.conf") // the --config named must exist
	if err := os.WriteFile(conf, []byte("[mirror]\ndirectory = /srv/pypi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := slices.Clone(execStart[1:])
	for i, a := range args {
		if a == "/etc/bandersnatch.conf" {
			args[i] = conf
		}
	}
	if o, err := exec.Command(bin, append(args, "--help")...).CombinedOutput(); err != nil {
		t.Fatalf("ExecStart's command line: %v\n%s", err, o)
	}
}
