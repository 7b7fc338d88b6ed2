package password_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/latch-auth/latch/password"
)

func Example() {
	// The zero Params are OWASP's argon2id recommendation.
	h, err := password.NewHasher(password.Params{})
	if err != nil {
		log.Fatal(err)
	}
	pool := password.NewPool(0, 0) // GOMAXPROCS workers
	defer pool.Close()

	// A user imported from Django, whose hash Django made with
	// PBKDF2PasswordHasher.
	stored := "pbkdf2_sha256$1000$PxaG1nEWogeDPuhwQ7FUUN$YwjlKR1UK+1S2pUO4ycdl0HFQjkEgBMDChnDQQwYT9U="
	var ok, needsRehash bool
	err = pool.Do(context.Background(), func() {
		ok, needsRehash, err = h.Verify(stored, "pässwörd ✓ 密码")
		if ok && needsRehash {
			stored, err = h.Hash("pässwörd ✓ 密码") // save it in place of the Django hash
		}
	})
	if err != nil {
		log.Fatal(err) // password.ErrBusy: answer 503 and let the client retry
	}
	fmt.Println(ok, needsRehash)

	ok, needsRehash, err = h.Verify(stored, "pässwörd ✓ 密码")
	fmt.Println(ok, needsRehash, err)

	// Output:
	// true true
	// true false <nil>
}

func ExampleHasher_Dummy() {
	h, err := password.NewHasher(password.Params{})
	if err != nil {
		log.Fatal(err)
	}
	login := func(storedHash string, found bool, pw string) bool {
		if !found {
			h.Dummy(pw) // cost the same as a wrong password
			return false
		}
		ok, _, err := h.Verify(storedHash, pw)
		return ok && err == nil
	}
	fmt.Println(login("", false, "guess"))
	// Output: false
}

func ExampleValidate() {
	for _, problem := range password.Validate("alice2024", password.UserAttributes{Username: "Alice", Email: "alice@example.com"}, 10) {
		fmt.Println(problem)
	}
	// Output:
	// The password is too similar to the username.
	// This password is too short. It must contain at least 10 characters.
}

// A program hashes in a child process by running itself as the worker:
// main checks first whether it was started as one.
func ExampleProcess() {
	if len(os.Args) > 1 && os.Args[1] == "hash-worker" {
		h, err := password.NewHasher(password.Params{})
		if err != nil {
			log.Fatal(err)
		}
		if err := password.ServeProcess(os.Stdin, os.Stdout, h, 1); err != nil {
			log.Fatal(err)
		}
		os.Exit(0)
	}

	// Path "" is this program.
	p, err := password.StartProcess(password.ProcessConfig{Args: []string{"hash-worker"}, Stderr: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	encoded, err := p.Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err) // wraps password.ErrProcess: answer 503, not 401
	}
	ok, _, err := p.Verify(encoded, "correct horse battery staple")
	fmt.Println(ok, err)
}
