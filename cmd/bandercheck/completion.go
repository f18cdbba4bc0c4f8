package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"

	"github.com/bandercheck/bandercheck/pipeline"
)

// CompletionCmd is completion: the shell script that completes bandercheck's
// command line. The script asks bandercheck itself (kongplete, from the kong
// model: commands, flags, enum values, files), so it never goes stale.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// completionScripts call bandercheck (found on PATH) with the line typed so
// far in COMP_LINE, as bash's complete -C does; zsh through its bash
// compatibility, fish through a function that sets COMP_LINE.
var completionScripts = map[string]string{
	"bash": `# bash completion for bandercheck: source it, or save it as
# /etc/bash_completion.d/bandercheck
complete -o default -C bandercheck bandercheck
`,
	"zsh": `# zsh completion for bandercheck: source it from ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
complete -o default -C bandercheck bandercheck
`,
	"fish": `# fish completion for bandercheck: save it as
# ~/.config/fish/completions/bandercheck.fish
function __complete_bandercheck
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    bandercheck
end
complete -f -c bandercheck -a "(__complete_bandercheck)"
`,
}

// Run implements the command.
func (c *CompletionCmd) Run(k *kong.Context) error {
	_, err := fmt.Fprint(k.Stdout, completionScripts[c.Shell])
	return err
}

// answerCompletion answers a shell's completion request (COMP_LINE set by the
// scripts above) and exits; without one it returns at once (kongplete would
// build the completion of every command first, to find there is no request).
func answerCompletion(parser *kong.Kong) {
	if os.Getenv("COMP_LINE") == "" {
		return
	}
	kongplete.Complete(parser,
		kongplete.WithPredictor("manifest", complete.PredictSet(pipeline.ManifestNames...)),
		kongplete.WithExitFunc(func(code int) { panic(exitPanic(code)) }))
}

// WritesState implements stateWriter: completion prints a script.
func (c *CompletionCmd) WritesState() bool { return false }
