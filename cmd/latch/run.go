package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/latch-auth/latch/internal/config"
)

// Env is what a command sees of its process, so tests run commands
// in-process with their own streams and environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error
	flags            func(fs *flag.FlagSet)
}

func commands() []command {
	return []command{
		{name: "serve", help: "run the HTTP server", run: serve},
		{name: "migrate", help: "apply pending database migrations and exit", run: migrate},
		{name: "createuser", args: "USERNAME", help: "create a user; the password is read from stdin (first line) or LATCH_PASSWORD", run: createUser, flags: createUserFlags},
		{name: "changepassword", args: "USERNAME", help: "set a user's password (stdin or LATCH_PASSWORD) and revoke all their sessions", run: changePassword},
		{name: "setrole", args: "USERNAME ROLE", help: "change a user's role (LATCH_ADMIN_ROLE, default admin, may use the admin API) and revoke all their sessions", run: setRole},
		{name: "deactivate", args: "USERNAME", help: "deactivate a user and revoke all their sessions at once", run: deactivate},
		{name: "revoke", help: "revoke every session of a user (--user NAME) or one session (--session ID)", run: revoke, flags: revokeFlags},
		{name: "flushexpired", help: "delete expired sessions and refresh-token records", run: flushExpired},
		{name: "import-django", args: "DJANGO_DATABASE_URL", help: importDjangoHelp, run: importDjango},
		{name: "keys", args: "list|rotate", help: "list the signing keys in the data dir, or rotate them (old keys keep verifying; a new public key is published before it signs)", run: keys, flags: keysFlags},
		{name: "hash-worker", help: "(internal) the password-hashing process latch serve starts: jobs on stdin, answers on stdout", run: hashWorker},
		{name: "version", help: "print the version", run: func(_ context.Context, env Env, _ *config.Config, _ *flag.FlagSet) error {
			fmt.Fprintln(env.Stdout, "latch", version)
			return nil
		}},
	}
}

// Run runs the command named by args[0] and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("latch "+c.name, flag.ContinueOnError)
		fs.SetOutput(env.Stderr)
		build := config.Register(fs, env.Getenv)
		if c.flags != nil {
			c.flags(fs)
		}
		fs.Usage = func() {
			fmt.Fprintf(env.Stderr, "usage: latch %s [flags] %s\n\n%s.\n\nFlags (each also a LATCH_* variable; see \"latch help\"):\n", c.name, c.args, c.help)
			fs.PrintDefaults()
		}
		if err := parseInterspersed(fs, args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		cfg, err := build()
		if err != nil {
			fmt.Fprintf(env.Stderr, "latch %s: configuration: %v\n", c.name, err)
			return 2
		}
		if err := c.run(ctx, env, cfg, fs); err != nil {
			fmt.Fprintf(env.Stderr, "latch %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(env.Stderr, "latch: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("latch: JWT authentication for HTTP APIs (SimpleJWT-compatible).\n\nusage: latch COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-15s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	b.WriteString("\nRun \"latch COMMAND --help\" for a command's flags. Settings (flag, or environment variable):\n")
	b.WriteString(config.Usage())
	fmt.Fprint(w, b.String())
}

// parseInterspersed parses flags placed before or after positional
// arguments (latch createuser alice --email a@example.com); positional
// arguments end up in order, readable with fs.Args after a final Parse.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
