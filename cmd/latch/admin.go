package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/server"
	"github.com/latch-auth/latch/token"
)

func migrate(ctx context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	s, err := server.OpenStore(ctx, cfg.Server()) // opening applies pending migrations
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "migrations applied:", databaseKind(cfg))
	return s.Close()
}

// withApp runs fn with latch assembled, logging to stderr; a command
// hashes once at most, in this process.
func withApp(ctx context.Context, env Env, cfg *config.Config, fn func(a *server.Server) error) error {
	sc := serverConfig(cfg, newLogger(cfg, env.Stderr))
	sc.KeepKeys = true // no command here signs a token: the data dir gets no key file
	a, err := server.New(ctx, sc)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// readPassword takes LATCH_PASSWORD or the first line of stdin.
func readPassword(env Env) (string, error) {
	pw := env.Getenv("LATCH_PASSWORD")
	if pw == "" {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			if err != nil {
				return "", fmt.Errorf("no password: set LATCH_PASSWORD or pipe it on stdin")
			}
			return "", errors.New("empty password")
		}
	}
	// The API trims the password a login sends, as SimpleJWT (a DRF
	// CharField): one set with white space around it could never log in.
	if strings.TrimSpace(pw) != pw {
		return "", errors.New("the password starts or ends with white space, which a login through the API trims (as SimpleJWT does): it could never log in")
	}
	return pw, nil
}

func oneArg(fs *flag.FlagSet, what string) (string, error) {
	if fs.NArg() != 1 {
		return "", fmt.Errorf("want exactly one %s argument", what)
	}
	return fs.Arg(0), nil
}

func createUserFlags(fs *flag.FlagSet) {
	fs.String("email", "", "email address (taken as verified: the operator vouches for it); required under LATCH_EMAIL_VERIFICATION=mandatory")
	fs.String("role", "user", "role claim (for example user, staff, admin)")
	fs.Bool("admin", false, "give the user the admin role (LATCH_ADMIN_ROLE), which may use the admin API; not with another --role")
}

// flagSet reports whether the command line gave the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// flagValue reads a flag that the command's flags function registered.
func flagValue(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

func createUser(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	username, err := oneArg(fs, "USERNAME")
	if err != nil {
		return err
	}
	role, email := flagValue(fs, "role"), flagValue(fs, "email")
	if flagValue(fs, "admin") == "true" {
		if flagSet(fs, "role") && role != adminRole(cfg) {
			return fmt.Errorf("--admin gives the role %s; it contradicts --role %s: give one of them", adminRole(cfg), role)
		}
		role = adminRole(cfg)
	}
	if email == "" && auth.EmailVerification(cfg.EmailVerification) == auth.VerifyMandatory {
		// Checked before the password is read: the user could never log in.
		return errors.New("LATCH_EMAIL_VERIFICATION=mandatory: login waits for a verified address, so a user without one could never log in: give --email (the operator vouches for it; it is taken as verified)")
	}
	pw, err := readPassword(env)
	if err != nil {
		return err
	}
	return withApp(ctx, env, cfg, func(a *server.Server) error {
		u, err := a.Auth().CreateUser(ctx, auth.NewUser{Username: username, Password: pw, Email: email, Role: role, EmailVerified: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "created user %q (id %d, role %s)\n", u.Username, u.ID, u.Role)
		return nil
	})
}

func setRole(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	if fs.NArg() != 2 {
		return errors.New("want USERNAME ROLE")
	}
	role := fs.Arg(1)
	return withApp(ctx, env, cfg, func(a *server.Server) error {
		u, err := a.Store().UserByUsername(ctx, auth.NormalizeUsername(fs.Arg(0)))
		if errors.Is(err, latch.ErrNotFound) {
			return fmt.Errorf("no user %q", fs.Arg(0))
		}
		if err != nil {
			return err
		}
		if err := a.Auth().SetRole(ctx, u.ID, role); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "role of %q is now %s; all their sessions are revoked\n", u.Username, role)
		return nil
	})
}

func userByName(ctx context.Context, a *server.Server, fs *flag.FlagSet) (*latch.User, error) {
	name, err := oneArg(fs, "USERNAME")
	if err != nil {
		return nil, err
	}
	u, err := a.Store().UserByUsername(ctx, auth.NormalizeUsername(name)) // as login finds it
	if errors.Is(err, latch.ErrNotFound) {
		return nil, fmt.Errorf("no user %q", name)
	}
	return u, err
}

func changePassword(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	pw, err := readPassword(env)
	if err != nil {
		return err
	}
	return withApp(ctx, env, cfg, func(a *server.Server) error {
		u, err := userByName(ctx, a, fs)
		if err != nil {
			return err
		}
		// The rules of signup and of a change through the API, as
		// Django's changepassword applies its validators.
		if err := a.Auth().ValidatePassword("password", pw, u); err != nil {
			return err
		}
		if err := a.Auth().SetPassword(ctx, u.ID, pw, ""); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "password changed for %q; all their sessions are revoked\n", u.Username)
		return nil
	})
}

func deactivate(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	return withApp(ctx, env, cfg, func(a *server.Server) error {
		u, err := userByName(ctx, a, fs)
		if err != nil {
			return err
		}
		if err := a.Auth().Deactivate(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deactivated %q; all their sessions are revoked\n", u.Username)
		return nil
	})
}

func revokeFlags(fs *flag.FlagSet) {
	fs.String("user", "", "revoke every session of this username")
	fs.String("session", "", "revoke this session id")
}

func revoke(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	user, session := flagValue(fs, "user"), flagValue(fs, "session")
	if (user == "") == (session == "") {
		return errors.New("give exactly one of --user or --session")
	}
	return withApp(ctx, env, cfg, func(a *server.Server) error {
		if session != "" {
			if err := a.Auth().RevokeSession(ctx, session); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "revoked session %s\n", session)
			return nil
		}
		u, err := a.Store().UserByUsername(ctx, auth.NormalizeUsername(user))
		if err != nil {
			return fmt.Errorf("user %q: %w", user, err)
		}
		if err := a.Auth().RevokeUser(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "revoked every session of %q\n", u.Username)
		return nil
	})
}

func flushExpired(ctx context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	s, err := server.OpenStore(ctx, cfg.Server())
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.PurgeExpired(ctx, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted %d expired rows\n", n)
	return nil
}

func keysFlags(fs *flag.FlagSet) {
	fs.Bool("now", false, "rotate: the new key signs from latch's next start, unpublished before (for a leaked key)")
}

func keys(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	if cfg.SigningKey != "" {
		return errors.New("LATCH_SIGNING_KEY is set: keys are managed outside the data dir")
	}
	path := filepath.Join(cfg.DataDir, "keys.json")
	switch fs.Arg(0) {
	case "list":
		set, err := token.LoadKeySet(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "signing       %s %s\n", set.Signing.Algorithm, set.Signing.ID)
		for _, k := range set.Verification {
			fmt.Fprintf(env.Stdout, "verification  %s %s\n", k.Algorithm, k.ID)
		}
		if set.Next != nil {
			when := "published from latch's next start, signing " + server.KeyPublishDelay.String() + " later"
			if !set.NextFrom.IsZero() {
				when = "published, signing from " + set.NextFrom.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(env.Stdout, "next          %s %s (%s)\n", set.Next.Algorithm, set.Next.ID, when)
		}
		return nil
	case "rotate":
		set, _, err := token.LoadOrCreateKeySet(path, cfg.Algorithm)
		if err != nil && !errors.Is(err, token.ErrAlgorithmMismatch) {
			return err
		}
		if set == nil {
			if set, err = token.LoadKeySet(path); err != nil {
				return err
			}
		}
		// The new key has the algorithm of the one it replaces, unless
		// LATCH_ALGORITHM names another on purpose: the default (HS256)
		// must not turn an RS256 deployment into an HS256 one.
		alg, was := set.Signing.Algorithm, set.Signing.Algorithm
		if cfg.Given("algorithm") {
			alg = cfg.Algorithm
		}
		// A public key goes into the JWKS before it signs: a resource
		// server that cached the JWKS would refuse its tokens until it
		// refetched. An HMAC secret is never published, and --now is for a
		// key that must stop signing at once (leaked).
		if err := set.Stage(alg); err != nil {
			return err
		}
		staged := !set.Next.Symmetric() && flagValue(fs, "now") != "true"
		if !staged {
			set.Promote()
		}
		if err := set.Save(path); err != nil {
			return err
		}
		if staged {
			fmt.Fprintf(env.Stdout, "next signing key %s %s; restart latch to publish it in /.well-known/jwks.json: it signs %s later (old keys keep verifying; --now signs with a new key from the restart)\n",
				set.Next.Algorithm, set.Next.ID, server.KeyPublishDelay)
		} else {
			fmt.Fprintf(env.Stdout, "new signing key %s %s; restart latch to use it (old keys keep verifying)\n", set.Signing.Algorithm, set.Signing.ID)
		}
		if alg != was {
			fmt.Fprintf(env.Stdout, "the algorithm changes from %s to %s: start latch with LATCH_ALGORITHM=%s\n", was, alg, alg)
		}
		return nil
	}
	return errors.New("want: latch keys list|rotate")
}
