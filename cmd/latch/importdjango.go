package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/django"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/server"
)

const importDjangoHelp = "import the users of a Django database's auth_user table (sqlite:///path/db.sqlite3 or postgres://…); " +
	"existing usernames are skipped, taken emails reported; staff and superusers get the admin role (LATCH_ADMIN_ROLE); " +
	"an address django-allauth verified (account_emailaddress, primary) is imported verified; Django hashes are kept and upgraded to argon2id at first login"

// adminRole is LATCH_ADMIN_ROLE, or its default.
func adminRole(cfg *config.Config) string {
	if cfg.AdminRole == "" {
		return "admin"
	}
	return cfg.AdminRole
}

func importDjango(ctx context.Context, env Env, cfg *config.Config, fs *flag.FlagSet) error {
	raw, err := oneArg(fs, "DJANGO_DATABASE_URL")
	if err != nil {
		return err
	}
	src, err := django.Open(ctx, raw)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := server.OpenStore(ctx, cfg.Server())
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := django.Import(ctx, src, st, adminRole(cfg), func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "latch import-django: warning: "+format+"\n", args...)
	})
	if err != nil {
		if stats.Imported > 0 {
			err = fmt.Errorf("%w (%d users were imported before the error; running the import again skips them)", err, stats.Imported)
		}
		return err
	}
	fmt.Fprintln(env.Stdout, stats)
	if auth.EmailVerification(cfg.EmailVerification) == auth.VerifyMandatory {
		// Login waits for a verified address: say who is locked out until then.
		if n := stats.Unverified(); n > 0 {
			fmt.Fprintf(env.Stderr, "latch import-django: warning: LATCH_EMAIL_VERIFICATION=mandatory: %d imported users have an address not known to be verified; they cannot log in until they verify it (POST /api/signup/resend-email/ mails them a link)\n", n)
		}
		if stats.NoEmail > 0 {
			fmt.Fprintf(env.Stderr, "latch import-django: warning: LATCH_EMAIL_VERIFICATION=mandatory: %d imported users have no address; they cannot log in until one is set (PATCH /api/admin/users/{id}/) and verified\n", stats.NoEmail)
		}
	}
	return nil
}
